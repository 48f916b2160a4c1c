"""Convert every lesson (Jupytext percent format) to a notebook under build/notebooks/, for nbmake.

    COURSE_FAST=1 python scripts/build_notebooks.py   # what `make test` does before nbmake

Each notebook is stamped with the key that execute_lessons.py gives the lesson's outputs in
the mode of COURSE_FAST (so run this with the COURSE_FAST that nbmake will see). Once
`pytest --nbmake --overwrite` has run a notebook to the end, the site build takes its
outputs instead of executing the lesson a second time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from course_lib.config import FAST  # course_lib.config is the one place that reads COURSE_FAST
from execute_lessons import ROOT, TESTED, cache_key, find_lessons, library_hash, read_lesson


def build_notebooks(root: Path, fast: bool) -> list[Path]:
    """Write ``root/build/notebooks/<stem>.ipynb`` for every lesson, without outputs; return their paths."""
    out_dir = root / TESTED
    out_dir.mkdir(parents=True, exist_ok=True)
    lessons = find_lessons(root)
    notebooks = [out_dir / f"{lesson.stem}.ipynb" for lesson in lessons]
    for stale in set(out_dir.glob("*.ipynb")) - set(notebooks):  # lessons renamed or removed
        stale.unlink()
    lib_hash = library_hash(root)
    for lesson, notebook in zip(lessons, notebooks):
        nb = read_lesson(lesson)
        nb.metadata["course_build"] = {"key": cache_key(nb, lib_hash, fast), "fast": fast}
        notebook.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return notebooks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="course root (default: this repository)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    notebooks = build_notebooks(root, FAST)
    if not notebooks:
        print("no lessons found in lessons/", file=sys.stderr)
        return 1
    for index, notebook in enumerate(notebooks, 1):
        print(f"  [{index}/{len(notebooks)}] {notebook.relative_to(root)} ({'fast' if FAST else 'full'} mode)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
