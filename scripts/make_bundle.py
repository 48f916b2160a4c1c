"""Pack the built site, notebooks, slide decks and the course_lib wheel (with its weights) into one zip.

    python scripts/make_bundle.py [--site site] [--out build/bundle]

The archive works from a USB stick on a laptop with no network: unzip it, run
`python3 serve.py` inside, and open http://127.0.0.1:8000 (or open the PDFs of the decks
directly). Learners install the library from the wheel inside with pip.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

README = """Introduction to Diffusion Models: offline bundle ({version})

Everything here works without a network.

1. The website, with every lesson executed, the notebooks and the slide decks:
       python3 serve.py
   then open http://127.0.0.1:8000 in a browser. (Opening site/index.html directly also
   shows the pages; search and some links need the small server.)
2. Slide decks: site/slides/NN_topic.slides.html (served as above); PDFs, when built with
   `make slides-pdf`, are in site/slides/ too.
3. The notebooks: site/notebooks/NN_topic.ipynb. To run them, install the library with
   its shipped pretrained weights from the wheel in this folder:
       pip install {wheel}
   (pip also needs torch, torchvision, scikit-learn, matplotlib and tqdm; install them
   beforehand from a local mirror if the room has no network.)
4. Check a laptop: python -m course_lib doctor
"""

SERVE = '''"""Serve the course website from this folder on http://127.0.0.1:8000."""
import functools
import http.server
from pathlib import Path

handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(Path(__file__).parent / "site"))
print("Serving the course on http://127.0.0.1:8000 (Ctrl-C to stop)")
http.server.ThreadingHTTPServer(("127.0.0.1", 8000), handler).serve_forever()
'''


def build_wheel(out_dir: Path) -> Path:
    """Build the course_lib wheel (weights included as package data) into ``out_dir``."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out_dir), str(ROOT)], check=True)
    (wheel,) = out_dir.glob("course_lib-*.whl")
    return wheel


def make_bundle(site: Path, out: Path) -> Path:
    """Write ``out/intro-to-diffusion-<version>.zip`` and return its path."""
    if not (site / "index.html").is_file():
        raise SystemExit(f"{site}/index.html not found: build the site first (make site)")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(Path(tmp))
        version = wheel.name.split("-")[1]
        archive = out / f"intro-to-diffusion-{version}.zip"
        top = Path(f"intro-to-diffusion-{version}")
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(site.rglob("*")):
                if path.is_file():
                    zf.write(path, top / "site" / path.relative_to(site))
            zf.write(wheel, top / wheel.name)
            zf.write(ROOT / "requirements.lock", top / "requirements.lock")
            zf.writestr(str(top / "README.txt"), README.format(version=version, wheel=wheel.name))
            zf.writestr(str(top / "serve.py"), SERVE)
    return archive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "site")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bundle")
    args = parser.parse_args()
    archive = make_bundle(args.site, args.out)
    print(f"{archive.relative_to(ROOT) if archive.is_relative_to(ROOT) else archive}: {archive.stat().st_size / 2**20:.1f} MB")


if __name__ == "__main__":
    main()
