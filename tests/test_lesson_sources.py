"""The lessons' sources follow the course's conventions (docs/contributing.md): checked without running them."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

LESSONS = sorted((Path(__file__).resolve().parent.parent / "lessons").glob("[0-9][0-9]_*.py"))
# The lessons whose algorithms the learner writes, then proves equal to course_lib (CURRICULUM.md, "Show, then prove").
WRITE_IT_YOURSELF = {"03", "04", "05", "06", "07", "08", "10", "12"}
MAX_CELL_LINES = 20
# A code line wider than this is cut off in its box on the site at 1280 px (tests/test_browser.py).
MAX_CODE_LINE_CHARS = 100


def _code_cells(lesson: Path) -> list[str]:
    return [cell.source for cell in jupytext.read(lesson).cells if cell.cell_type == "code"]


def _is_solution(cell) -> bool:
    return "solution" in cell.metadata.get("tags", [])


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_no_code_cell_is_longer_than_a_screen(lesson):
    long = {i: len(src.splitlines()) for i, src in enumerate(_code_cells(lesson)) if len(src.splitlines()) > MAX_CELL_LINES}
    assert not long, f"code cells (index: lines) over {MAX_CELL_LINES} lines: {long}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_no_code_line_is_wider_than_its_box(lesson):
    wide = [
        f"cell {i}: {line.strip()[:60]}... ({len(line)} characters)"
        for i, src in enumerate(_code_cells(lesson))
        for line in src.splitlines()
        if len(line) > MAX_CODE_LINE_CHARS
    ]
    assert not wide, f"{len(wide)} code lines over {MAX_CODE_LINE_CHARS} characters: {wide[:5]}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_no_lesson_prints_course_lib_source(lesson):
    # Show, then prove: the lesson writes the algorithm; it never prints a slice of the library instead.
    source = lesson.read_text(encoding="utf-8")
    from_library = re.findall(r"^from course_lib[.\w]* import (?:\(([^)]*)\)|([^(\n]+)$)", source, re.MULTILINE)
    names = {name.strip() for groups in from_library for name in "".join(groups).split(",") if name.strip()}
    inspected = set(re.findall(r"inspect\.getsource\w*\(\s*(\w+)", source))
    assert not inspected & (names | {"course_lib"}), f"prints course_lib source: {sorted(inspected & names)}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_course_lib_is_imported_in_the_set_up_cell_only(lesson):
    cells = _code_cells(lesson)
    assert not re.search(r"^\s*import course_lib", "\n".join(cells), re.MULTILINE), "use `from course_lib... import ...`"
    later = [i for i, src in enumerate(cells[1:], start=1) if re.search(r"^\s*from course_lib", src, re.MULTILINE)]
    assert not later, f"course_lib imported outside the first code cell, in cells {later}"


@pytest.mark.parametrize("lesson", [p for p in LESSONS if p.name[:2] in WRITE_IT_YOURSELF], ids=lambda p: p.stem)
def test_each_algorithm_lesson_has_a_checked_write_it_yourself_exercise(lesson):
    cells = [c for c in jupytext.read(lesson).cells if c.cell_type == "code"]
    stubs = [c.source for c in cells if not _is_solution(c) and "raise NotImplementedError" in c.source]
    learner_checks = [c.source for c in cells if not _is_solution(c) and re.search(r"^check\(", c.source, re.MULTILINE)]
    proven = [c.source for c in cells if _is_solution(c) and "assert check(" in c.source]
    assert stubs, "no stub for the learner to fill (a function that raises NotImplementedError)"
    assert learner_checks, "no check cell after the stub (course_lib.exercises.check)"
    assert proven, "no worked solution that asserts check(...)"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_slides_only_cells_are_short_markdown(lesson):
    """A ``slides-only`` cell is a slide's short version of the prose (scripts/build_slides.py)."""
    import build_slides  # scripts/ is on pytest's pythonpath (pyproject.toml)

    for cell in jupytext.read(lesson).cells:
        if build_slides.SLIDES_ONLY in cell.metadata.get("tags", []):
            assert cell.cell_type == "markdown", f"a slides-only code cell: {cell.source[:60]!r}"
            words = build_slides.prose_words(cell.source)
            assert words <= build_slides.MAX_SLIDE_WORDS, f"slides-only cell of {words} words: {cell.source[:60]!r}"
