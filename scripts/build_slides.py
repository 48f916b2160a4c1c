"""Render an executed lesson as a reveal.js slide deck (site/slides/NN_topic.slides.html).

The MkDocs hooks call `render_deck` for every lesson; the deck is the executed notebook
exported by nbconvert's slides exporter with the course template
(scripts/templates/course_slides/), which loads reveal.js, KaTeX and the course theme from
the site itself: a deck works offline. Slide breaks come from each cell's
`slideshow.slide_type` metadata (Jupytext: `# %% [markdown] slideshow={"slide_type": "slide"}`).

Solutions are left out of the decks: a code cell tagged `solution`, and a markdown cell
tagged `solution` or holding a `<details class="solution">` block. A code cell longer than
CODE_LINES lines, or one longer than FIGURE_CODE_LINES that draws a figure, shows its code folded
("Code (N lines)"), so that its output fits the slide.
A "## References" list is paged, as many entries a slide as fit in MAX_SLIDE_WORDS words (at
least one), so that it stays readable on a projector. A line `<!-- subslide -->` in a markdown cell (also as `> <!-- subslide -->`
inside a quotation) starts a new slide there on the deck only; the page shows the cell whole.

A deck is a talk, not the page. Cells marked in the lesson decide what each shows:
- a markdown cell tagged `slides-only` is the slide's short version of the prose: the deck
  shows it, the page and the notebooks leave it out;
- a cell with `slide_type` "skip" is on the page only; one with "notes" is the speaker notes
  (reveal.js: press S) of the slide it follows, and reads as prose on the page.
What the author did not mark is shortened here: a slide shows at most MAX_SLIDE_WORDS words of
prose (its heading, then the blocks that fit, a long paragraph cut after a sentence), and the
rest of the cell goes to the slide's speaker notes; a slide without a heading gets the heading
of the section it continues.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
from nbconvert.exporters import SlidesExporter

TEMPLATES = Path(__file__).resolve().parent / "templates"

STARTS = ("slide", "subslide")
HIDDEN = ("skip", "notes")  # kinds of cell that a slide does not show
SLIDES_ONLY = "slides-only"  # the tag of a markdown cell that only the deck shows
CODE_LINES = 10
FIGURE_CODE_LINES = 4  # a cell that draws a figure shows longer code folded: the figure gets the room
MAX_SLIDE_CODE_LINES = 12  # of code shown on one slide, all its cells together
MAX_SLIDE_WORDS = 60  # of prose on one slide: a room reads that much while listening
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


def _kind(cell: nbformat.NotebookNode) -> str:
    return cell.metadata.get("slideshow", {}).get("slide_type", "-")


def _set_kind(cell: nbformat.NotebookNode, kind: str) -> None:
    cell.metadata.setdefault("slideshow", {})["slide_type"] = kind


def for_page(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without its ``slides-only`` cells: the lesson as the page and the notebooks show it."""
    nb = copy.deepcopy(nb)
    nb.cells = [cell for cell in nb.cells if SLIDES_ONLY not in cell.metadata.get("tags", [])]
    return nb


# --- prose on a slide ------------------------------------------------------------------------

HEADING_LINE = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_NOT_PROSE = [
    re.compile(r"```.*?```", re.DOTALL),  # fenced code
    re.compile(r"\$\$.*?\$\$", re.DOTALL),  # display math
    re.compile(r"\$[^$\n]+\$"),  # inline math
    re.compile(r"`[^`\n]+`"),  # inline code
    re.compile(r"<!--.*?-->", re.DOTALL),  # comments
    re.compile(r"<[^>\n]+>"),  # HTML tags (their text stays)
    re.compile(r"\]\([^)\s]*\)"),  # link targets (their text stays)
    re.compile(r"^ {0,3}#{1,6}\s.*$", re.MULTILINE),  # headings
]
WORD = re.compile(r"[A-Za-z0-9][\w'’-]*")  # scripts/site_browser.py counts the words of a slide alike


def prose_words(markdown: str) -> int:
    """Words of prose in ``markdown`` as a slide shows them: headings, math, code, tags and link targets left out."""
    for pattern in _NOT_PROSE:
        markdown = pattern.sub(" ", markdown)
    return len(WORD.findall(markdown))


def _blocks(markdown: str) -> list[str]:
    """``markdown`` cut into blocks at blank lines (never inside fenced code or display math), each heading its own block."""
    blocks: list[list[str]] = [[]]
    fenced = display = False
    for line in markdown.splitlines():
        if HEADING_LINE.match(line) and not (fenced or display):
            blocks += [[line], []]
            continue
        if not line.strip() and not (fenced or display):
            blocks.append([])
            continue
        blocks[-1].append(line)
        fenced ^= line.lstrip().startswith("```")
        display ^= line.count("$$") % 2 == 1
    return ["\n".join(block) for block in blocks if block]


LIST_ITEM = re.compile(r"^([-*+]|\d+[.)])\s")


def _lead(block: str, budget: int) -> str:
    """The start of ``block`` that fits in ``budget`` words: of a list its first items, of a paragraph
    its first sentences (then "…"); "" if not even one fits, and for a table, quotation, HTML or math."""
    if LIST_ITEM.match(block):
        units, joiner, more = re.split(r"\n(?=(?:[-*+]|\d+[.)])\s)", block), "\n", ""
    elif block.lstrip()[:1] in ("|", ">", "<", "$"):
        return ""
    else:
        units, joiner, more = re.split(r"(?<=[.!?])\s+(?=[A-Z])", block), " ", " …"
    lead: list[str] = []
    for unit in units:
        if prose_words(joiner.join([*lead, unit])) > budget:
            break
        lead.append(unit)
    return joiner.join(lead) + more if lead else ""


def prose_to_notes(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose slides show at most MAX_SLIDE_WORDS words of prose each.

    A markdown cell keeps its headings and the blocks that fit (of a long paragraph, the sentences
    that fit); the rest of the cell, whole, follows it as a speaker-notes cell. A cell that keeps
    nothing becomes notes, and a slide start it held passes to the next shown cell.
    """
    nb = copy.deepcopy(nb)
    cells: list[nbformat.NotebookNode] = []
    words, pending = 0, None
    for cell in nb.cells:
        kind = _kind(cell)
        if kind in STARTS:
            words = 0
        if kind in HIDDEN:
            cells.append(cell)
            continue
        if pending is not None:
            _set_kind(cell, kind if kind in STARTS else pending)
            kind, pending = _kind(cell), None
        if cell.cell_type != "markdown":
            cells.append(cell)
            continue
        shown: list[str] = []
        noted: list[str] = []
        for block in _blocks(cell.source):
            count = prose_words(block)
            if not noted and words + count <= MAX_SLIDE_WORDS:
                shown.append(block)
                words += count
                continue
            if not noted and (lead := _lead(block, MAX_SLIDE_WORDS - words)):
                shown.append(lead)
                words = MAX_SLIDE_WORDS
            noted.append(block)
        if not noted:
            cells.append(cell)
            continue
        notes = copy.deepcopy(cell)
        notes.source = "\n\n".join(noted)
        _set_kind(notes, "notes")
        if "id" in notes:
            notes.id = f"{cell.id}-notes"
        if shown:
            cell.source = "\n\n".join(shown)
            cells += [cell, notes]
        else:
            pending = kind if kind in STARTS else None
            cells.append(notes)
    nb.cells = cells
    return nb


def _slides(nb: nbformat.NotebookNode) -> list[list[int]]:
    """Indices of the shown cells of each slide of ``nb``, in order."""
    slides: list[list[int]] = []
    for index, cell in enumerate(nb.cells):
        kind = _kind(cell)
        if kind in HIDDEN:
            continue
        if kind in STARTS or not slides:
            slides.append([])
        slides[-1].append(index)
    return slides


def _headings(cell: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """(level, text) of the markdown headings of ``cell``."""
    if cell.cell_type != "markdown":
        return []
    return [(len(match.group(1)), match.group(2)) for line in cell.source.splitlines() if (match := HEADING_LINE.match(line))]


def headed_slides(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` in which every slide has a heading: one without gets "### Section (continued)",
    after the last heading (of level 1 to 3) before it, shown or not."""
    nb = copy.deepcopy(nb)
    inserts: dict[int, nbformat.NotebookNode] = {}
    section = None
    slides = {slide[0]: slide for slide in _slides(nb)}
    for index, cell in enumerate(nb.cells):
        if index in slides and not any(_headings(nb.cells[i]) for i in slides[index]) and section:
            heading = nbformat.v4.new_markdown_cell(f"### {section} (continued)")
            heading.id = f"continued-{index}"
            _set_kind(heading, _kind(cell) if _kind(cell) in STARTS else "slide")
            _set_kind(cell, "-")
            inserts[index] = heading
        for level, text in _headings(cell):
            if level <= 3 and not is_solution(cell):
                section = text.removesuffix(" (continued)")
    nb.cells = [new for index, cell in enumerate(nb.cells) for new in ([inserts[index]] if index in inserts else []) + [cell]]
    return nb


def fold_code(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose code cells of more than CODE_LINES lines, or of more than FIGURE_CODE_LINES
    that draw a figure, are marked ``deck_fold``: the deck shows their code folded. Where a slide would
    still show more than MAX_SLIDE_CODE_LINES lines, its longest shown cells are folded too."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            lines = len(cell.source.splitlines())
            draws = any("image/png" in output.get("data", {}) for output in cell.get("outputs", []))
            cell.metadata["deck_fold"] = lines > CODE_LINES or (draws and lines > FIGURE_CODE_LINES)
    for slide in _slides(nb):
        shown = [nb.cells[i] for i in slide if nb.cells[i].cell_type == "code" and not nb.cells[i].metadata["deck_fold"]]
        for cell in sorted(shown, key=lambda c: len(c.source.splitlines()), reverse=True):
            if sum(len(c.source.splitlines()) for c in shown if not c.metadata["deck_fold"]) <= MAX_SLIDE_CODE_LINES:
                break
            cell.metadata["deck_fold"] = True
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
    """A copy of ``nb`` whose "## References" cell starts a slide and is paged, MAX_SLIDE_WORDS words of entries a slide.

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
        pages: list[list[list[str]]] = [[]]
        words = prose_words("\n".join(preamble))
        for entry in entries:
            count = prose_words("\n".join(entry))
            if pages[-1] and words + count > MAX_SLIDE_WORDS:
                pages.append([])
                words = 0
            pages[-1].append(entry)
            words += count
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
    """A copy of ``nb`` whose markdown cells are cut at each SUBSLIDE_MARKER line, each part after the first a subslide.

    In speaker notes and page-only cells, which no slide shows, the markers are only taken out.
    """
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        lines = cell.source.splitlines()
        if cell.cell_type != "markdown" or not any(_is_marker(line) for line in lines):
            cells.append(cell)
            continue
        if _kind(cell) in HIDDEN:
            cell.source = "\n".join(line for line in lines if not _is_marker(line))
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
    """The cells of the deck: ``nb`` without its solutions, cut at the subslide markers, its References paged,
    at most MAX_SLIDE_WORDS words of prose a slide (the rest in the speaker notes), every slide headed, long
    code folded."""
    return fold_code(headed_slides(prose_to_notes(paged_references(split_at_markers(without_solutions(nb))))))


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
    course = {"title": title, "assets": assets, "page": page}
    resources = {"course": course, "metadata": {"name": title}}
    body, _ = exporter.from_notebook_node(deck_cells(nb), resources=resources)
    # A lesson links another as "../../lessons/NN_topic/", relative to its page (lessons/NN_topic/);
    # the deck sits one folder up from there (slides/).
    return body.replace('href="../../lessons/', 'href="../lessons/')
