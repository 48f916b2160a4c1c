"""Print every slide deck of a built site to PDF, for instructors: site/slides/NN_topic.pdf.

    python scripts/slides_pdf.py [site]     # `make slides-pdf` builds the site first

Each deck is opened with reveal.js's `?print-pdf` view in the system's headless Chromium
(see scripts/site_browser.py) and printed one slide per page (16:9, the slide size), in
about 2 s a deck. scripts/make_bundle.py prints them into the workshop bundle the same way.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from site_browser import launch, serve

WIDTH, HEIGHT = 1280, 720  # the decks' slide size (docs/assets/slides.js)


def print_decks(site: Path, out: Path | None = None) -> list[Path]:
    """Write ``NN_topic.pdf`` for each ``site/slides/NN_topic.slides.html`` into ``out``
    (default: next to the decks); return the PDFs."""
    decks = sorted((site / "slides").glob("*.slides.html"))
    if not decks:
        raise FileNotFoundError(f"no slide decks in {site}/slides: build the site first (make site)")
    out = site / "slides" if out is None else out
    out.mkdir(parents=True, exist_ok=True)
    pdfs = []
    with serve(site) as base_url, sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        for deck in decks:
            start = time.perf_counter()
            page.goto(f"{base_url}slides/{deck.name}?print-pdf", wait_until="load")
            page.wait_for_selector("html[data-pdf-ready]", state="attached")
            pdf = out / (deck.name.removesuffix(".slides.html") + ".pdf")
            # reveal.js sets the page size (@page) to the slide's, margins included
            page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
            pages = page.locator(".reveal .pdf-page").count()
            print(f"{pdf.parent.name}/{pdf.name}: {pages} pages, {pdf.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - start:.1f} s")
            pdfs.append(pdf)
        browser.close()
    return pdfs


def main(argv: list[str]) -> int:
    print_decks(Path(argv[0]) if argv else Path("site"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
