"""Check the internal links of a built site: every href/src that stays on the site must
point to a file that exists and, with a #fragment on an HTML page, to an id on that page.

    python scripts/check_links.py [site]     # exit status 1 and a list when any is broken

Links to other sites (http:, https:, mailto: ...) are not followed: the site must work offline.
"""

from __future__ import annotations

import sys
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

LINK_ATTRIBUTES = {"href", "src"}


class _Page(HTMLParser):
    """Collects the links and the element ids of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in LINK_ATTRIBUTES:
                self.links.append(value)
            elif name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value)


@cache
def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _target(site: Path, path: str) -> Path:
    target = site / path.lstrip("/")
    if path.endswith("/") or target.is_dir():
        target = target / "index.html"
    return target


def broken_links(site: Path) -> list[str]:
    """``"page -> link: reason"`` for every broken internal link of the site in ``site``."""
    site = site.resolve()
    problems = []
    for html in sorted(site.rglob("*.html")):
        page_url = "/" + html.relative_to(site).as_posix()
        for link in _parse(html).links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith("//"):
                continue  # another site, or mailto:/data:/javascript:
            resolved = urlsplit(urljoin(page_url, link))
            target = _target(site, unquote(resolved.path))
            where = f"{page_url} -> {link}"
            if not target.is_file():
                problems.append(f"{where}: no such file {target.relative_to(site).as_posix()}")
            elif resolved.fragment and target.suffix == ".html":
                if unquote(resolved.fragment) not in _parse(target).ids:
                    problems.append(f"{where}: no id '{resolved.fragment}' on the page")
    return problems


def main(argv: list[str]) -> int:
    site = Path(argv[0]) if argv else Path("site")
    if not (site / "index.html").is_file():
        print(f"{site}/index.html not found: build the site first (make site)", file=sys.stderr)
        return 1
    problems = broken_links(site)
    pages = len(list(site.rglob("*.html")))
    for problem in problems:
        print(problem)
    print(f"{pages} pages checked, {len(problems)} broken internal link(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
