#!/usr/bin/env bash
# Train every shipped model at once, each in its own process writing to its own output folder
# (a GPU machine has the cores for it), then install them on purpose: copy the weights into
# course_lib/weights and merge the manifests there (`train` itself never writes into the package).
# Usage: scripts/train_parallel.sh [--device cuda]
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
# Recipes that load other shipped models (lesson 12's UNet loads its VAE and text encoder) train
# in a second wave, after the first wave is installed, so that they ship with what they trained on.
first=$($python -c "from course_lib.pretrained import RECIPES; print(' '.join(n for n, r in RECIPES.items() if not r.after))")
second=$($python -c "from course_lib.pretrained import RECIPES; print(' '.join(n for n, r in RECIPES.items() if r.after))")
work=$(mktemp -d)
train_and_install() {
  for name in "$@"; do
    ($python -m course_lib train --model "$name" --out "$work/$name" "${args[@]}" 2>&1 | tr '\r' '\n' \
       | grep -v 'it/s' > "$work/$name.log" || { echo "$name failed:"; tail -5 "$work/$name.log"; exit 1; }) &
  done
  wait
  mkdir -p course_lib/weights
  for name in "$@"; do cp "$work/$name/$name.pt" course_lib/weights/; grep -- "-> " "$work/$name.log"; done
  $python - "$work" "$@" <<'PY'
import sys
from pathlib import Path
from course_lib.checkpoints import WEIGHTS_DIR, read_manifest, write_manifest
from course_lib.pretrained import RECIPES
work, names = Path(sys.argv[1]), sys.argv[2:]
path = WEIGHTS_DIR / "manifest.json"
entries = read_manifest(path) if path.is_file() else {}
entries = {n: e for n, e in entries.items() if n in RECIPES}  # recipes that no longer exist drop out
entries.update({n: read_manifest(work / n / "manifest.json")[n] for n in names})
write_manifest(path, entries)
PY
}
args=("$@")
train_and_install $first
[ -z "$second" ] || train_and_install $second
rm -rf "$work"
