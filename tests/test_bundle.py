"""`make bundle`: the offline zip, and the check that it works from a disk, served or not.

A small site (two lessons, their notebooks and decks) is bundled with the real course_lib
wheel; the check is then run on that zip and on copies broken in one way each.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import make_bundle  # scripts/ is on pytest's pythonpath (pyproject.toml)

ROOT = Path(__file__).resolve().parent.parent

LESSONS = ["01_introduction", "02_physics"]
PAGE = """<html><body>
<a href="../..">home</a> <a href="../">lessons</a> <a href="../02_physics/#top">next</a>
<a class="download-link" href="../../notebooks/{stem}.ipynb" download>Download notebook</a>
<a href="../../slides/{stem}.slides.html">Slides</a> <a href="https://example.org/a/">elsewhere</a>
<h1 id="top">{stem}</h1></body></html>"""


def _small_site(site: Path) -> Path:
    (site / "notebooks").mkdir(parents=True)
    (site / "slides").mkdir()
    (site / "index.html").write_text('<a href="./">home</a> <a href=".">home</a> '
                                     + " ".join(f'<a href="lessons/{s}/">{s}</a>' for s in LESSONS))
    (site / "lessons" / "index.html").parent.mkdir()
    (site / "lessons" / "index.html").write_text('<a href="..">home</a>')
    for stem in LESSONS:
        (site / "lessons" / stem).mkdir()
        (site / "lessons" / stem / "index.html").write_text(PAGE.format(stem=stem))
        (site / "notebooks" / f"{stem}.ipynb").write_text('{"cells": []}')
        (site / "slides" / f"{stem}.slides.html").write_text(f'<a href="../lessons/{stem}/">Lesson page</a>')
    (site / "slides" / "01_introduction.pdf").write_bytes(b"%PDF-1.4 from make slides-pdf")
    return site


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """The small site's bundle, built without PDFs (no browser needed); one wheel build for the module.

    Built under a strict umask (files 0600), as on a locked-down machine."""
    tmp = tmp_path_factory.mktemp("bundle")
    umask = os.umask(0o077)
    try:
        return make_bundle.make_bundle(_small_site(tmp / "site"), tmp / "out", pdf=False)
    finally:
        os.umask(umask)


def _unzipped(archive: Path, dest: Path) -> Path:
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(dest)
    (top,) = dest.iterdir()
    return top


def _rezip(top: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(top.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(top.parent))
    return archive


def test_folder_links_point_at_index_files(tmp_path):
    page = tmp_path / "a" / "index.html"
    page.parent.mkdir()
    page.write_text('<a href="../lessons/05_x/">l</a><a href="..">h</a><a href="../..">h</a><a href=".">s</a>'
                    '<a href="./">s</a><a href="x/#eq-4">f</a><a href="x/?h=ddpm">q</a>'
                    '<a href="https://example.org/x/">w</a><a href="/lessons/x/">abs</a><a href="#sec">t</a>'
                    '<link href="../assets/main.css"><a href="../notebooks/05.ipynb">n</a><a href="...">odd</a>')
    assert make_bundle.link_index_files(tmp_path) == 7
    assert page.read_text() == (
        '<a href="../lessons/05_x/index.html">l</a><a href="../index.html">h</a><a href="../../index.html">h</a>'
        '<a href="./index.html">s</a><a href="./index.html">s</a><a href="x/index.html#eq-4">f</a>'
        '<a href="x/index.html?h=ddpm">q</a><a href="https://example.org/x/">w</a><a href="/lessons/x/">abs</a>'
        '<a href="#sec">t</a><link href="../assets/main.css"><a href="../notebooks/05.ipynb">n</a><a href="...">odd</a>')


def test_bundle_layout_readme_and_check(bundle, tmp_path):
    top = _unzipped(bundle, tmp_path)
    assert top.name == bundle.stem
    names = sorted(p.relative_to(top).as_posix() for p in top.rglob("*") if p.is_file())
    (wheel,) = [n for n in names if n.endswith(".whl")]
    assert {"README.txt", "serve.py", "requirements.lock", "site/index.html"} <= set(names)
    assert {f"site/notebooks/{s}.ipynb" for s in LESSONS} <= set(names)
    assert not any(n.endswith(".pdf") for n in names), "PDFs left by `make slides-pdf` in site/ are not packed"
    # Opened from the disk, every link to a page names a file.
    assert '<a href="../../index.html">home</a>' in (top / "site/lessons/01_introduction/index.html").read_text()
    readme = (top / "README.txt").read_text()
    assert f"pip install --no-deps {wheel}" in readme and "python3 serve.py" in readme
    assert make_bundle.NO_PDF_LINE in readme and "slides-pdf/" not in readme
    assert make_bundle.check_bundle(bundle, pdf=False, doctor=False) == []
    # Asked for PDFs, the same bundle fails the check: no PDFs, and a README that says so.
    problems = make_bundle.check_bundle(bundle, pdf=True, doctor=False)
    assert f"no PDF deck slides-pdf/{LESSONS[0]}.pdf" in problems and "README.txt is wrong about the PDF decks" in problems


def _broken(bundle: Path, tmp_path: Path, breaks) -> list[str]:
    top = _unzipped(bundle, tmp_path / "unzipped")
    breaks(top)
    return make_bundle.check_bundle(_rezip(top, tmp_path / bundle.name), pdf=False, doctor=False)


def test_check_finds_a_missing_notebook(bundle, tmp_path):
    problems = _broken(bundle, tmp_path, lambda top: (top / "site/notebooks/02_physics.ipynb").unlink())
    assert problems == ["no notebook site/notebooks/02_physics.ipynb",
                        "/lessons/02_physics/index.html -> ../../notebooks/02_physics.ipynb: "
                        "no such file notebooks/02_physics.ipynb"]


def test_check_finds_a_link_to_a_folder(bundle, tmp_path):
    def breaks(top):
        page = top / "site/lessons/02_physics/index.html"
        page.write_text(page.read_text() + '<a href="../01_introduction/">back</a>')

    problems = _broken(bundle, tmp_path, breaks)
    assert len(problems) == 1 and "site/lessons/02_physics/index.html: links to folders" in problems[0]


def test_check_finds_a_broken_link_and_a_corrupted_weights_file(bundle, tmp_path):
    def breaks(top):
        (top / "site/slides/02_physics.slides.html").unlink()
        (wheel,) = top.glob("*.whl")
        with zipfile.ZipFile(wheel) as zf:
            members = {name: zf.read(name) for name in zf.namelist()}
        members["course_lib/weights/sprites.pt"] = b"not a checkpoint"
        with zipfile.ZipFile(wheel, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)

    problems = _broken(bundle, tmp_path, breaks)
    assert "no deck site/slides/02_physics.slides.html" in problems
    assert any("02_physics.slides.html: no such file" in p for p in problems), problems
    assert any("course_lib/weights/sprites.pt does not match its sha256" in p for p in problems), problems


def test_check_finds_a_server_that_does_not_serve(bundle, tmp_path):
    problems = _broken(bundle, tmp_path, lambda top: (top / "serve.py").write_text("print('hello')\n"))
    assert problems == ["serve.py printed no address: hello"]


def test_check_finds_a_server_that_serves_the_wrong_folder(bundle, tmp_path):
    def breaks(top):
        serve = top / "serve.py"
        serve.write_text(serve.read_text().replace('/ "site"', '/ "elsewhere"'))

    problems = _broken(bundle, tmp_path, breaks)
    assert problems and all(p.startswith("serve.py: ") and "404" in p for p in problems), problems


def test_check_accepts_pdf_decks_and_finds_a_missing_one(bundle, tmp_path):
    def with_pdfs(top, stems):
        (top / "slides-pdf").mkdir()
        for stem in stems:
            (top / "slides-pdf" / f"{stem}.pdf").write_bytes(b"%PDF-1.4")
        readme = top / "README.txt"
        readme.write_text(readme.read_text().replace(make_bundle.NO_PDF_LINE, make_bundle.PDF_LINE))

    for stems, expected in [(LESSONS, []), (LESSONS[:1], ["no PDF deck slides-pdf/02_physics.pdf"])]:
        top = _unzipped(bundle, tmp_path / f"u{len(stems)}")
        with_pdfs(top, stems)
        assert make_bundle.check_bundle(_rezip(top, tmp_path / f"{len(stems)}.zip"), pdf=True, doctor=False) == expected


def test_serve_script_moves_to_a_free_port_when_its_port_is_taken(bundle, tmp_path):
    top = _unzipped(bundle, tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = subprocess.Popen([sys.executable, str(top / "serve.py"), str(port)], cwd=tmp_path,
                                  stdout=subprocess.PIPE, text=True)
        try:
            line = server.stdout.readline()
        finally:
            server.terminate()
            server.wait(10)
    address = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    assert address and int(address.group(1)) != port, f"serve.py, port {port} taken: {line!r}"


def test_doctor_check_reports_a_wheel_with_corrupted_weights(bundle, tmp_path):
    (wheel,) = _unzipped(bundle, tmp_path / "unzipped").glob("*.whl")
    broken = tmp_path / wheel.name
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(broken, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, b"not a checkpoint" if name == "course_lib/weights/digits.pt" else src.read(name))
    (problem,) = make_bundle._check_doctor(broken, tmp_path / "installed")
    assert "FAIL  shipped weights" in problem and "corrupted or missing: digits" in problem


def test_refuses_a_missing_site(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_bundle.py"), "--site", str(tmp_path),
                             "--out", str(tmp_path / "out"), "--allow-no-pdf"], capture_output=True, text=True)
    assert result.returncode != 0 and "build the site first" in result.stderr


def test_refuses_to_leave_out_the_pdfs_unless_told(tmp_path, monkeypatch, capsys):
    import site_browser  # scripts/, put on the path by make_bundle

    monkeypatch.setattr(site_browser, "CHROMIUM", tmp_path / "no-chromium")
    site = _small_site(tmp_path / "site")
    assert make_bundle.main(["--site", str(site), "--out", str(tmp_path / "out")]) == 1
    assert "--allow-no-pdf" in capsys.readouterr().err and not (tmp_path / "out").exists()


@pytest.mark.skipif(shutil.which("unzip") is None, reason="no unzip command")
def test_unzip_restores_readable_files(bundle, tmp_path):
    """Everyone can read the unzipped files, although the zip was built under a strict umask."""
    subprocess.run(["unzip", "-q", str(bundle), "-d", str(tmp_path)], check=True)
    top = tmp_path / bundle.stem
    for name in ["README.txt", "serve.py", "site/index.html"]:
        assert (top / name).stat().st_mode & 0o044 == 0o044, name


def test_a_bundle_that_fails_its_check_is_removed(tmp_path, monkeypatch, capsys):
    import site_browser

    monkeypatch.setattr(site_browser, "CHROMIUM", tmp_path / "no-chromium")
    site = _small_site(tmp_path / "site")
    (site / "notebooks" / "02_physics.ipynb").unlink()
    assert make_bundle.main(["--site", str(site), "--out", str(tmp_path / "out"), "--allow-no-pdf"]) == 1
    captured = capsys.readouterr()
    assert "WITHOUT the PDF decks" in captured.out
    assert "zip removed" in captured.err and "no notebook site/notebooks/02_physics.ipynb" in captured.err
    assert list((tmp_path / "out").iterdir()) == []
