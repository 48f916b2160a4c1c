"""Render an executed lesson as a reveal.js slide deck (site/slides/NN_topic.slides.html).

The MkDocs hooks call `render_deck` for every lesson; the deck is the executed notebook
exported by nbconvert's slides exporter with the course template
(scripts/templates/course_slides/), which loads reveal.js, KaTeX and the course theme from
the site itself: a deck works offline. Slide breaks come from each cell's
`slideshow.slide_type` metadata (Jupytext: `# %% [markdown] slideshow={"slide_type": "slide"}`).

Solutions are left out of the decks: a code cell tagged `solution`, and a markdown cell
tagged `solution` or holding a `<details class="solution">` block. A code cell longer than
CODE_LINES lines shows its code folded ("Code (N lines)"), so that its output fits the slide.
A "## References" list is paged, REFERENCES_PER_SLIDE entries a slide, so that it stays
readable on a projector. A line `<!-- subslide -->` in a markdown cell (also as `> <!-- subslide -->`
inside a quotation) starts a new slide there on the deck only; the page shows the cell whole.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
from nbconvert.exporters import SlidesExporter

TEMPLATES = Path(__file__).resolve().parent / "templates"

STARTS = ("slide", "subslide")
CODE_LINES = 10
REFERENCES_PER_SLIDE = 6
SUBSLIDE_MARKER = "<!-- subslide -->"


def is_solution(cell: nbformat.NotebookNode) -> bool:
    """Whether ``cell`` is an exercise's worked solution (the site folds it, the decks leave it out)."""
    if "solution" in cell.metadata.get("tags", []):
        return True
    return cell.cell_type == "markdown" and '<details class="solution"' in cell.source


def without_solutions(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose solution cells are skipped on the slides.

    A skipped cell that started a slide hands the start on to the next shown cell, so that
    the slide break stays where the author put it.
    """
    nb = copy.deepcopy(nb)
    pending = None  # a slide start left by a skipped solution cell
    for cell in nb.cells:
        show = cell.metadata.setdefault("slideshow", {})
        kind = show.get("slide_type", "-")
        if is_solution(cell):
            if kind in STARTS and pending is None:
                pending = kind
            show["slide_type"] = "skip"
        elif kind != "skip" and pending is not None:
            if kind not in STARTS:
                show["slide_type"] = pending
            pending = None
    return nb


def _cut(cell: nbformat.NotebookNode, sources: list[str], first_kind: str | None) -> list[nbformat.NotebookNode]:
    """Copies of markdown ``cell``, one per source; the first starts a ``first_kind`` slide (None: as before), the rest subslides."""
    parts = []
    for number, source in enumerate(sources, start=1):
        part = copy.deepcopy(cell)
        if "id" in part:  # cell ids must stay unique
            part.id = f"{cell.id}-{number}"
        part.source = source
        kind = first_kind if number == 1 else "subslide"
        if kind is not None:
            part.metadata.setdefault("slideshow", {})["slide_type"] = kind
        parts.append(part)
    return parts


def paged_references(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose "## References" cell starts a slide and is split into REFERENCES_PER_SLIDE entries a slide.

    An entry is a top-level list item ("- " at the start of a line) with its continuation lines.
    """
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        lines = cell.source.splitlines()
        if cell.cell_type != "markdown" or not lines or lines[0].strip() != "## References":
            cells.append(cell)
            continue
        preamble: list[str] = []  # any text between the heading and the list stays on the first page
        entries: list[list[str]] = []
        for line in lines[1:]:
            if line.startswith("- "):
                entries.append([line])
            elif entries:
                entries[-1].append(line)
            else:
                preamble.append(line)
        pages = [entries[i : i + REFERENCES_PER_SLIDE] for i in range(0, len(entries), REFERENCES_PER_SLIDE)] or [[]]
        sources = []
        for number, page in enumerate(pages, start=1):
            heading = "## References" if len(pages) == 1 else f"## References ({number}/{len(pages)})"
            body = (preamble if number == 1 else [""]) + [line for entry in page for line in entry]
            sources.append("\n".join([heading, *body]).rstrip())
        cells += _cut(cell, sources, first_kind="slide")
    nb.cells = cells
    return nb


def _is_marker(line: str) -> bool:
    return line.lstrip("> ").strip() == SUBSLIDE_MARKER


def split_at_markers(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose markdown cells are cut at each SUBSLIDE_MARKER line, each part after the first a subslide."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        lines = cell.source.splitlines()
        if cell.cell_type != "markdown" or not any(_is_marker(line) for line in lines):
            cells.append(cell)
            continue
        parts: list[list[str]] = [[]]
        for line in lines:
            if _is_marker(line):
                parts.append([])
            else:
                parts[-1].append(line)
        cells += _cut(cell, ["\n".join(part_lines).strip("\n") for part_lines in parts], first_kind=None)
    nb.cells = cells
    return nb


def deck_cells(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The cells of the deck: ``nb`` without its solutions, cut at the subslide markers, with its References paged."""
    return paged_references(split_at_markers(without_solutions(nb)))


def render_deck(nb: nbformat.NotebookNode, title: str, assets: str, page: str) -> str:
    """The deck of an executed lesson as one HTML document.

    Args:
        nb: the executed lesson (build/executed/NN_topic.ipynb), outputs included.
        title: the lesson's title, for the browser tab.
        assets: URL of the site's assets/ folder relative to the deck ("../assets").
        page: URL of the lesson page relative to the deck, for the "Lesson page" link.
    """
    exporter = SlidesExporter(
        template_name="course_slides",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    course = {"title": title, "assets": assets, "page": page, "code_lines": CODE_LINES}
    resources = {"course": course, "metadata": {"name": title}}
    body, _ = exporter.from_notebook_node(deck_cells(nb), resources=resources)
    # A lesson links another as "../../lessons/NN_topic/", relative to its page (lessons/NN_topic/);
    # the deck sits one folder up from there (slides/).
    return body.replace('href="../../lessons/', 'href="../lessons/')
