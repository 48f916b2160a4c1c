"""How heavy the built site is: each lesson page and deck with everything it loads, and the whole site.

    python scripts/page_weight.py [site]     # prints a table; exit status 1 over a limit

A page's weight is its HTML plus every file of the site that it loads: scripts, style
sheets, images, and the fonts and images that those style sheets name (all of them, so
this is an upper bound of what a browser fetches; the images of the lessons are inside
the HTML). Links to other pages are not counted. Limits, kept as regression limits: a page's
own HTML at most 1 MB (the notebook styles are a shared file, assets/notebook/notebook.css,
that a browser fetches once for all lessons; the slide decks, which carry them inline, are
not held to it), a lesson page (or deck) with all it loads under 2.5 MB (the heaviest, lesson
06 with its animation, was 2.44 MB when this limit was set), the whole site under 60 MB (the
PDFs of `make slides-pdf` are not deployed and not counted).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

MB = 1_000_000
HTML_LIMIT = 1 * MB  # a lesson page's HTML, without the files it shares with other pages
PAGE_LIMIT = 2.5 * MB
SITE_LIMIT = 60 * MB
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)""")


class _Loads(HTMLParser):
    """The URLs that an HTML page loads (not the pages it links to)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in {"script", "img", "source", "iframe", "video", "audio"} and attributes.get("src"):
            self.urls.append(attributes["src"])
        elif tag == "link" and attributes.get("href"):
            rel = (attributes.get("rel") or "").lower().split()
            if {"stylesheet", "icon", "preload", "modulepreload"} & set(rel):
                self.urls.append(attributes["href"])


def _local(site: Path, base: str, url: str) -> Path | None:
    """The file of the site that ``url`` (relative to the site path ``base``) names, if any."""
    if urlsplit(url).scheme or url.startswith("//"):
        return None  # data: URIs are counted in their file; other sites are not loaded (tests)
    path = site / unquote(urlsplit(urljoin(base, url)).path).lstrip("/")
    return path if path.is_file() else None


def _assets(site: Path, page: Path) -> set[Path]:
    base = "/" + page.relative_to(site).as_posix()
    parser = _Loads()
    parser.feed(page.read_text(encoding="utf-8"))
    todo = [p for url in parser.urls if (p := _local(site, base, url))]
    found: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in found:
            continue
        found.add(path)
        if path.suffix == ".css":
            css_base = "/" + path.relative_to(site).as_posix()
            text = path.read_text(encoding="utf-8", errors="replace")
            todo += [p for url in CSS_URL.findall(text) if (p := _local(site, css_base, url))]
    return found


@dataclass(frozen=True)
class Weight:
    page: str  # site path, "lessons/02_physics/index.html"
    html: int  # bytes
    assets: int  # bytes

    @property
    def total(self) -> int:
        return self.html + self.assets


def page_weight(site: Path, page: Path) -> Weight:
    """The bytes of ``page`` (an HTML file of ``site``) and of the files of the site it loads."""
    assets = sum(path.stat().st_size for path in _assets(site, page))
    return Weight(page.relative_to(site).as_posix(), page.stat().st_size, assets)


def lesson_weights(site: Path) -> list[Weight]:
    """The home page, every lesson page and every slide deck."""
    pages = [site / "index.html", *sorted(site.glob("lessons/*/index.html")), *sorted(site.glob("slides/*.html"))]
    return [page_weight(site, page) for page in pages]


def site_weight(site: Path) -> int:
    """Bytes of every file of the site that is deployed (all but the slides' PDFs)."""
    return sum(p.stat().st_size for p in site.rglob("*") if p.is_file() and p.suffix != ".pdf")


def main(argv: list[str]) -> int:
    site = Path(argv[0]) if argv else Path("site")
    if not (site / "index.html").is_file():
        print(f"{site}/index.html not found: build the site first (make site)", file=sys.stderr)
        return 1
    weights = lesson_weights(site)
    total = site_weight(site)
    width = max(len(w.page) for w in weights)
    print(f"{'page':<{width}}  {'HTML MB':>8}  {'assets MB':>9}  {'total MB':>8}")
    over = []
    for w in weights:
        flag = f"  OVER {PAGE_LIMIT / MB:g} MB" if w.total > PAGE_LIMIT else ""
        if w.page.startswith("lessons/") and w.html > HTML_LIMIT:
            flag += f"  HTML OVER {HTML_LIMIT / MB:g} MB"
        print(f"{w.page:<{width}}  {w.html / MB:8.2f}  {w.assets / MB:9.2f}  {w.total / MB:8.2f}{flag}")
        if flag:
            over.append(w.page)
    flag = "  OVER 60 MB" if total > SITE_LIMIT else ""
    print(f"{'whole site (without PDFs)':<{width}}  {'':8}  {'':9}  {total / MB:8.2f}{flag}")
    pdfs = sum(p.stat().st_size for p in site.glob("slides/*.pdf"))
    if pdfs:
        print(f"{'slide PDFs (not deployed)':<{width}}  {'':8}  {'':9}  {pdfs / MB:8.2f}")
    return 1 if over or flag else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
