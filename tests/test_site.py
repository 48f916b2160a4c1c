"""Tests of the course website: lesson execution with its cache, the MkDocs hooks, the built pages.

Two sites are checked with the same tests:
- "mini": a one-lesson course built from scratch in a temporary folder (executor + mkdocs),
  so these tests run wherever the unit tests run;
- "real": this repository's site/, checked when it has been built (`make check-site` builds it).
"""

from __future__ import annotations

import html
import importlib.util
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"


def _import_script(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


execute_lessons = _import_script("execute_lessons")
check_links = _import_script("check_links")

REPO_URL = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["repo_url"].rstrip("/")
OWNER_REPO = REPO_URL.removeprefix("https://github.com/")

MINI_LESSON = '''\
# %% [markdown] slideshow={"slide_type": "slide"}
# # Tiny lesson
#
# Inline $\\bar\\alpha_t$ and display math:
#
# $$x_t = \\sqrt{\\bar\\alpha_t}\\, x_0 + \\sqrt{1 - \\bar\\alpha_t}\\, \\epsilon$$

# %%
import random
print("draw", random.random())

# %% [markdown]
# ## Exercise
#
# Add two and two.

# %% tags=["solution"]
print("answer", 2 + 2)

# %% [markdown]
# <details class="solution"><summary>Solution</summary>
#
# Four, since $2 + 2 = 4$.
#
# </details>
'''


@dataclass(frozen=True)
class Course:
    root: Path
    site: Path

    @property
    def lessons(self) -> list[Path]:
        return execute_lessons.find_lessons(self.root)


def _copy_course_skeleton(dest: Path) -> None:
    """Everything the site build reads, except the lessons."""
    shutil.copy(ROOT / "mkdocs.yml", dest)
    shutil.copy(ROOT / "requirements.lock", dest)
    shutil.copytree(ROOT / "docs", dest / "docs")
    shutil.copytree(SCRIPTS, dest / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "course_lib").symlink_to(ROOT / "course_lib")


def _execute(root: Path, capsys) -> str:
    assert execute_lessons.main(["--root", str(root)]) == 0
    return capsys.readouterr().out


def _executed(root: Path, stem: str) -> nbformat.NotebookNode:
    return nbformat.read(root / "build" / "executed" / f"{stem}.ipynb", as_version=4)


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


@pytest.fixture(scope="module")
def mini_course(tmp_path_factory) -> Course:
    root = tmp_path_factory.mktemp("course")
    _copy_course_skeleton(root)
    (root / "lessons").mkdir()
    (root / "lessons" / "01_tiny.py").write_text(MINI_LESSON)
    assert execute_lessons.main(["--root", str(root)]) == 0
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    return Course(root=root, site=root / "site")


SITE_SOURCE_SUFFIXES = {".py", ".md", ".j2", ".css", ".js", ".html", ".svg"}


def _newest_source_mtime() -> float:
    sources = [ROOT / "mkdocs.yml", *ROOT.glob("lessons/*.py"), *ROOT.glob("course_lib/**/*.py")]
    sources += [p for d in ("docs", "scripts") for p in (ROOT / d).rglob("*") if p.suffix in SITE_SOURCE_SUFFIXES]
    return max(p.stat().st_mtime for p in sources)


@pytest.fixture(scope="module")
def real_course() -> Course:
    index = ROOT / "site" / "index.html"
    if not index.is_file():
        pytest.skip("site/ is not built: `make check-site` builds it and runs these tests")
    if index.stat().st_mtime < _newest_source_mtime():
        pytest.skip("site/ is older than its sources: `make check-site` rebuilds it and runs these tests")
    return Course(root=ROOT, site=ROOT / "site")


@pytest.fixture(params=["mini_course", "real_course"])
def course(request) -> Course:
    return request.getfixturevalue(request.param)


def _page(course: Course, lesson: Path) -> str:
    return (course.site / "lessons" / lesson.stem / "index.html").read_text(encoding="utf-8")


# --- execution cache -------------------------------------------------------------------


def test_cache_reuses_outputs_when_only_prose_changes(tmp_path, capsys):
    library = tmp_path / "course_lib" / "schedules.py"  # only hashed: the kernel imports the installed course_lib
    library.parent.mkdir()
    library.write_text("BETA = 0.02\n")
    lesson = tmp_path / "lessons" / "01_tiny.py"
    lesson.parent.mkdir()
    lesson.write_text(MINI_LESSON)

    assert "executed in" in _execute(tmp_path, capsys)
    first = _executed(tmp_path, "01_tiny")
    draw = _stdout(first.cells[1])
    assert draw.startswith("draw ") and _stdout(first.cells[3]) == "answer 4\n"

    assert "cached\n" in _execute(tmp_path, capsys)

    lesson.write_text(MINI_LESSON.replace("Add two and two.", "Add two and two, please."))
    assert "cached, prose updated" in _execute(tmp_path, capsys)
    merged = _executed(tmp_path, "01_tiny")
    assert merged.cells[2].source.endswith("Add two and two, please.")
    assert _stdout(merged.cells[1]) == draw  # the random draw was not re-run

    lesson.write_text(MINI_LESSON.replace("2 + 2)", "2 + 3)"))
    assert "executed in" in _execute(tmp_path, capsys)
    rerun = _executed(tmp_path, "01_tiny")
    assert _stdout(rerun.cells[3]) == "answer 5\n"
    assert _stdout(rerun.cells[1]) != draw

    library.write_text("BETA = 0.03\n")
    assert "executed in" in _execute(tmp_path, capsys)


def test_cache_key_follows_code_library_and_mode_not_prose():
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell("x = 1")]
    )
    key = execute_lessons.cache_key(nb, "lib", fast=True)
    nb.cells[0].source = "# Another title"
    assert execute_lessons.cache_key(nb, "lib", fast=True) == key
    assert execute_lessons.cache_key(nb, "lib2", fast=True) != key
    assert execute_lessons.cache_key(nb, "lib", fast=False) != key
    nb.cells[1].source = "x = 2"
    assert execute_lessons.cache_key(nb, "lib", fast=True) != key


def test_a_failing_cell_fails_the_build(tmp_path, capsys):
    (tmp_path / "course_lib").symlink_to(ROOT / "course_lib")
    (tmp_path / "lessons").mkdir()
    (tmp_path / "lessons" / "01_broken.py").write_text("# %%\nraise ValueError('broken on purpose')\n")
    assert execute_lessons.main(["--root", str(tmp_path)]) == 1
    assert "01_broken.py" in capsys.readouterr().err
    assert not (tmp_path / "build" / "executed" / "01_broken.ipynb").exists()


# --- link checker ----------------------------------------------------------------------


def test_link_checker_reports_missing_files_and_anchors(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="a/">ok</a><a href="a/#here">ok</a><a href="https://example.org/x">external</a>'
        '<a href="missing.html">bad</a><a href="a/#nowhere">bad anchor</a><img src="img.png">'
    )
    (tmp_path / "a" / "index.html").write_text('<h2 id="here">Here</h2><a href="../index.html">up</a>')
    problems = check_links.broken_links(tmp_path)
    assert len(problems) == 3, problems
    assert any("missing.html" in p for p in problems)
    assert any("no id 'nowhere'" in p for p in problems)
    assert any("img.png" in p for p in problems)


# --- the built site (mini and real) ----------------------------------------------------


def test_every_lesson_is_in_the_navigation_in_order(course):
    home = (course.site / "index.html").read_text(encoding="utf-8")
    positions = [home.find(f'href="lessons/{lesson.stem}/"') for lesson in course.lessons]
    assert all(p >= 0 for p in positions), positions
    assert positions == sorted(positions)
    for lesson in course.lessons:
        title = execute_lessons.lesson_title(execute_lessons.read_lesson(lesson), lesson.stem)
        assert html.escape(title, quote=False) in home, title


def test_lesson_pages_show_executed_outputs(course):
    for lesson in course.lessons:
        executed = _executed(course.root, lesson.stem)
        outputs = [o for cell in executed.cells if cell.cell_type == "code" for o in cell.outputs]
        assert outputs, f"{lesson.name} has no outputs"
        assert "jp-OutputArea-output" in _page(course, lesson)


def test_colab_and_download_links_target_notebooks_the_build_produced(course):
    colab = re.compile(
        rf'href="https://colab\.research\.google\.com/github/{re.escape(OWNER_REPO)}'
        r'/blob/gh-pages/notebooks/([^"]+\.ipynb)"'
    )
    for lesson in course.lessons:
        page = _page(course, lesson)
        assert colab.findall(page) == [f"{lesson.stem}.ipynb"]
        assert f'href="../../notebooks/{lesson.stem}.ipynb" download' in page
        assert (course.site / "notebooks" / f"{lesson.stem}.ipynb").is_file()
        assert 'src="../../assets/colab-badge.svg"' in page


def test_colab_notebook_installs_course_lib_first_only_on_colab(course, monkeypatch):
    for lesson in course.lessons:
        nb = nbformat.read(course.site / "notebooks" / f"{lesson.stem}.ipynb", as_version=4)
        nbformat.validate(nb)
        assert all(cell.get("outputs", []) == [] for cell in nb.cells)
        lesson_cells = execute_lessons.read_lesson(lesson).cells
        assert [c.source for c in nb.cells[1:]] == [c.source for c in lesson_cells]

        calls = []
        monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
        monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
        exec(nb.cells[0].source, {})  # not on Colab: prints a hint, installs nothing
        assert calls == []
        monkeypatch.setitem(sys.modules, "google.colab", object())
        exec(nb.cells[0].source, {})
        assert len(calls) == 1
        assert calls[0][:4] == [sys.executable, "-m", "pip", "install"]
        assert re.fullmatch(rf"git\+{re.escape(REPO_URL)}@[0-9a-f]{{40}}|git\+{re.escape(REPO_URL)}@main", calls[0][-1])
        monkeypatch.undo()


def test_solutions_are_folded(course):
    for lesson in course.lessons:
        nb = execute_lessons.read_lesson(lesson)
        code = sum("solution" in c.metadata.get("tags", []) for c in nb.cells if c.cell_type == "code")
        prose = sum(c.source.count('<details class="solution">') for c in nb.cells if c.cell_type == "markdown")
        page = _page(course, lesson)
        assert page.count('<details class="solution solution-code">') == code
        assert page.count('<details class="solution">') == prose
        assert "<details open" not in page
        assert code + prose >= 1, f"{lesson.name} has no exercise solution"


def test_edit_link_points_to_the_lesson_source(course):
    for lesson in course.lessons:
        assert f'href="{REPO_URL}/edit/main/lessons/{lesson.name}"' in _page(course, lesson)


def test_pages_load_nothing_from_other_sites(course):
    loads = re.compile(r'<(?:script|img|iframe|source|link)\b[^>]*\b(?:src|href)="(?:https?:)?//', re.IGNORECASE)
    for page in course.site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        # <link rel="canonical"> is not a load, and Material writes none without site_url.
        assert not loads.search(text), f"{page.relative_to(course.site)} loads {loads.search(text).group(0)}"
        assert 'data-md-component="source"' not in text  # would query the GitHub API


def test_math_is_typeset_by_the_vendored_katex(course):
    for page in [course.site / "index.html", *(course.site / "lessons").rglob("index.html")]:
        text = page.read_text(encoding="utf-8")
        assert "assets/vendor/katex/katex.min.js" in text and "assets/math.js" in text
        assert "mathjax" not in text.lower()


def test_pages_show_no_machine_paths(course):
    for page in course.site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        for path in {str(course.root), str(ROOT), sys.prefix}:
            assert path not in text, f"{page.relative_to(course.site)} shows the local path {path}"


def test_no_broken_internal_links(course):
    assert check_links.broken_links(course.site) == []
