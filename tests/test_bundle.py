"""`make bundle`: the offline archive holds the site, a serve script and a wheel that carries the weights."""

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("make_bundle", ROOT / "scripts" / "make_bundle.py")
make_bundle = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_bundle)


def test_bundle_contents_and_serve_script(tmp_path):
    site = tmp_path / "site"
    (site / "notebooks").mkdir(parents=True)
    (site / "index.html").write_text("<h1>course</h1>")
    (site / "notebooks" / "01_introduction.ipynb").write_text("{}")
    archive = make_bundle.make_bundle(site, tmp_path / "out")
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        top = names[0].split("/")[0]
        assert f"{top}/site/index.html" in names and f"{top}/site/notebooks/01_introduction.ipynb" in names
        assert f"{top}/serve.py" in names and f"{top}/README.txt" in names
        (wheel_name,) = [n for n in names if n.endswith(".whl")]
        zf.extractall(tmp_path / "unzipped")
    with zipfile.ZipFile(tmp_path / "unzipped" / wheel_name) as wheel:
        inside = wheel.namelist()
    assert "course_lib/weights/manifest.json" in inside and "course_lib/weights/digits.pt" in inside
    # serve.py is valid Python that serves site/ next to it.
    compile((tmp_path / "unzipped" / top / "serve.py").read_text(), "serve.py", "exec")


def test_bundle_refuses_a_missing_site(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_bundle.py"), "--site", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "build the site first" in result.stderr
