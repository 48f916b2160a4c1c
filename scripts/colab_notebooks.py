"""The lessons as notebooks for Colab and download: site/notebooks/NN_topic.ipynb.

Each is the unexecuted lesson with a first cell that installs the course library on Colab,
from this repository at the commit the site was built from. The MkDocs hooks put them on
the site; the deploy workflow also publishes them on the gh-pages branch, where the
"Open in Colab" links point (Colab opens notebooks from GitHub, not from a web site):

    python scripts/colab_notebooks.py OUT_DIR    # writes OUT_DIR/NN_topic.ipynb for every lesson
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import yaml

from build_slides import for_page
from execute_lessons import ROOT, find_lessons, read_lesson

COLAB_BRANCH = "gh-pages"  # the branch that holds notebooks/ for Colab
COLAB_SETUP = '''\
# Setup: on Google Colab, install the course library (Colab's own torch is kept).
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("course_lib") is None:
    if "google.colab" in sys.modules:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "{requirement}"], check=True)
        importlib.invalidate_caches()  # so that this running kernel finds the new package
    else:
        print("course_lib is not installed: in the course folder run `pip install -e .`; from the workshop "
              "bundle, `pip install course_lib-*.whl` (see the Setup page).")
'''


def repo_url(root: Path) -> str:
    """The repository's URL, from mkdocs.yml (``https://github.com/owner/name``)."""
    config = yaml.safe_load((root / "mkdocs.yml").read_text(encoding="utf-8"))
    return config["repo_url"].rstrip("/")


def colab_url(repo: str, notebook_uri: str) -> str:
    """The "Open in Colab" URL of ``notebook_uri`` ("notebooks/NN_topic.ipynb") on the Colab branch."""
    owner_repo = urlsplit(repo).path.strip("/")
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{COLAB_BRANCH}/{notebook_uri}"


def git_ref(root: Path) -> str:
    """The commit checked out in ``root``, or "main" outside a git repository."""
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True)
    except OSError:  # no git on this machine
        return "main"
    return result.stdout.strip() if result.returncode == 0 else "main"


# A lesson that imports diffusers or transformers, or looks either up by name
# (lesson 11 reads a file of diffusers through importlib.util.find_spec("diffusers")).
USES_THE_DIFFUSERS_EXTRA = re.compile(
    r"^\s*(from|import) (diffusers|transformers)\b|find_spec\(\s*[\"'](diffusers|transformers)[\"'.]",
    flags=re.MULTILINE)


def requirement_for(source: Path, base: str) -> str:
    """What a lesson's Colab cell installs: ``base`` (``git+URL@ref``), with the ``diffusers`` extra
    (diffusers and transformers) for a lesson that uses either (:data:`USES_THE_DIFFUSERS_EXTRA`).
    pip keeps Colab's own torch, which satisfies the course's requirement."""
    if USES_THE_DIFFUSERS_EXTRA.search(source.read_text(encoding="utf-8")):
        return f"course_lib[diffusers] @ {base}"
    return base


def colab_notebook(source: Path, requirement: str) -> str:
    """The lesson ``source`` as an unexecuted notebook whose first cell installs ``requirement``
    (``git+URL@ref``; with the diffusers extra where the lesson needs it, see :func:`requirement_for`)."""
    requirement = requirement_for(source, requirement)
    nb = for_page(read_lesson(source))  # without the deck's slides-only cells
    for cell in nb.cells:
        if "solution" in cell.metadata.get("tags", []):
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True  # collapsed in JupyterLab
    setup = nbformat.v4.new_code_cell(COLAB_SETUP.format(requirement=requirement).rstrip("\n"))
    setup.id = "course-setup"
    nb.cells.insert(0, setup)
    nb.metadata.pop("jupytext", None)
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write NN_topic.ipynb into")
    parser.add_argument("--root", type=Path, default=ROOT, help="course root (default: this repository)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    requirement = f"git+{repo_url(root)}@{git_ref(root)}"
    args.out.mkdir(parents=True, exist_ok=True)
    for source in find_lessons(root):
        (args.out / f"{source.stem}.ipynb").write_text(colab_notebook(source, requirement), encoding="utf-8")
        print(f"{args.out / source.stem}.ipynb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
