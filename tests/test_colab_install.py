"""The Colab notebooks' setup cell, run for real against a stand-in for Colab, offline.

Colab comes with torch and the scientific stack preinstalled; each notebook's first cell
(scripts/colab_notebooks.py) pip-installs the course library from GitHub, with the
``diffusers`` extra for the lessons that need diffusers. Here that cell runs in a fresh
virtual environment that stands in for Colab:

- "preinstalled": torch, torchvision, numpy, scipy, scikit-learn, matplotlib, tqdm, pip and
  everything they require, taken from this project's environment through a folder of symlinks
  (a .pth file puts it on the fresh environment's path): pip sees them as installed, nothing
  is copied;
- every other distribution course_lib or its extras may need (diffusers, transformers, their
  own requirements, accelerate) is offered to pip as a "pointer wheel": the real metadata
  (name, version, requirements) and a .pth file that, once pip has installed it, makes the
  real package from this project's environment importable;
- the notebook's requirement is pointed at a course_lib wheel built from this checkout, and pip
  runs with ``--no-index``: it must resolve everything from what is present, and it cannot
  replace torch (there is no torch to download), so a requirement that torch does not satisfy
  fails the install.

What this proves, for every lesson, with a stub ``google.colab`` module in place: the shipped
cell (only its URL swapped) installs; its requirement, with the extra where the lesson uses
diffusers or transformers and none elsewhere, resolves against the preinstalled torch and
leaves it in place; pip installs exactly course_lib plus what the requested extra needs;
course_lib then imports, and so does every module the lesson imports or looks up. What it does
not: fetching from GitHub (git+URL@ref) or PyPI, the versions PyPI would pick, Colab's actual
versions (Colab also preinstalls transformers and more; here pip has to install them), or the
cell's behaviour off Colab (tests/test_site.py checks that).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import venv
import zipfile
from base64 import urlsafe_b64encode
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from hashlib import sha256
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# scripts/ is on pytest's pythonpath (pyproject.toml).
import colab_notebooks
import make_bundle
from execute_lessons import ROOT, find_lessons

# What the stand-in has before the cell runs: Colab's preinstalled stack that course_lib uses.
PREINSTALLED_ON_COLAB = ("pip", "torch", "torchvision", "numpy", "scipy", "scikit-learn",
                         "matplotlib", "tqdm")
EXTRA_MODULES = ("diffusers", "transformers")  # what the diffusers extra is for

# Run inside the stand-in: pretend to be on Colab, then run the setup cell (the file argv[1]).
RUN_CELL = """\
import sys, types
sys.modules["google.colab"] = types.ModuleType("google.colab")
with open(sys.argv[1], encoding="utf-8") as cell:
    exec(compile(cell.read(), "setup-cell", "exec"), {"__name__": "__main__"})
"""
# Run inside the stand-in: torch's version and where it is, and where each module in argv[1:] is.
PROBE = """\
import importlib.metadata, importlib.util, json, os, sys

def where(name):
    spec = importlib.util.find_spec(name)
    return None if spec is None else os.path.realpath(spec.origin or next(iter(spec.submodule_search_locations)))

print(json.dumps({"torch": [importlib.metadata.version("torch"), where("torch")],
                  "modules": {name: where(name) for name in sys.argv[1:]}}))
"""


def _distributions() -> dict[str, metadata.Distribution]:
    """This environment's installed distributions by canonical name."""
    return {canonicalize_name(dist.metadata["Name"]): dist for dist in metadata.distributions()}


def _closure(requirements: Iterable[str], dists: dict[str, metadata.Distribution]) -> set[str]:
    """Canonical names of the distributions ``requirements`` need, transitively, extras and
    environment markers included, as installed in this environment."""
    todo = [Requirement(text) for text in requirements]
    seen: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    while todo:
        req = todo.pop()
        name, extras = canonicalize_name(req.name), frozenset(req.extras)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        names.add(name)
        for text in dists[name].requires or []:
            dep = Requirement(text)
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in extras | {""}):
                todo.append(dep)
    return names


def _owned_paths(dist: metadata.Distribution) -> list[Path]:
    """The files of ``dist`` inside site-packages, without its .dist-info, scripts and caches."""
    return [Path(f) for f in dist.files or []
            if f.parts[0] != ".." and not f.parts[0].endswith(".dist-info") and "__pycache__" not in f.parts]


def _link_distributions(dists: Iterable[metadata.Distribution], owners: dict[str, set[str]],
                        dest: Path, with_metadata: bool) -> None:
    """Make ``dists`` importable from the folder ``dest`` by symlinks into this environment.

    A top-level package of one distribution is one symlink; a top-level folder that several
    distributions share (a namespace such as nvidia/) is rebuilt with one symlink per file of
    ``dists``, so that no other distribution's modules come along. ``with_metadata`` also links
    each .dist-info folder (pip then sees the distribution as installed)."""
    for dist in dists:
        site = Path(dist.locate_file(""))
        for path in _owned_paths(dist):
            top = path.parts[0]
            link = dest / (path if len(owners[top]) > 1 else top)
            if not link.exists():
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(site / link.relative_to(dest))
        if with_metadata:
            (info,) = {f.parts[0] for f in dist.files if f.parts[0].endswith(".dist-info")}
            (dest / info).symlink_to(site / info)


def _pointer_wheel(dist: metadata.Distribution, links: Path, wheel_dir: Path) -> Path:
    """A wheel with ``dist``'s real metadata whose only content is a .pth file naming ``links``
    (where :func:`_link_distributions` made the real package importable)."""
    name, version = dist.metadata["Name"], dist.version
    stem = f"{canonicalize_name(name).replace('-', '_')}-{version.replace('-', '_')}"
    files = {
        f"{stem}.pth": f"{links}\n",
        f"{stem}.dist-info/METADATA": dist.read_text("METADATA"),
        f"{stem}.dist-info/WHEEL": ("Wheel-Version: 1.0\nGenerator: tests/test_colab_install.py\n"
                                    "Root-Is-Purelib: true\nTag: py3-none-any\n"),
    }
    record = [f"{path},sha256={urlsafe_b64encode(sha256(text.encode()).digest()).rstrip(b'=').decode()},"
              f"{len(text.encode())}" for path, text in files.items()]
    files[f"{stem}.dist-info/RECORD"] = "\n".join([*record, f"{stem}.dist-info/RECORD,,"]) + "\n"
    wheel = wheel_dir / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


def _lesson_modules(source: Path) -> set[str]:
    """Top-level modules outside the standard library that a lesson imports, or looks up by name
    (``importlib.util.find_spec("diffusers")``), read from its syntax tree."""
    names = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "find_spec" and node.args and isinstance(node.args[0], ast.Constant)):
            names.add(node.args[0].value)
    return {name.split(".")[0] for name in names} - set(sys.stdlib_module_names)


@dataclass
class StandIn:
    """What every fresh stand-in for Colab is made from."""

    wheel: Path  # course_lib, built from this checkout
    preinstalled: set[str]  # canonical names of the preinstalled distributions
    preinstalled_folder: Path  # symlinks to them, with their metadata
    find_links: Path  # pointer wheels of everything else course_lib and its extras may need
    dists: dict[str, metadata.Distribution]  # this environment's, by canonical name


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory) -> StandIn:
    tmp = tmp_path_factory.mktemp("colab")  # one folder per xdist worker and run
    wheel = make_bundle.build_wheel(tmp / "wheel")
    dists = _distributions()
    owners = defaultdict(set)
    for name, dist in dists.items():
        for path in _owned_paths(dist):
            owners[path.parts[0]].add(name)
    preinstalled = _closure(PREINSTALLED_ON_COLAB, dists)
    course_lib_extras = ",".join(dists["course-lib"].metadata.get_all("Provides-Extra"))
    offered = _closure([f"course_lib[{course_lib_extras}]"], dists) - preinstalled - {"course-lib"}
    _link_distributions([dists[name] for name in preinstalled], owners, tmp / "preinstalled", with_metadata=True)
    (tmp / "find-links").mkdir()
    for name in offered:
        _link_distributions([dists[name]], owners, tmp / "links" / name, with_metadata=False)
        _pointer_wheel(dists[name], tmp / "links" / name, tmp / "find-links")
    return StandIn(wheel, preinstalled, tmp / "preinstalled", tmp / "find-links", dists)


def _fresh_colab(folder: Path, stand_in: StandIn) -> Path:
    """A new virtual environment in ``folder`` that has the preinstalled stack; its python."""
    venv.create(folder, with_pip=False, symlinks=True)
    python = folder / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "colab_preinstalled.pth").write_text(f"{stand_in.preinstalled_folder}\n")
    return python


def _offline_env(stand_in: StandIn, report: Path) -> dict[str, str]:
    """This process's environment without pip's or Python's settings, then pip pointed at the
    pointer wheels only: no index, no configuration file, a JSON report of what it installs."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PIP_", "PYTHON")) and key != "VIRTUAL_ENV"}
    return env | {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(stand_in.find_links),
                  "PIP_REPORT": str(report), "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                  "PYTHONNOUSERSITE": "1", "OMP_NUM_THREADS": "1"}


def _probe(python: Path, names: Iterable[str], env: dict[str, str], cwd: Path) -> dict:
    result = subprocess.run([python, "-c", PROBE, *names], env=env, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_each_notebooks_setup_cell_installs_what_its_lesson_needs_and_keeps_torch(stand_in, tmp_path):
    torch_here = [metadata.version("torch"), os.path.realpath(find_spec("torch").origin)]
    shipped_base = f"git+{colab_notebooks.repo_url(ROOT)}@{colab_notebooks.git_ref(ROOT)}"
    groups: dict[str, list[Path]] = defaultdict(list)  # setup cell -> its lessons
    wheel_uri = stand_in.wheel.as_uri()
    for source in find_lessons(ROOT):
        cell = nbformat.reads(colab_notebooks.colab_notebook(source, wheel_uri), as_version=4).cells[0]
        shipped = nbformat.reads(colab_notebooks.colab_notebook(source, shipped_base), as_version=4).cells[0]
        assert cell.source == shipped.source.replace(shipped_base, wheel_uri)  # only the URL differs
        groups[cell.source].append(source)
    assert len(groups) <= 2, "one install without the extra and one with it"

    for number, (cell, lessons) in enumerate(groups.items()):
        requirement = colab_notebooks.requirement_for(lessons[0], wheel_uri)
        assert f'"{requirement}"' in cell
        extras = set() if requirement == wheel_uri else Requirement(requirement).extras
        colab = tmp_path / f"colab{number}"
        python = _fresh_colab(colab / "venv", stand_in)
        (colab / "setup_cell.py").write_text(cell, encoding="utf-8")
        env = _offline_env(stand_in, colab / "report.json")
        needed = set().union(*map(_lesson_modules, lessons)) | set(EXTRA_MODULES)
        before = _probe(python, ["course_lib", *needed], env, colab)
        assert before["torch"] == torch_here
        assert before["modules"]["course_lib"] is None  # so the cell installs it

        run = subprocess.run([python, "-c", RUN_CELL, colab / "setup_cell.py"], env=env, cwd=colab,
                             capture_output=True, text=True)
        assert run.returncode == 0, f"{[s.stem for s in lessons]}: the install failed\n{run.stdout}{run.stderr}"
        report = json.loads((colab / "report.json").read_text())
        installed = {canonicalize_name(item["metadata"]["name"]) for item in report["install"]}
        wanted = _closure([f"course_lib[{','.join(extras)}]"], stand_in.dists) - stand_in.preinstalled
        assert installed == wanted, "pip should install course_lib and what the requested extra needs, no more"

        after = _probe(python, ["course_lib", *needed], env, colab)
        assert after["torch"] == torch_here, "pip replaced the preinstalled torch"
        site = Path(after["modules"]["course_lib"]).parent.parent
        assert site.is_relative_to((colab / "venv").resolve()) and not list(site.glob("torch*"))
        for source in lessons:
            missing = {name for name in _lesson_modules(source) if after["modules"][name] is None}
            assert not missing, f"{source.stem} imports {sorted(missing)}, which its setup cell does not install"
            uses_extra = not _lesson_modules(source).isdisjoint(EXTRA_MODULES)
            assert bool(extras) == uses_extra, f"{source.stem} gets extras {extras or 'none'}"
        has_extra = {name: after["modules"][name] is not None for name in EXTRA_MODULES}
        assert has_extra == dict.fromkeys(EXTRA_MODULES, extras == {"diffusers"})
        imports = "import course_lib" + "".join(f", {name}" for name in EXTRA_MODULES if has_extra[name])
        check = subprocess.run([python, "-c", imports], env=env, cwd=colab, capture_output=True, text=True)
        assert check.returncode == 0, f"{imports}: {check.stderr}"
