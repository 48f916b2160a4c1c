"""Convert every lesson (Jupytext percent format) to a notebook under build/notebooks/."""

from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "notebooks"

OUT.mkdir(parents=True, exist_ok=True)
lessons = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))
if not lessons:
    raise SystemExit("no lessons found in lessons/")
for index, lesson in enumerate(lessons, 1):
    notebook = jupytext.read(lesson)
    jupytext.write(notebook, OUT / f"{lesson.stem}.ipynb")
    print(f"  [{index}/{len(lessons)}] {lesson.name}")
