"""Tests of the course website: lesson execution with its cache, the MkDocs hooks, the built pages.

Two sites are checked with the same tests:
- "mini": a one-lesson course built from scratch in a temporary folder (executor + mkdocs),
  so these tests run wherever the unit tests run;
- "real": this repository's site/, checked when it has been built (`make check-site` builds it).
"""

from __future__ import annotations

import html
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup

from course_lib.config import FAST

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"


# scripts/ is on pytest's pythonpath (pyproject.toml): the build scripts import one another by name.
import build_notebooks  # noqa: E402
import build_slides  # noqa: E402
import check_links  # noqa: E402
import colab_notebooks  # noqa: E402
import execute_lessons  # noqa: E402
import page_weight  # noqa: E402

REPO_URL = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["repo_url"].rstrip("/")
OWNER_REPO = REPO_URL.removeprefix("https://github.com/")

MINI_LESSON = '''\
# %% [markdown] slideshow={"slide_type": "slide"}
# # Tiny lesson
#
# **Estimated time:** 5 minutes.
#
# Inline $\\bar\\alpha_t$ and display math:
#
# $$x_t = \\sqrt{\\bar\\alpha_t}\\, x_0 + \\sqrt{1 - \\bar\\alpha_t}\\, \\epsilon$$

# %%
import random
print("draw", random.random())

# %% [markdown] slideshow={"slide_type": "notes"}
# Speaker notes: the draw differs on every run.

# %% [markdown] tags=["slides-only"]
# A slide-only summary of the tiny lesson.

# %% [markdown]
# ## Exercise with `print`
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

# %% [markdown] tags=["solution"]
# A solution in prose tagged `solution`, without its own fold: the page folds it.

# %% [markdown]
# ## 3. Training a `UNet`
#
# A figure, and a progress bar on stderr.

# %%
import sys
from course_lib.plotting import plot_losses
print(" 50%|█████     | 1/2 [00:01<00:01,  1.00it/s]", file=sys.stderr)
plot_losses([3.0, 2.0, 1.0], smooth=1, title="Tiny loss");
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
    assert draw.startswith("draw ") and _stdout(first.cells[5]) == "answer 4\n"

    assert "cached\n" in _execute(tmp_path, capsys)

    lesson.write_text(MINI_LESSON.replace("Add two and two.", "Add two and two, please."))
    assert "cached, prose updated" in _execute(tmp_path, capsys)
    merged = _executed(tmp_path, "01_tiny")
    assert merged.cells[4].source.endswith("Add two and two, please.")
    assert _stdout(merged.cells[1]) == draw  # the random draw was not re-run

    lesson.write_text(MINI_LESSON.replace("2 + 2)", "2 + 3)"))
    assert "executed in" in _execute(tmp_path, capsys)
    rerun = _executed(tmp_path, "01_tiny")
    assert _stdout(rerun.cells[5]) == "answer 5\n"
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


# --- outputs taken from the nbmake run (`make test`) -------------------------------------

TESTED_LESSON = """\
# %% [markdown]
# # Tested lesson

# %%
import os, random, sys
for step in range(3):
    print(f"\\rstep {step}", end="", flush=True)
print()
print("warning", file=sys.stderr)
print("draw", random.random())

# %%
failure = os.environ.get("TESTED_LESSON_FAILS", "")
if failure == "error":
    raise ValueError("failing on purpose")
if failure == "timeout":
    import time
    time.sleep(60)
print("done")
"""


def _tested_course(root: Path) -> Path:
    """A one-lesson course built for nbmake; return the lesson's notebook in build/notebooks/."""
    library = root / "course_lib" / "schedules.py"  # only hashed: the kernel imports the installed course_lib
    library.parent.mkdir()
    library.write_text("BETA = 0.02\n")
    (root / "lessons").mkdir()
    (root / "lessons" / "01_tiny.py").write_text(TESTED_LESSON)
    assert build_notebooks.main(["--root", str(root)]) == 0
    return root / "build" / "notebooks" / "01_tiny.ipynb"


def _nbmake(notebook: Path, *options: str, **env: str) -> subprocess.CompletedProcess:
    """``pytest --nbmake --overwrite`` on one notebook, as `make test-lessons` runs it."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbmake", "--overwrite", "-p", "no:cacheprovider", *options, str(notebook)],
        cwd=notebook.parent,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )


def _draw(cell) -> str:
    return re.search(r"draw \S+", _stdout(cell)).group()


def test_build_notebooks_stamps_the_key_of_the_mode_it_runs_in(tmp_path):
    stale = tmp_path / "build" / "notebooks" / "00_renamed.ipynb"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    notebook = _tested_course(tmp_path)
    assert not stale.exists()
    lesson = execute_lessons.read_lesson(tmp_path / "lessons" / "01_tiny.py")
    lib_hash = execute_lessons.library_hash(tmp_path)
    stamp = nbformat.read(notebook, as_version=4).metadata["course_build"]
    assert stamp == {"key": execute_lessons.cache_key(lesson, lib_hash, FAST), "fast": FAST}

    # The mode comes from COURSE_FAST, as nbmake's kernels see it.
    other = subprocess.run(
        [sys.executable, str(SCRIPTS / "build_notebooks.py"), "--root", str(tmp_path)],
        env={**os.environ, "COURSE_FAST": "0" if FAST else "1"},
        capture_output=True,
        text=True,
    )
    assert other.returncode == 0, other.stderr
    stamp = nbformat.read(notebook, as_version=4).metadata["course_build"]
    assert stamp == {"key": execute_lessons.cache_key(lesson, lib_hash, not FAST), "fast": not FAST}


def test_site_takes_the_outputs_of_a_passed_nbmake_run_in_its_mode(tmp_path, capsys):
    notebook = _tested_course(tmp_path)
    run = _nbmake(notebook)
    assert run.returncode == 0, run.stdout
    tested = nbformat.read(notebook, as_version=4)

    # A site built in the other mode does not take them: it executes the lesson.
    other_mode = tmp_path / "other_mode"
    other_mode.mkdir()
    lesson = tmp_path / "lessons" / "01_tiny.py"
    lib_hash = execute_lessons.library_hash(tmp_path)
    done = execute_lessons.build_lesson(lesson, other_mode, notebook.parent, lib_hash, not FAST, timeout=60)
    assert done.startswith("executed in")
    executed = nbformat.read(other_mode / "01_tiny.ipynb", as_version=4)

    out = _execute(tmp_path, capsys)
    assert "01_tiny.py: taken from the nbmake run" in out
    taken = _executed(tmp_path, "01_tiny")
    assert _draw(taken.cells[1]) == _draw(tested.cells[1]) != _draw(executed.cells[1])  # not re-run
    assert taken.metadata["course_build"]["key"] == execute_lessons.cache_key(taken, lib_hash, FAST)
    assert taken.metadata["course_build"]["seconds"] >= 0

    # The page shows what executing the lesson shows: same cells, outputs drawn the same way.
    outputs = [output.get("name", output.output_type) for output in taken.cells[1].outputs]
    assert outputs == ["stdout", "stderr"]
    assert _stdout(taken.cells[1]) == f"step 2\n{_draw(taken.cells[1])}\nwarning\n"
    for nb in (taken, executed):
        nb.cells[1].outputs[0].text = nb.cells[1].outputs[0].text.replace(_draw(nb.cells[1]), "draw")
        del nb.metadata["course_build"]
    assert nbformat.writes(taken) == nbformat.writes(executed)

    assert "01_tiny.py: cached" in _execute(tmp_path, capsys)


@pytest.mark.parametrize("failure", ["error", "timeout"])
def test_site_executes_a_lesson_whose_nbmake_run_failed(tmp_path, capsys, failure):
    notebook = _tested_course(tmp_path)
    run = _nbmake(notebook, "--nbmake-timeout=1", TESTED_LESSON_FAILS=failure)
    assert run.returncode == 1, run.stdout
    tested = nbformat.read(notebook, as_version=4)
    assert all(cell.execution_count is not None for cell in tested.cells[1:])  # counts alone would not tell

    out = _execute(tmp_path, capsys)
    assert "01_tiny.py: executed in" in out
    assert _stdout(_executed(tmp_path, "01_tiny").cells[2]) == "done\n"


def test_ran_to_completion_allows_expected_errors_and_blank_cells():
    def cell(source: str, tags: tuple[str, ...] = (), error: bool = False):
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)})
        cell.metadata["execution"] = {"shell.execute_reply": "2024-01-01T00:00:01.000000Z"}
        if error:
            cell.outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="", traceback=[])]
        return cell

    blank = nbformat.v4.new_code_cell("  \n")  # nbclient does not run it
    expected = cell("raise ValueError", tags=("raises-exception",), error=True)
    assert execute_lessons.ran_to_completion(nbformat.v4.new_notebook(cells=[cell("x = 1"), blank, expected]))
    assert not execute_lessons.ran_to_completion(nbformat.v4.new_notebook(cells=[cell("raise ValueError", error=True)]))
    unrun = nbformat.v4.new_code_cell("x = 2")  # as build_notebooks.py writes it
    assert not execute_lessons.ran_to_completion(nbformat.v4.new_notebook(cells=[cell("x = 1"), unrun]))
    timed_out = cell("time.sleep(60)")  # started, never replied, and no error output came
    del timed_out.metadata["execution"]["shell.execute_reply"]
    assert not execute_lessons.ran_to_completion(nbformat.v4.new_notebook(cells=[cell("x = 1"), timed_out]))


def test_coalesce_streams_draws_the_final_state_of_each_line():
    stream = nbformat.v4.new_output
    outputs = [
        stream("stream", name="stderr", text="progress\r"),
        stream("stream", name="stdout", text="\rstep 0"),
        stream("stream", name="stdout", text="\rstep 1\n"),
        nbformat.v4.new_output("display_data", data={"text/plain": "figure"}),
        stream("stream", name="stdout", text="loss 0.5\rloss 0.25\n"),
        stream("stream", name="stderr", text=" 100%\n"),
    ]
    coalesced = execute_lessons.coalesce_streams(outputs)
    assert [(o.get("name", o.output_type), o.get("text")) for o in coalesced] == [
        ("stdout", "step 1\nloss 0.25\n"),  # stdout before stderr when they are adjacent
        ("stderr", " 100%\n"),
        ("display_data", None),
    ]


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
        lesson_cells = build_slides.for_page(execute_lessons.read_lesson(lesson)).cells  # no slides-only cell
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
        assert re.fullmatch(rf"(course_lib\[diffusers\] @ )?git\+{re.escape(REPO_URL)}@([0-9a-f]{{40}}|main)", calls[0][-1])
        # Lessons that import diffusers or transformers install them with the extra (Colab's torch stays).
        uses = r"^\s*(from|import) (diffusers|transformers)\b|find_spec\(\s*[\"'](diffusers|transformers)"
        imports_them = re.search(uses, lesson.read_text(), re.M) is not None
        assert calls[0][-1].startswith("course_lib[diffusers] @ ") == imports_them
        assert imports_them or lesson.stem != "12_stable_diffusion"
        monkeypatch.undo()


def _solution_cells(nb: nbformat.NotebookNode) -> list:
    return [c for c in nb.cells if build_slides.is_solution(c)]


def test_every_solution_renders_inside_a_fold(course):
    # Issue 14: ten prose solutions rendered under their folded code, in plain view.
    for lesson in course.lessons:
        nb = execute_lessons.read_lesson(lesson)
        soup = BeautifulSoup(_page(course, lesson), "html.parser")
        folds = soup.select("details.solution")
        assert len(folds) == len(_solution_cells(nb)), lesson.name
        assert len(soup.select("details.solution-code")) == sum(c.cell_type == "code" for c in _solution_cells(nb))
        assert "<details open" not in str(soup)
        assert folds, f"{lesson.name} has no exercise solution"
        for fold in folds:
            assert fold.find("summary") is not None, lesson.name
        # Each prose solution's first words lie inside a fold (compared as letters only: math is typeset in the browser).
        folded_words = _words(" ".join(fold.get_text(" ", strip=True) for fold in folds))
        for cell in _solution_cells(nb):
            if cell.cell_type == "markdown":
                first = _words(re.sub(r"<[^>]+>", " ", cell.source))[:8]
                assert first and " ".join(first) in " ".join(folded_words), (lesson.name, first)


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z]+", " ", text.lower()).split()


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


def _toc(page: str) -> list[tuple[str, str]]:
    """(href, text) of each entry of a page's table of contents."""
    toc = BeautifulSoup(page, "html.parser").select_one('nav.md-nav--secondary, [data-md-component="toc"]')
    return [(a["href"], a.get_text(" ", strip=True)) for a in toc.select("a.md-nav__link")]


def test_table_of_contents_keeps_code_words_and_links_headings(mini_course):
    page = _page(mini_course, mini_course.lessons[0])
    assert 'id="exercise-with-print"' in page
    # Markdown's slugs and titles drop inline code: "exercise-with", "3. Training a".
    assert _toc(page) == [("#exercise-with-print", "Exercise with print"), ("#3-training-a-unet", "3. Training a UNet")]


def test_lesson_pages_link_the_shared_notebook_styles_instead_of_inlining_them(course):
    styles = course.site / "assets" / "notebook" / "notebook.css"
    assert styles.stat().st_size > 100_000 and ".jupyter-wrapper" in styles.read_text(encoding="utf-8")
    assert (course.site / "assets" / "notebook" / "clipboard.js").is_file()
    for lesson in course.lessons:
        soup = BeautifulSoup(_page(course, lesson), "html.parser")
        links = [link["href"] for link in soup.select('link[rel="stylesheet"]')]
        assert "../../assets/notebook/notebook.css" in links and "../../assets/lesson.css" in links, lesson.name
        inline = sum(len(style.get_text()) for style in soup.select("style"))
        assert inline < 20_000, f"{lesson.name}: {inline} characters of inline styles"
        assert not soup.select(".jp-InputPrompt, .jp-OutputPrompt"), f"{lesson.name} shows In/Out prompts"
    home = BeautifulSoup((course.site / "index.html").read_text(encoding="utf-8"), "html.parser")
    assert not [link for link in home.select('link[rel="stylesheet"]') if "notebook" in link["href"]]


def test_figures_have_alt_text_from_their_titles(course):
    for lesson in course.lessons:
        nb = _executed(course.root, lesson.stem)
        outputs = [o.get("metadata", {}).get("image/png", {}) for c in nb.cells for o in c.get("outputs", [])]
        described = [m for m in outputs if "alt" in m]
        soup = BeautifulSoup(_page(course, lesson), "html.parser")
        images = soup.select(".jp-OutputArea-output img")
        assert "No description has been provided" not in str(soup), lesson.name
        assert all(img.get("alt") for img in images), f"{lesson.name}: a figure without alt text"
        assert {m["alt"] for m in described} <= {img["alt"] for img in images}, lesson.name
        assert len(soup.select("img[data-text-px]")) == sum(bool(m.get("text_px")) for m in described), lesson.name
    if course.root != ROOT:  # the mini lesson's one figure
        (image,) = BeautifulSoup(_page(course, course.lessons[0]), "html.parser").select(".jp-OutputArea-output img")
        assert image["alt"] == 'Figure: plot "Tiny loss" of loss against training step.'
        assert float(image["data-text-px"]) == pytest.approx(11 * 100 / 72, abs=0.1)


def test_progress_bars_are_not_shown_as_errors(mini_course):
    soup = BeautifulSoup(_page(mini_course, mini_course.lessons[0]), "html.parser")
    bars = soup.select(".course-progress")
    assert len(bars) == 1 and "50%|" in bars[0].get_text()
    assert not soup.select('[data-mime-type="application/vnd.jupyter.stderr"]')


def test_search_index_holds_the_prose_not_the_code(mini_course):
    import json

    index = json.loads((mini_course.site / "search" / "search_index.json").read_text(encoding="utf-8"))
    lesson = " ".join(d["text"] for d in index["docs"] if d["location"].startswith("lessons/01_tiny/"))
    assert "Add two and two" in lesson and "A figure, and a progress bar" in lesson
    assert "import random" not in lesson and "draw 0." not in lesson and "plot_losses" not in lesson


def test_home_page_gives_each_lessons_own_estimated_time(mini_course):
    home = BeautifulSoup((mini_course.site / "index.html").read_text(encoding="utf-8"), "html.parser")
    row = next(tr for tr in home.select(".lesson-map tr") if tr.find("a"))
    assert [td.get_text(strip=True) for td in row.select("td")][2] == "5 min"  # "**Estimated time:** 5 minutes."


def test_hooks_refuse_an_unknown_mkdocs_jupyter(monkeypatch):
    import mkdocs_jupyter
    from mkdocs.exceptions import PluginError

    import mkdocs_hooks as hooks
    hooks._use_course_template()  # the installed version: accepted
    assert mkdocs_jupyter.nbconvert2.HTMLExporter is hooks.CourseHTMLExporter
    monkeypatch.setattr(mkdocs_jupyter, "__version__", "9.0.0")
    with pytest.raises(PluginError, match="9.0.0"):
        hooks._use_course_template()


# --- slide decks -----------------------------------------------------------------------


def _deck(course: Course, lesson: Path) -> str:
    return (course.site / "slides" / f"{lesson.stem}.slides.html").read_text(encoding="utf-8")


def test_every_lesson_has_a_slide_deck_linked_from_its_page(course):
    for lesson in course.lessons:
        assert f'href="../../slides/{lesson.stem}.slides.html"' in _page(course, lesson)
        deck = _deck(course, lesson)
        title = execute_lessons.lesson_title(execute_lessons.read_lesson(lesson), lesson.stem)
        assert f"<title>{html.escape(title)} (slides)</title>" in deck
        assert f'href="../lessons/{lesson.stem}/"' in deck  # back to the lesson page


def test_decks_load_reveal_and_katex_from_the_site(course):
    for lesson in course.lessons:
        deck = _deck(course, lesson)
        for script in ["vendor/reveal.js/dist/reveal.js", "vendor/katex/katex.min.js", "slides.js"]:
            assert f'<script src="../assets/{script}">' in deck
        # nbconvert's own template loads these; figures are base64, so the names are long ones
        for banned in ["MathJax", "require.js", "jquery", "unpkg.com", "cdnjs", "jsdelivr", "googleapis"]:
            assert banned not in deck, f"{lesson.stem} deck mentions {banned}"


def test_decks_show_outputs_and_leave_solutions_out(course):
    for lesson in course.lessons:
        deck = _deck(course, lesson)
        assert '<details class="solution' not in deck
        assert "<section" in deck and "jp-OutputArea-output" in deck


def test_mini_deck_slides(mini_course):
    deck = _deck(mini_course, mini_course.lessons[0])
    assert "draw " in deck  # the executed output of the code cell
    assert "answer" not in deck and "Four, since" not in deck  # the two solutions
    soup = BeautifulSoup(deck, "html.parser")
    (figure,) = soup.select(".jp-OutputArea-output img")
    assert figure["alt"] == 'Figure: plot "Tiny loss" of loss against training step.'
    assert figure["data-text-px"]  # slides.js and the browser test size figures by it
    (notes,) = soup.select("aside.notes")
    assert "Speaker notes: the draw differs" in notes.text
    assert "A slide-only summary" in deck
    page = _page(mini_course, mini_course.lessons[0])
    assert "Speaker notes: the draw differs" in page and "A slide-only summary" not in page


def test_a_solution_that_starts_a_slide_hands_the_start_on():
    cells = [
        nbformat.v4.new_markdown_cell("## A", metadata={"slideshow": {"slide_type": "slide"}}),
        nbformat.v4.new_code_cell("answer = 4", metadata={"tags": ["solution"], "slideshow": {"slide_type": "slide"}}),
        nbformat.v4.new_code_cell("setup()", metadata={"slideshow": {"slide_type": "skip"}}),
        nbformat.v4.new_markdown_cell("## B"),
        nbformat.v4.new_markdown_cell("more of B"),
    ]
    nb = build_slides.without_solutions(nbformat.v4.new_notebook(cells=cells))
    kinds = [c.metadata["slideshow"].get("slide_type", "-") for c in nb.cells]
    assert kinds == ["slide", "skip", "skip", "slide", "-"]
    assert cells[1].metadata["slideshow"]["slide_type"] == "slide"  # the input is not changed


def test_a_subslide_marker_cuts_a_cell_on_the_deck_only():
    quote = "> **Policy**\n>\n> 1. one\n> 2. two\n> <!-- subslide -->\n> 3. three\n> 4. four"
    cells = [nbformat.v4.new_markdown_cell("## Policy", metadata={"slideshow": {"slide_type": "slide"}}),
             nbformat.v4.new_markdown_cell(quote)]
    nb = build_slides.deck_cells(nbformat.v4.new_notebook(cells=cells))
    assert [c.source for c in nb.cells] == ["## Policy", "> **Policy**\n>\n> 1. one\n> 2. two",
                                            "### Policy (continued)", "> 3. three\n> 4. four"]
    assert [c.metadata.get("slideshow", {}).get("slide_type", "-") for c in nb.cells] == ["slide", "-", "subslide", "-"]
    assert len({c.id for c in nb.cells}) == 4  # ids stay unique
    assert cells[1].source == quote  # the page's notebook is not changed
    deck = build_slides.render_deck(nbformat.v4.new_notebook(cells=cells), "Policy", "../assets", "../policy/")
    assert "subslide" not in deck.replace("slide_type", "")  # the marker itself is not shown
    # In speaker notes the marker starts no slide: the notes stay whole, without it.
    cells[1].metadata["slideshow"] = {"slide_type": "notes"}
    nb = build_slides.split_at_markers(nbformat.v4.new_notebook(cells=cells))
    assert [c.source for c in nb.cells] == ["## Policy", quote.replace("> <!-- subslide -->\n", "")]
    assert build_slides._kind(nb.cells[1]) == "notes"


def test_references_are_paged_on_the_decks_without_losing_an_entry():
    entries = [f"- Author {i} (20{i:02d}). *Title {i}, a paper of ten words.*\n  [arXiv:{i}](https://arxiv.org/abs/{i})"
               for i in range(6)]  # 12 words each ("arXiv", "0"; the link target is not shown)
    source = "## References\n\nFurther reading:\n\n" + "\n".join(entries)
    cells = [
        nbformat.v4.new_markdown_cell("## Summary\n\n- one", metadata={"slideshow": {"slide_type": "slide"}}),
        nbformat.v4.new_markdown_cell(source),  # no slide break of its own: References still start one
    ]
    assert build_slides.prose_words(entries[0]) == 12
    nb = build_slides.paged_references(nbformat.v4.new_notebook(cells=cells))
    pages = nb.cells[1:]
    assert [c.source.splitlines()[0] for c in pages] == ["## References (1/2)", "## References (2/2)"]
    assert [c.metadata["slideshow"]["slide_type"] for c in pages] == ["slide", "subslide"]
    assert "Further reading:" in pages[0].source and "Further reading:" not in pages[1].source
    shown = "\n".join(c.source for c in pages)
    assert all(entry in shown for entry in entries)  # every entry, continuation lines included
    assert pages[0].source.count("\n- ") == 4 and pages[1].source.count("\n- ") == 2  # 2 + 4 x 12 words <= 60
    assert nb.cells[0].source == cells[0].source and cells[1].source == source  # the input is not changed


def _kinds(nb):
    return [build_slides._kind(c) for c in nb.cells]


def _sentences(n, start=0):
    """n distinct words as sentences of five: "W0 W1 W2 W3 W4. W5 ..." """
    words = [f"W{i}" for i in range(start, start + n)]
    return " ".join(w + ("." if (i + 1) % 5 == 0 else "") for i, w in enumerate(words))


def test_prose_words_counts_what_a_slide_shows():
    markdown = "## A heading\n\nThe $x_t$ and `add_noise` of [the paper](https://arxiv.org/abs/1) <b>here</b>.\n\n$$y = 1$$"
    assert build_slides.prose_words(markdown) == 6  # The, and, of, the, paper, here


def test_a_long_cell_keeps_what_fits_and_its_rest_goes_to_the_speaker_notes():
    source = f"## Idea\n\n{_sentences(40)}\n\n{_sentences(30, 40)}\n\n- item one\n- item two"
    cells = [nbformat.v4.new_markdown_cell(source, metadata={"slideshow": {"slide_type": "slide"}}),
             nbformat.v4.new_code_cell("x = 1")]
    nb = build_slides.prose_to_notes(nbformat.v4.new_notebook(cells=cells))
    assert _kinds(nb) == ["slide", "notes", "-"]
    shown, notes = nb.cells[0].source, nb.cells[1].source
    # The heading, the first paragraph, and of the second the sentences that fit (4 of 6: 60 words).
    assert shown == f"## Idea\n\n{_sentences(40)}\n\n{_sentences(20, 40)} …"
    assert build_slides.prose_words(shown) == 60
    assert notes == f"{_sentences(30, 40)}\n\n- item one\n- item two"  # nothing lost: the cut paragraph whole, then the rest
    assert cells[0].source == source  # the page's notebook is not changed


def test_prose_is_counted_per_slide_and_a_list_is_cut_between_items():
    items = "\n".join(f"- {_sentences(10, 100 + 10 * i)}" for i in range(4))
    cells = [nbformat.v4.new_markdown_cell(f"## Plan\n\n{_sentences(25)}", metadata={"slideshow": {"slide_type": "slide"}}),
             nbformat.v4.new_markdown_cell(items),
             nbformat.v4.new_markdown_cell(f"## Next\n\n{_sentences(50)}", metadata={"slideshow": {"slide_type": "slide"}})]
    nb = build_slides.prose_to_notes(nbformat.v4.new_notebook(cells=cells))
    assert _kinds(nb) == ["slide", "-", "notes", "slide"]  # the next slide starts counting again
    assert nb.cells[1].source == "\n".join(items.splitlines()[:3])  # 25 + 3 x 10 words
    assert nb.cells[2].source == items


def test_a_slide_start_moves_on_when_its_cell_goes_to_the_notes():
    cells = [nbformat.v4.new_markdown_cell("## A", metadata={"slideshow": {"slide_type": "slide"}}),
             nbformat.v4.new_markdown_cell("| a table |\n|---|\n| " + _sentences(70) + " |",
                                           metadata={"slideshow": {"slide_type": "subslide"}}),
             nbformat.v4.new_code_cell("x = 1")]
    nb = build_slides.prose_to_notes(nbformat.v4.new_notebook(cells=cells))
    assert _kinds(nb) == ["slide", "notes", "subslide"]  # a table is shown whole or not at all


def test_a_slide_without_a_heading_continues_the_section_before_it():
    cells = [nbformat.v4.new_markdown_cell("# Lesson", metadata={"slideshow": {"slide_type": "slide"}}),
             nbformat.v4.new_markdown_cell("## 2. Training a `UNet`\n\nText.", metadata={"slideshow": {"slide_type": "slide"}}),
             nbformat.v4.new_markdown_cell("#### A detail"),
             nbformat.v4.new_code_cell("train()", metadata={"slideshow": {"slide_type": "subslide"}}),
             nbformat.v4.new_markdown_cell("### Sampling", metadata={"slideshow": {"slide_type": "slide"}})]
    nb = build_slides.headed_slides(nbformat.v4.new_notebook(cells=cells))
    assert [c.source for c in nb.cells][3:5] == ["### 2. Training a `UNet` (continued)", "train()"]
    assert _kinds(nb) == ["slide", "slide", "-", "subslide", "-", "slide"]
    assert len({c.id for c in nb.cells}) == len(nb.cells)


def test_the_code_of_a_figure_and_long_code_are_folded_on_the_deck():
    figure = nbformat.v4.new_output("display_data", data={"image/png": "iVBOR"})
    cells = [nbformat.v4.new_code_cell("\n".join(["a = 1"] * 5), outputs=[figure]),
             nbformat.v4.new_code_cell("\n".join(["a = 1"] * 4), outputs=[figure]),
             nbformat.v4.new_code_cell("\n".join(["a = 1"] * 10)),
             nbformat.v4.new_code_cell("\n".join(["a = 1"] * 11))]
    for cell in cells:
        cell.metadata["slideshow"] = {"slide_type": "slide"}
    nb = build_slides.fold_code(nbformat.v4.new_notebook(cells=cells))
    assert [c.metadata["deck_fold"] for c in nb.cells] == [True, False, False, True]
    deck = build_slides.render_deck(nb, "Code", "../assets", "../code/")
    assert deck.count('<details class="deck-code">') == 2
    # Two cells of 4 and 10 lines on one slide are 14 lines: the longer one is folded.
    cells[2].metadata["slideshow"] = {"slide_type": "-"}
    nb = build_slides.fold_code(nbformat.v4.new_notebook(cells=cells))
    assert [c.metadata["deck_fold"] for c in nb.cells] == [True, False, True, True]


# --- Colab notebooks and the deploy workflow ---------------------------------------------


def test_colab_notebooks_script_writes_the_sites_notebooks(mini_course, tmp_path):
    assert colab_notebooks.main(["--root", str(mini_course.root), str(tmp_path)]) == 0
    for lesson in mini_course.lessons:
        built = (mini_course.site / "notebooks" / f"{lesson.stem}.ipynb").read_text(encoding="utf-8")
        assert (tmp_path / f"{lesson.stem}.ipynb").read_text(encoding="utf-8") == built


def test_deploy_workflow_publishes_the_site_and_the_colab_branch():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert "permissions" not in jobs["build"]
    build = "\n".join(step.get("run", "") for step in jobs["build"]["steps"])
    assert "make site" in build
    assert any("upload-pages-artifact" in step.get("uses", "") for step in jobs["build"]["steps"])
    # The Colab links point to notebooks/ on this branch: the workflow must push it there.
    assert colab_notebooks.COLAB_BRANCH == "gh-pages"
    notebooks = "\n".join(step.get("run", "") for step in jobs["notebooks"]["steps"])
    assert jobs["notebooks"]["permissions"] == {"contents": "write"}
    assert "scripts/colab_notebooks.py" in notebooks
    assert "cp " in notebooks and " notebooks/" in notebooks
    assert f"git push --force origin {colab_notebooks.COLAB_BRANCH}" in notebooks
    for job in jobs.values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40}", step["uses"]), step["uses"]


# --- page weight -----------------------------------------------------------------------


def test_page_weight_counts_the_files_a_page_loads(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "a.css").write_text("@font-face { src: url('f.woff2') }")
    (tmp_path / "assets" / "f.woff2").write_bytes(b"x" * 1000)
    (tmp_path / "assets" / "unused.js").write_bytes(b"x" * 5000)
    (tmp_path / "b.png").write_bytes(b"x" * 300)
    page = tmp_path / "index.html"
    page.write_text(
        '<link rel="stylesheet" href="assets/a.css"><img src="b.png"><img src="b.png">'
        '<a href="assets/unused.js">a link is not a load</a><img src="https://example.org/x.png">'
    )
    weight = page_weight.page_weight(tmp_path, page)
    assert weight.html == page.stat().st_size
    assert weight.assets == (tmp_path / "assets" / "a.css").stat().st_size + 1000 + 300


def test_pages_and_site_are_light(course):
    for weight in page_weight.lesson_weights(course.site):
        assert weight.total < page_weight.PAGE_LIMIT, f"{weight.page}: {weight.total / 1e6:.1f} MB"
        if weight.page.startswith("lessons/"):  # issue 17: 2.0-2.8 MB each, 65% of it the same styles
            assert weight.html <= page_weight.HTML_LIMIT, f"{weight.page}: {weight.html / 1e6:.2f} MB of HTML"
    assert page_weight.site_weight(course.site) < page_weight.SITE_LIMIT
