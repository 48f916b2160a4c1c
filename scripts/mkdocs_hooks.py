"""MkDocs hooks that put the lessons on the site (listed under `hooks:` in mkdocs.yml).

The lessons stay in lessons/; scripts/execute_lessons.py executes them into
build/executed/NN_topic.ipynb first. These hooks then
- add each executed notebook to the site as the page lessons/NN_topic/, rendered by
  mkdocs-jupyter, and list the pages under "Lessons" in the navigation in file order,
  titled by each lesson's first heading;
- add notebooks/NN_topic.ipynb, the unexecuted lesson with a first cell that installs the
  course library on Colab (scripts/colab_notebooks.py), and slides/NN_topic.slides.html,
  the lesson as a reveal.js deck (scripts/build_slides.py), and put "Open in Colab",
  "Download notebook" and "Slides" links on each lesson page;
- render the lesson map on the home page in place of the `<!-- lesson-map -->` marker, with
  each lesson's own "**Estimated time:** N minutes";
- point "Edit this page" on a lesson page to lessons/NN_topic.py;
- write the notebook styles and the copy button's script once, as assets/notebook/, instead
  of inlining them in every lesson page (docs/overrides/main.html links them);
- make each lesson page's table of contents from its rendered headings (code words kept),
  (the template keeps code cells and outputs out of the search index: results show prose).

mkdocs-jupyter has no option for its template: the hooks replace the exporter class that its
nb2html() uses, for the versions in SUPPORTED_MKDOCS_JUPYTER only, and check on every
lesson page that the course template rendered it; anything else stops the build.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import mkdocs_jupyter
import mkdocs_jupyter.nbconvert2
import nbformat
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import get_toc
from mkdocs.utils import get_relative_url
from mkdocs_jupyter.plugin import NotebookFile
from nbconvert.exporters.html import HTMLExporter

from build_slides import render_deck
from colab_notebooks import colab_notebook, colab_url, git_ref
from execute_lessons import find_lessons, lesson_title, read_lesson

log = logging.getLogger("mkdocs.hooks.lessons")

SCRIPTS = Path(__file__).resolve().parent
TEMPLATES = SCRIPTS / "templates"
LESSON_MAP_MARKER = "<!-- lesson-map -->"
NAV_SECTION = "Lessons"
ESTIMATED_TIME = re.compile(r"\*\*Estimated time:\*\*\s*(\d+)\s*min", re.IGNORECASE)
# Versions whose nb2html() builds its exporter from the module global HTMLExporter (checked below).
SUPPORTED_MKDOCS_JUPYTER = ("0.25.", "0.26.")
TEMPLATE_MARKER = "<!-- course-notebook-template -->"  # written by course_notebook.html.j2
NOTEBOOK_ASSETS = "assets/notebook"  # the shared notebook styles and script
# mkdocs-jupyter appends the notebook's pygments styles to each page, as a printed Python list.
TRAILING_STYLE = re.compile(r"\s*<style>\s*\[.*?\]\s*</style>\s*$", re.DOTALL)
HEADING = re.compile(r'<h([1-6])\b[^>]*\bid="([^"]+)"[^>]*>(.*?)</h\1>', re.DOTALL)


class CourseHTMLExporter(HTMLExporter):
    """mkdocs-jupyter's exporter with the course template (scripts/templates/course_notebook.html.j2)."""

    def __init__(self, **kwargs):
        kwargs["template_file"] = "course_notebook.html.j2"
        kwargs["extra_template_paths"] = [str(TEMPLATES), *kwargs.get("extra_template_paths", [])]
        super().__init__(**kwargs)


def _use_course_template() -> None:
    """Make mkdocs-jupyter render notebooks with CourseHTMLExporter, or stop the build if it cannot."""
    version = mkdocs_jupyter.__version__
    module = mkdocs_jupyter.nbconvert2
    code = getattr(getattr(module, "nb2html", None), "__code__", None)
    uses_global = code is not None and "HTMLExporter" in code.co_names
    if not version.startswith(SUPPORTED_MKDOCS_JUPYTER) or not uses_global:
        raise PluginError(
            f"mkdocs-jupyter {version} is not one that scripts/mkdocs_hooks.py knows how to give the course "
            f"template to (it knows {', '.join(v + 'x' for v in SUPPORTED_MKDOCS_JUPYTER)}): install the version "
            "of requirements.lock, or adapt _use_course_template() to the new version"
        )
    if module.HTMLExporter not in (HTMLExporter, CourseHTMLExporter):
        raise PluginError(f"mkdocs_jupyter.nbconvert2.HTMLExporter is {module.HTMLExporter!r}, not nbconvert's")
    module.HTMLExporter = CourseHTMLExporter


@dataclass(frozen=True)
class Lesson:
    stem: str  # "05_ddpm_training"
    title: str
    source: Path  # lessons/05_ddpm_training.py
    executed: Path  # build/executed/05_ddpm_training.ipynb
    estimated_minutes: int | None  # the lesson's own "**Estimated time:** N minutes"
    run_seconds: float

    @property
    def page_uri(self) -> str:
        return f"lessons/{self.stem}.ipynb"

    @property
    def notebook_uri(self) -> str:
        return f"notebooks/{self.stem}.ipynb"

    @property
    def slides_uri(self) -> str:
        return f"slides/{self.stem}.slides.html"


@dataclass(frozen=True)
class Site:
    lessons: list[Lesson]
    repo_url: str
    owner_repo: str  # "owner/name"
    git_ref: str  # commit (or branch) that the Colab notebooks install course_lib from


_site: Site | None = None


def _load_lesson(root: Path, source: Path) -> Lesson:
    executed = root / "build" / "executed" / f"{source.stem}.ipynb"
    if not executed.is_file():
        raise PluginError(f"{executed.relative_to(root)} is missing: run `make site` (it executes the lessons first)")
    nb = nbformat.read(executed, as_version=4)
    if [(c.cell_type, c.source) for c in nb.cells] != [(c.cell_type, c.source) for c in read_lesson(source).cells]:
        log.warning(f"{executed.relative_to(root)} is older than {source.relative_to(root)}: run `make site`")
    estimate = next((m for c in nb.cells if c.cell_type == "markdown" and (m := ESTIMATED_TIME.search(c.source))), None)
    if estimate is None:
        log.warning(f"{source.relative_to(root)} says no '**Estimated time:** N minutes' for the home page's lesson map")
    return Lesson(
        stem=source.stem,
        title=lesson_title(nb, fallback=source.stem),
        source=source,
        executed=executed,
        estimated_minutes=int(estimate.group(1)) if estimate else None,
        run_seconds=nb.metadata.get("course_build", {}).get("seconds", float("nan")),
    )


def _nav_title(lesson: Lesson) -> str:
    if re.match(r"(lesson\s*)?\d", lesson.title, re.IGNORECASE):
        return lesson.title
    return f"{int(lesson.stem[:2])}. {lesson.title}"


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    global _site
    _use_course_template()
    root = Path(config.config_file_path).resolve().parent
    sources = find_lessons(root)
    if not sources:
        raise PluginError("no lessons found in lessons/")
    lessons = [_load_lesson(root, source) for source in sources]

    sections = [item for item in config.nav or [] if isinstance(item, dict) and NAV_SECTION in item]
    if len(sections) != 1:
        raise PluginError(f"mkdocs.yml nav needs exactly one '{NAV_SECTION}' section for the lessons to go in")
    sections[0][NAV_SECTION] = [{_nav_title(lesson): lesson.page_uri} for lesson in lessons]

    if not config.repo_url or not config.edit_uri:
        raise PluginError("mkdocs.yml must set repo_url and edit_uri")
    repo_url = config.repo_url.rstrip("/")
    _site = Site(
        lessons=lessons,
        repo_url=repo_url,
        owner_repo=urlsplit(repo_url).path.strip("/"),
        git_ref=git_ref(root),
    )
    config.repo_name = _site.owner_repo  # shown in the header

    # mkdocs-jupyter caches rendered pages by notebook content only: key its cache folder on
    # the template and these hooks too, so that changing either re-renders every lesson.
    renderer = hashlib.sha256()
    for path in [*sorted(TEMPLATES.rglob("*.j2")), Path(__file__)]:
        renderer.update(path.read_bytes())
    jupyter = config.plugins["mkdocs-jupyter"]
    jupyter.config["cache_dir"] = str(root / "build" / "mkdocs-jupyter" / renderer.hexdigest()[:16])
    return config


@event_priority(-50)  # after mkdocs-jupyter's on_files: the lesson pages are wrapped here instead
def on_files(files: Files, config: MkDocsConfig) -> Files:
    requirement = f"git+{_site.repo_url}@{_site.git_ref}"
    for lesson in _site.lessons:
        page = NotebookFile(File.generated(config, lesson.page_uri, abs_src_path=str(lesson.executed)), **config)
        page.abs_src_path = str(lesson.executed)  # NotebookFile does not forward this attribute
        page.edit_uri = f"../lessons/{lesson.source.name}"  # "Edit this page": relative to docs/
        files.append(page)
        files.append(File.generated(config, lesson.notebook_uri, content=colab_notebook(lesson.source, requirement)))
        files.append(File.generated(config, lesson.slides_uri, content=_deck(lesson, config)))
    for name, content in _notebook_assets().items():
        files.append(File.generated(config, f"{NOTEBOOK_ASSETS}/{name}", content=content))
    return files


def _notebook_assets() -> dict[str, str]:
    """The styles and script that mkdocs-jupyter's template inlines in every page, as two files.

    notebook.css: the pygments colours of the code (class .highlight-ipynb), then JupyterLab's
    styles (with their dark variant) and light theme from mkdocs-jupyter, as that template writes
    them, and dark code colours for Material's dark theme.
    """
    from pygments.formatters import HtmlFormatter

    assets = Path(mkdocs_jupyter.__file__).parent / "templates" / "mkdocs_html" / "assets"
    css = [  # in the page's order: the pygments colours first, so that the dark theme overrides them
        "/* Generated by scripts/mkdocs_hooks.py from mkdocs-jupyter's notebook styles. */",
        HtmlFormatter(style="default").get_style_defs(".highlight-ipynb"),
        (assets / "index.css").read_text(encoding="utf-8"),
        (assets / "theme-light.css").read_text(encoding="utf-8"),
        # Material's dark theme gets dark code colours (mkdocs-jupyter's page has light ones only).
        HtmlFormatter(style="github-dark").get_style_defs("[data-md-color-scheme=slate] .jupyter-wrapper .highlight-ipynb"),
    ]
    return {"notebook.css": "\n".join(css), "clipboard.js": (assets / "clipboard.umd.js").read_text(encoding="utf-8")}


def _deck(lesson: Lesson, config: MkDocsConfig) -> str:
    """The lesson's slide deck, rendered again only when the notebook or the renderer changed."""
    assets = get_relative_url("assets", lesson.slides_uri)
    page = get_relative_url(f"lessons/{lesson.stem}/", lesson.slides_uri)
    key = hashlib.sha256(lesson.executed.read_bytes())
    key.update(f"{lesson.title}\0{assets}\0{page}\0".encode())
    for path in [*sorted((TEMPLATES / "course_slides").rglob("*")), SCRIPTS / "build_slides.py"]:
        key.update(path.read_bytes())
    folder = Path(config.config_file_path).resolve().parent / "build" / "slides"
    cache = folder / f"{lesson.stem}.{key.hexdigest()[:16]}.html"
    if not cache.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob(f"{lesson.stem}.*.html"):
            stale.unlink()
        nb = nbformat.read(lesson.executed, as_version=4)
        cache.write_text(render_deck(nb, lesson.title, assets, page), encoding="utf-8")
    return cache.read_text(encoding="utf-8")


def _lesson_of(page: Page) -> Lesson | None:
    return next((lesson for lesson in _site.lessons if lesson.page_uri == page.file.src_uri), None)


def _lesson_map(page: Page) -> str:
    rows = [
        '<div class="lesson-map" markdown>',
        "",
        "| | Lesson | Time | Runs in (fast mode) |",
        "|---:|---|---|---|",
    ]
    for lesson in _site.lessons:
        link = get_relative_url(lesson.page_uri, page.file.src_uri)
        run = f"{lesson.run_seconds:.0f} s" if lesson.run_seconds == lesson.run_seconds else "not measured"
        time = f"{lesson.estimated_minutes} min" if lesson.estimated_minutes else "not given"
        title = lesson.title.replace("|", r"\|")
        rows.append(f"| {int(lesson.stem[:2])} | [{title}]({link}) | {time} | {run} |")
    return "\n".join([*rows, "", "</div>"])


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if LESSON_MAP_MARKER in markdown:
        markdown = markdown.replace(LESSON_MAP_MARKER, _lesson_map(page))
    return markdown


def _toc_from_headings(html: str):
    """The table of contents of a rendered page: its headings h1-h6, nested by level, text as shown.

    mkdocs-jupyter makes it from a Markdown copy of the notebook without code, so "## The
    `diffusers` library" became "The library", linked to an id the page does not have.
    """
    root: list[dict] = []
    stack: list[tuple[int, list]] = [(0, root)]
    for level, heading_id, inner in HEADING.findall(html):
        inner = re.sub(r'<a class="(?:anchor-link|headerlink)".*?</a>', "", inner, flags=re.DOTALL)
        text = html_lib.unescape(re.sub(r"<[^>]+>", "", inner)).replace("¶", "").strip()
        token = {"level": int(level), "id": heading_id, "name": html_lib.escape(text, quote=False), "children": []}
        while stack[-1][0] >= int(level):
            stack.pop()
        stack[-1][1].append(token)
        stack.append((int(level), token["children"]))
    return get_toc(root)


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    lesson = _lesson_of(page)
    if lesson is None:
        return html
    if TEMPLATE_MARKER not in html:
        raise PluginError(
            f"{page.file.src_uri} was not rendered by scripts/templates/course_notebook.html.j2: "
            f"mkdocs-jupyter {mkdocs_jupyter.__version__} no longer takes its exporter from the hooks"
        )
    html = TRAILING_STYLE.sub("", html)
    # nbconvert's heading permalinks as Material's: shown on hover, and left out of search titles.
    html = html.replace('<a class="anchor-link" href="#', '<a class="headerlink" href="#')
    page.toc = _toc_from_headings(html)
    page.meta["notebook_assets"] = True  # docs/overrides/main.html links assets/notebook/
    colab = colab_url(_site.repo_url, lesson.notebook_uri)
    badge = get_relative_url("assets/colab-badge.svg", page.url)
    download = get_relative_url(lesson.notebook_uri, page.url)
    slides = get_relative_url(lesson.slides_uri, page.url)
    links = (
        '<p class="lesson-links">'
        f'<a class="colab-link" href="{colab}"><img src="{badge}" alt="Open in Colab" width="117" height="20"></a> '
        f'<a class="md-button download-link" href="{download}" download>Download notebook</a> '
        f'<a class="md-button slides-link" href="{slides}">Slides</a>'
        "</p>\n"
    )
    return links + html
