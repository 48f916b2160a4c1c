"""Pack the built site, the notebooks, the slide decks (HTML and PDF) and the course_lib wheel
(with its weights) into one zip for a room without network, then check the zip as a user would.

    python scripts/make_bundle.py [--site site] [--out build/bundle] [--allow-no-pdf]

The zip works from a USB stick: unzip it, run `python3 serve.py` inside and open the address
it prints, or open site/index.html directly (all but the search works from the disk: the
bundle's copy of the site links to index.html files rather than to folders). The PDF decks
are printed with the system's Chromium (scripts/slides_pdf.py); `--allow-no-pdf` builds the
bundle without them where Chromium is missing, and the bundle's README then says so.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

import site_browser  # scripts/ is on the path: it holds this script (and pytest's pythonpath names it)
from check_links import broken_links

ROOT = Path(__file__).resolve().parent.parent

# A relative link to a folder ("lessons/05_x/", "./", ".", "../.."): a server answers it with
# the folder's index.html, a browser reading files from a disk shows a file listing instead.
FOLDER_LINK = re.compile(r'(?<=href=")((?:[^"#?:/][^"#?:]*/)|(?:[^"#?:/][^"#?:]*/)?\.\.?)(?=["#?])')

README = """Introduction to Diffusion Models: the workshop bundle (version {version})

Everything in this folder works without a network.

1. The website: every lesson executed, with its figures, its notebook and its slide deck.
   In this folder run
       python3 serve.py          (on Windows: py serve.py)
   and open the address it prints, http://127.0.0.1:8000/, in a browser. Or, without
   Python, open site/index.html in a browser: from the disk the pages, figures, math and
   slide decks work, but there is no search box, and a "Download notebook" link shows the
   notebook's text instead of saving it (take the file from site/notebooks/).
2. The slide decks: the "Slides" link of each lesson page, or site/slides/NN_topic.slides.html
   (F: full screen, Esc: overview of the slides, S: speaker view with a timer).
   {pdf_line}
3. The notebooks, with the exercises' solutions: site/notebooks/NN_topic.ipynb. Running
   them needs Python 3.10 or newer with torch, torchvision, numpy, scipy, scikit-learn,
   matplotlib, tqdm and Jupyter installed beforehand: they are not in this folder (torch
   alone is gigabytes). Then install the course library, with its pretrained weights, from
   the wheel in this folder:
       python3 -m pip install --no-deps {wheel}
   requirements.lock lists the exact versions the course is tested with (on Linux).
4. Is this laptop ready for the workshop? Once the library is installed:
       python3 -m course_lib doctor
   prints a PASS/FAIL table, and what to do for anything that fails.
"""
PDF_LINE = "The decks as PDF, one slide a page: slides-pdf/NN_topic.pdf."
NO_PDF_LINE = "(This copy was built without the PDF decks: Chromium was missing.)"

SERVE = '''"""Serve the course website in this folder: python3 serve.py [PORT], then open the address it prints."""
import functools
import http.server
import sys
from pathlib import Path


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # a line per file would flood the terminal
        pass


handler = functools.partial(Handler, directory=str(Path(__file__).resolve().parent / "site"))
port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
try:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
except OSError:  # the port is taken, for example by a second copy of this server
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # the system picks a free one
print(f"Serving the course on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C to stop)", flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
'''


def build_wheel(out_dir: Path) -> Path:
    """Build the course_lib wheel (weights included as package data) into ``out_dir``.

    It is built from a copy of the sources: setuptools writes build/ and *.egg-info next to
    them, which two builds at once (parallel tests) would share."""
    src = out_dir / "src"
    shutil.copytree(ROOT / "course_lib", src / "course_lib", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out_dir), str(src)], check=True)
    (wheel,) = out_dir.glob("course_lib-*.whl")
    return wheel


def _index_file(match: re.Match) -> str:
    path = match.group(1)
    return path + ("index.html" if path.endswith("/") else "/index.html")


def link_index_files(site: Path) -> int:
    """Point every relative link to a folder in the HTML of ``site`` at its index.html; return how many."""
    count = 0
    for html in site.rglob("*.html"):
        text, n = FOLDER_LINK.subn(_index_file, html.read_text(encoding="utf-8"))
        if n:
            html.write_text(text, encoding="utf-8")
            count += n
    return count


def stage(site: Path, dest: Path, wheel: Path, pdf: bool) -> None:
    """Lay out the bundle's folder ``dest``: site/, slides-pdf/, the wheel, the lock, serve.py, README.txt."""
    shutil.copytree(site, dest / "site", ignore=shutil.ignore_patterns("*.pdf"))  # PDFs of `make slides-pdf`
    link_index_files(dest / "site")
    if pdf:
        from slides_pdf import print_decks

        print_decks(dest / "site", out=dest / "slides-pdf")
    shutil.copy2(wheel, dest / wheel.name)
    shutil.copy2(ROOT / "requirements.lock", dest / "requirements.lock")
    version = wheel.name.split("-")[1]
    readme = README.format(version=version, wheel=wheel.name, pdf_line=PDF_LINE if pdf else NO_PDF_LINE)
    (dest / "README.txt").write_text(readme, encoding="utf-8")
    (dest / "serve.py").write_text(SERVE, encoding="utf-8")


def make_bundle(site: Path, out: Path, pdf: bool = True) -> Path:
    """Write ``out/intro-to-diffusion-<version>.zip`` and return its path.

    ``pdf``: print the decks to PDF (needs Chromium); without, the README says they are missing.
    """
    if not (site / "index.html").is_file():
        raise SystemExit(f"{site}/index.html not found: build the site first (make site)")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(Path(tmp) / "wheel")
        top = f"intro-to-diffusion-{wheel.name.split('-')[1]}"
        stage(site, Path(tmp) / top, wheel, pdf)
        archive = out / f"{top}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted((Path(tmp) / top).rglob("*")):
                if path.is_file():
                    info = zipfile.ZipInfo.from_file(path, path.relative_to(tmp))
                    info.external_attr = 0o644 << 16  # readable by all once unzipped, whatever the umask here
                    zf.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return archive


def _check_serve(folder: Path, paths: list[str]) -> list[str]:
    """Run the bundle's serve.py on a free port (port 0: the system picks one) and fetch ``paths`` from it."""
    server = subprocess.Popen([sys.executable, "serve.py", "0"], cwd=folder,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        started = select.select([server.stdout], [], [], 30)[0]  # a server that prints nothing: no hang
        line = server.stdout.readline() if started else ""
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if not match:
            return [f"serve.py printed no address: {line.strip() or 'nothing in 30 s'}"]
        problems = []
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
        for path in paths:
            try:
                with opener.open(match.group(0) + path, timeout=10) as response:
                    response.read()
            except OSError as e:
                problems.append(f"serve.py: {path}: {e}")
        return problems
    finally:
        server.terminate()
        server.wait(10)


def _check_wheel(wheel: Path) -> list[str]:
    """Every weights file of the manifest inside the wheel, with its sha256."""
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        if "course_lib/weights/manifest.json" not in names:
            return [f"{wheel.name}: no course_lib/weights/manifest.json"]
        manifest = json.loads(zf.read("course_lib/weights/manifest.json"))
        problems = []
        for name, entry in manifest.items():
            member = f"course_lib/weights/{entry['file']}"
            if member not in names:
                problems.append(f"{wheel.name}: {member} of model {name} missing")
            elif hashlib.sha256(zf.read(member)).hexdigest() != entry["sha256"]:
                problems.append(f"{wheel.name}: {member} does not match its sha256")
    return problems


def check_bundle(archive: Path, pdf: bool = True, doctor: bool = True) -> list[str]:
    """Unzip ``archive`` as a user would and list what does not work (empty: all good).

    Checks: the layout; a notebook for every lesson page and, with ``pdf``, a PDF for every
    deck; the site's links, all to files (as a browser reading from a disk needs); serve.py
    serving pages, a notebook and a deck; the wheel's weights against their sha256; and,
    with ``doctor``, `python -m course_lib doctor` run from the wheel alone.
    """
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp)
        folders = list(Path(tmp).iterdir())
        if len(folders) != 1 or not folders[0].is_dir():
            return [f"{archive.name}: expected one top folder, found {[p.name for p in folders]}"]
        top = folders[0]
        site = top / "site"
        problems = [f"missing {name}" for name in ("README.txt", "serve.py", "requirements.lock", "site/index.html")
                    if not (top / name).is_file()]
        if problems:
            return problems
        readme = (top / "README.txt").read_text(encoding="utf-8")
        wheels = sorted(top.glob("course_lib-*.whl"))
        if len(wheels) != 1 or wheels[0].name not in readme:
            return [f"expected one course_lib wheel, named in README.txt; found {[w.name for w in wheels]}"]

        lessons = sorted(p.parent.name for p in site.glob("lessons/*/index.html"))
        decks = sorted(p.name.removesuffix(".slides.html") for p in site.glob("slides/*.slides.html"))
        if not lessons:
            problems.append("site/lessons/ holds no lesson page")
        problems += [f"no notebook site/notebooks/{stem}.ipynb" for stem in lessons
                     if not (site / "notebooks" / f"{stem}.ipynb").is_file()]
        problems += [f"no deck site/slides/{stem}.slides.html" for stem in lessons if stem not in decks]
        if pdf:
            pdfs = [top / "slides-pdf" / f"{stem}.pdf" for stem in decks]
            problems += [f"no PDF deck {p.relative_to(top)}" for p in pdfs
                         if not p.is_file() or not p.read_bytes().startswith(b"%PDF")]
        if pdf != ("slides-pdf/" in readme):
            problems.append("README.txt is wrong about the PDF decks")

        problems += broken_links(site)
        for html in sorted(site.rglob("*.html")):
            links = FOLDER_LINK.findall(html.read_text(encoding="utf-8"))
            if links:
                problems.append(f"{html.relative_to(top)}: links to folders, which a disk does not open: {links[:3]}")

        pages = [""] + [f"lessons/{stem}/index.html" for stem in lessons[:1]]
        pages += [f"notebooks/{stem}.ipynb" for stem in lessons[:1]] + [f"slides/{stem}.slides.html" for stem in decks[:1]]
        problems += _check_serve(top, pages)
        problems += _check_wheel(wheels[0])
        if doctor and not problems:
            problems += _check_doctor(wheels[0], Path(tmp) / "installed")
    return problems


def _check_doctor(wheel: Path, target: Path) -> list[str]:
    """Install the wheel alone into ``target`` (no network) and run its doctor from there."""
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                    "--target", str(target), str(wheel)], check=True)
    code = ("import sys, course_lib; from course_lib.__main__ import main; "
            f"assert course_lib.__file__.startswith({str(target)!r}), course_lib.__file__; sys.exit(main(['doctor']))")
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run([sys.executable, "-c", code], cwd=target, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        return [f"python -m course_lib doctor, from the wheel alone, failed:\n{result.stdout}{result.stderr}"]
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "site")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bundle")
    parser.add_argument("--allow-no-pdf", action="store_true",
                        help="without Chromium, build the bundle without the PDF decks instead of failing")
    args = parser.parse_args(argv)
    pdf = site_browser.CHROMIUM.is_file()
    if not pdf and not args.allow_no_pdf:
        print(f"{site_browser.CHROMIUM} not found: the PDF decks need Chromium (Debian: apt-get install -y chromium); "
              "--allow-no-pdf builds the bundle without them", file=sys.stderr)
        return 1
    if not pdf:
        print(f"==> {site_browser.CHROMIUM} not found: building the bundle WITHOUT the PDF decks")
    start = time.perf_counter()
    archive = make_bundle(args.site, args.out, pdf=pdf)
    problems = check_bundle(archive, pdf=pdf)
    where = archive.relative_to(ROOT) if archive.is_relative_to(ROOT) else archive
    with zipfile.ZipFile(archive) as zf:
        files = sum(not name.endswith("/") for name in zf.namelist())
    if problems:
        archive.unlink()  # nobody copies a broken bundle onto the USB sticks
        print(f"{where}: {len(problems)} problem(s), zip removed:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    print(f"{where}: {archive.stat().st_size / 2**20:.1f} MB, {files} files, "
          f"{'with' if pdf else 'WITHOUT'} the PDF decks; built and checked (links, serve.py, weights, doctor) "
          f"in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
