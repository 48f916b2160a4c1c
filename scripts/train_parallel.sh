#!/usr/bin/env bash
# Train every shipped model at once, each in its own process writing to its own output folder
# (a GPU machine has the cores for it), then install them on purpose: copy the weights into
# course_lib/weights and merge the manifests there (`train` itself never writes into the package).
# Usage: scripts/train_parallel.sh [--device cuda]
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
names=$($python -c "from course_lib.pretrained import RECIPES; print(' '.join(RECIPES))")
work=$(mktemp -d)
for name in $names; do
  ($python -m course_lib train --model "$name" --out "$work/$name" "$@" 2>&1 | tr '\r' '\n' \
     | grep -v 'it/s' > "$work/$name.log" || { echo "$name failed:"; tail -5 "$work/$name.log"; exit 1; }) &
done
wait
mkdir -p course_lib/weights
for name in $names; do cp "$work/$name/$name.pt" course_lib/weights/; grep -- "-> " "$work/$name.log"; done
$python - "$work" $names <<'PY'
import sys
from pathlib import Path
from course_lib.checkpoints import WEIGHTS_DIR, read_manifest, write_manifest
work, names = Path(sys.argv[1]), sys.argv[2:]
entries = {n: read_manifest(work / n / "manifest.json")[n] for n in names}
write_manifest(WEIGHTS_DIR / "manifest.json", entries)
PY
rm -rf "$work"
