"""The built site in a real browser (headless Chromium), offline.

Serves this repository's site/ on 127.0.0.1 and loads the home page, every lesson page (in
the light and the dark theme at 1280x900, and on a 390x844 phone) and every slide deck, and
checks what only a browser can see: no console error, no request to another host, math
typeset by KaTeX, every image and animation loaded, the Colab and slide links in place,
whole lines of code at 1280 px, figure text of 11 px or more as shown, alt text on every
figure, buttons and prose at 4.5:1 contrast in both themes, nothing cut off or sideways on a
phone, every slide readable on a projector. Screenshots go to site-screenshots/ (full pages
in both themes and on a phone, and every slide, as JPEG), to look at after a change of the
site's look.

Skipped when site/ is not built (`make check-site` builds it) or when /usr/bin/chromium is
missing (Debian: `apt-get install -y chromium`).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "site"
SHOTS = ROOT / "site-screenshots"

if importlib.util.find_spec("playwright") is None:
    pytest.skip("the playwright package is not installed", allow_module_level=True)

import build_slides  # noqa: E402 (scripts/ is on pytest's pythonpath: pyproject.toml)
import page_weight  # noqa: E402
import site_browser  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

if not site_browser.CHROMIUM.is_file():
    pytest.skip(f"{site_browser.CHROMIUM} not found (Debian: apt-get install -y chromium)", allow_module_level=True)
if not (SITE / "index.html").is_file():
    pytest.skip("site/ is not built: `make check-site` builds it and runs these tests", allow_module_level=True)
from test_site import _newest_source_mtime  # noqa: E402 (tests/ is on the path under pytest)

if (SITE / "index.html").stat().st_mtime < _newest_source_mtime():
    pytest.skip("site/ is older than its sources: `make check-site` rebuilds it and runs these tests", allow_module_level=True)

LESSONS = sorted(p.parent.name for p in SITE.glob("lessons/*/index.html"))
DECKS = sorted(SITE.glob("slides/*.slides.html"))
LOCAL_SCHEMES = {"data", "blob", "about"}
# A slide taller than 1280x720 is zoomed out to fit (docs/assets/slides.js). Below this zoom its
# text (28 px, code 20 px) gets too small to read from the back of a room: split the slide.
MIN_READABLE_ZOOM = 0.75
# A slide is a heading and one idea (issue 17): its prose is cut to build_slides.MAX_SLIDE_WORDS
# words (the browser splits a few tokens differently), its figures' text read from a room.
MAX_SLIDE_WORDS = build_slides.MAX_SLIDE_WORDS + 5
MIN_SLIDE_FIGURE_TEXT_PX = 18
# A figure's smallest text as shown at 1280 px, in CSS px (issue 17: tick labels were 6-8 px).
MIN_FIGURE_TEXT_PX = 11
# Code lines wider than their box at 1280 px, all lessons together (issue 17: most cells of a
# lesson scrolled sideways). None: tests/test_lesson_sources.py keeps code lines to 100 characters.
MAX_CLIPPED_CODE_LINES = 0
MIN_CONTRAST = 4.5  # WCAG 2 AA for text
# The lesson buttons, the prose and its links, printed outputs and the code's coloured words.
CONTRAST_SELECTOR = (
    ".lesson-links .md-button, .jp-RenderedMarkdown p, .jp-RenderedMarkdown a, .jp-RenderedText pre, .highlight-ipynb pre span"
)
PHONE = (390, 844)

# Text of the rendered markdown, with typeset math, code and notebook outputs taken out.
PROSE_JS = """() => Array.from(document.querySelectorAll(SELECTOR)).map(el => {
  const copy = el.cloneNode(true);
  copy.querySelectorAll('.katex, code, pre, script, style').forEach(n => n.remove());
  return copy.textContent;
}).join('\\n')"""
IMAGES_JS = """() => Array.from(document.images)
  .filter(img => !img.complete || img.naturalWidth === 0)
  .map(img => (img.getAttribute('src') || '(no src) ' + img.id).slice(0, 80))"""
RAW_MATH = re.compile(r"\$\$|\$[^$\n]*\\[A-Za-z]+|\\\(|\\\[")


class Session:
    """A browser page on the served site that records console errors and off-site requests."""

    def __init__(self, browser, base_url: str, color_scheme: str = "light", viewport=(1280, 900)):
        self.base_url = base_url
        self.context = browser.new_context(
            color_scheme=color_scheme,
            viewport={"width": viewport[0], "height": viewport[1]},
            service_workers="block",
        )
        self.errors: list[str] = []
        self.offsite: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self._failed(r))

    def _route(self, route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in LOCAL_SCHEMES or url.startswith(self.base_url):
            route.continue_()
        else:
            self.offsite.append(url)
            route.abort()

    def _failed(self, request) -> None:
        if request.url.startswith(self.base_url):
            self.errors.append(f"failed request: {request.url} ({request.failure})")

    def open(self, path: str) -> None:
        response = self.page.goto(self.base_url + path, wait_until="load")
        assert response is not None and response.ok, f"{path}: HTTP {response and response.status}"
        self.page.wait_for_load_state("networkidle")

    def check_clean(self, what: str) -> None:
        assert self.offsite == [], f"{what} requested other hosts: {self.offsite}"
        assert self.errors == [], f"{what}: {self.errors}"

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def browser_site():
    SHOTS.mkdir(exist_ok=True)
    with site_browser.serve(SITE) as base_url, sync_playwright() as playwright:
        browser = site_browser.launch(playwright)
        yield browser, base_url
        browser.close()


def _notebook(stem: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "build" / "executed" / f"{stem}.ipynb", as_version=4)


def _has_math(nb: nbformat.NotebookNode) -> bool:
    return any("$" in c.source for c in nb.cells if c.cell_type == "markdown")


def _figures(nb: nbformat.NotebookNode) -> int:
    data = [o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])]
    return sum("image/png" in d or "image/jpeg" in d for d in data)


def _animations(nb: nbformat.NotebookNode) -> int:
    html = [o.get("data", {}).get("text/html", "") for c in nb.cells for o in c.get("outputs", [])]
    return sum('class="animation"' in h for h in html)


def _check_math(session: Session, selector: str, expect_math: bool, what: str) -> None:
    page = session.page
    assert page.locator(".katex-error").count() == 0, f"{what}: KaTeX could not parse some math"
    if expect_math:
        assert page.locator(".katex").count() > 0, f"{what}: no math typeset by KaTeX"
    prose = page.evaluate(PROSE_JS.replace("SELECTOR", json.dumps(selector)))
    raw = RAW_MATH.search(prose)
    assert raw is None, f"{what}: math left as text: ...{prose[max(0, raw.start() - 40):raw.end() + 40]}..."


def test_home_page(browser_site):
    browser, base_url = browser_site
    session = Session(browser, base_url)
    session.open("")
    for stem in LESSONS:
        assert session.page.locator(f'a[href="lessons/{stem}/"]').count() >= 1, f"home page: no link to {stem}"
    assert session.page.evaluate(IMAGES_JS) == []
    session.page.screenshot(path=str(SHOTS / "home-light.jpg"), full_page=True, type="jpeg", quality=70)
    session.check_clean("home page")
    session.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("stem", LESSONS)
def test_lesson_page(browser_site, stem, scheme):
    browser, base_url = browser_site
    nb = _notebook(stem)
    session = Session(browser, base_url, color_scheme=scheme)
    session.open(f"lessons/{stem}/")
    page = session.page
    what = f"lessons/{stem}/ ({scheme})"

    expected_scheme = "slate" if scheme == "dark" else "default"
    assert page.evaluate("document.body.getAttribute('data-md-color-scheme')") == expected_scheme

    _check_math(session, ".jp-RenderedMarkdown, .jp-MarkdownOutput", _has_math(nb), what)
    assert page.evaluate(IMAGES_JS) == [], f"{what}: images that did not load"
    figures = _figures(nb)
    assert page.locator(".jp-OutputArea-output img").count() >= figures, f"{what}: expected {figures} figure(s)"
    animations = _animations(nb)
    assert page.locator("div.animation").count() == animations, f"{what}: expected {animations} animation(s)"

    colab = page.locator("a.colab-link")
    assert colab.count() == 1, f"{what}: no Open in Colab link"
    assert re.fullmatch(
        rf"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/gh-pages/notebooks/{stem}\.ipynb",
        colab.get_attribute("href"),
    )
    slides = page.locator("a.slides-link")
    assert slides.count() == 1 and slides.get_attribute("href") == f"../../slides/{stem}.slides.html"

    # Nothing wider than the page: a figure or table that overflows the content column.
    overflow = page.evaluate(
        """() => Array.from(document.querySelectorAll('.md-content img, .md-content table'))
             .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
             .map(el => el.tagName + ' ' + (el.getAttribute('src') || '').slice(0, 40))"""
    )
    assert overflow == [], f"{what}: wider than the window: {overflow}"

    # What a reader sees at 1280 px, solutions unfolded: whole code lines, readable figures, alt text.
    page.evaluate(site_browser.OPEN_FOLDS_JS)
    code = page.evaluate(site_browser.CLIPPED_CODE_JS)
    CLIPPED[stem] = code["clipped"]
    figures_text = page.evaluate(site_browser.FIGURE_TEXT_JS)
    small = [f"{f['px']:.1f} px: {f['alt']}" for f in figures_text if f["px"] < MIN_FIGURE_TEXT_PX]
    assert small == [], f"{what}: figure text under {MIN_FIGURE_TEXT_PX} px as shown: {small}"
    alts = page.evaluate(site_browser.ALT_TEXT_JS)
    assert all(alt and "No description" not in alt for alt in alts), f"{what}: figures without alt text: {alts}"
    contrast = page.evaluate(site_browser.CONTRAST_JS, CONTRAST_SELECTOR)
    low = [f"{c['ratio']:.2f}: {c['text']}" for c in contrast if c["ratio"] < MIN_CONTRAST]
    assert low == [], f"{what}: text under {MIN_CONTRAST}:1 contrast: {low[:5]}"
    html = (SITE / "lessons" / stem / "index.html").stat().st_size
    assert html <= page_weight.HTML_LIMIT, f"{what}: {html / 1e6:.2f} MB of HTML"

    page.screenshot(path=str(SHOTS / f"{stem}-{scheme}.jpg"), full_page=True, type="jpeg", quality=70)
    session.check_clean(what)
    session.close()


CLIPPED: dict[str, list[str]] = {}  # lesson -> its code lines wider than their box at 1280 px


def test_code_lines_fit_at_1280_px(browser_site):
    """Runs after test_lesson_page has measured every lesson (pytest keeps the file's order)."""
    if not CLIPPED:
        pytest.skip("no lesson page was measured")
    total = sum(len(lines) for lines in CLIPPED.values())
    report = {stem: lines[:3] for stem, lines in CLIPPED.items() if lines}
    assert total <= MAX_CLIPPED_CODE_LINES, f"{total} code lines wider than their box at 1280 px: {report}"


@pytest.mark.parametrize("path", ["", "instructors/", *(f"lessons/{stem}/" for stem in LESSONS)], ids=lambda p: p.strip("/") or "home")
def test_phone_page_cuts_nothing_off(browser_site, path):
    browser, base_url = browser_site
    session = Session(browser, base_url, viewport=PHONE)
    session.open(path)
    session.page.evaluate(site_browser.OPEN_FOLDS_JS)
    problems = session.page.evaluate(site_browser.OVERFLOW_JS)
    name = path.strip("/").replace("lessons/", "") or "home"
    session.page.screenshot(path=str(SHOTS / f"{name}-phone.jpg"), full_page=True, type="jpeg", quality=70)
    assert problems == [], f"{path or 'home page'} on a {PHONE[0]} px phone: {problems[:6]}"
    if path in ("", "instructors/"):  # the lesson map and the workshop schedule fit without scrolling
        wide = session.page.evaluate(
            "() => Array.from(document.querySelectorAll('.md-content table'))"
            ".filter(t => t.scrollWidth > t.clientWidth + 1).map(t => t.textContent.trim().slice(0, 40))"
        )
        assert wide == [], f"{path or 'home page'}: tables wider than a {PHONE[0]} px phone: {wide}"
    session.check_clean(f"{path} (phone)")
    session.close()


@pytest.mark.skipif(not DECKS, reason="site/ has no slide decks")
@pytest.mark.parametrize("deck", DECKS, ids=lambda deck: deck.name.removesuffix(".slides.html"))
def test_slide_deck(browser_site, deck):
    browser, base_url = browser_site
    stem = deck.name.removesuffix(".slides.html")
    nb = _notebook(stem)
    session = Session(browser, base_url, viewport=(1280, 720))
    session.open(f"slides/{deck.name}")
    page = session.page
    page.wait_for_selector("html[data-deck-ready]", state="attached")
    what = f"slides/{deck.name}"

    _check_math(session, ".jp-RenderedMarkdown, .jp-MarkdownOutput", _has_math(nb), what)
    assert page.evaluate(IMAGES_JS) == [], f"{what}: images that did not load"
    assert page.locator("div.animation").count() == _animations(nb)
    assert page.locator("details.solution").count() == 0, f"{what}: shows a solution"
    alts = page.evaluate(site_browser.ALT_TEXT_JS)
    assert all(alt and "No description" not in alt for alt in alts), f"{what}: figures without alt text: {alts}"

    total = page.evaluate("Reveal.getTotalSlides()")
    kinds = [c.metadata.get("slideshow", {}).get("slide_type", "-") for c in build_slides.deck_cells(nb).cells]
    shown = [kind for kind in kinds if kind not in ("skip", "notes")]
    starts = sum(kind in build_slides.STARTS for kind in shown) + (shown[0] not in build_slides.STARTS)
    assert total == starts, f"{what}: {total} slides for {starts} slide starts"
    folder = SHOTS / "slides" / stem
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.jpg"):
        stale.unlink()
    assert not page.evaluate(site_browser.OVERLAP_JS, [".reveal .slide-number", ".reveal .controls"]), \
        f"{what}: the slide number covers the controls"
    small_figures, with_notes = [], 0
    for index in range(total):
        # Every slide's content fits the 1280x720 slide, at most a little zoomed out.
        zoom, scrolls, height = page.evaluate(
            """() => { const s = Reveal.getCurrentSlide();
                 return [parseFloat(s.style.zoom || '1'), s.classList.contains('deck-scroll'), s.scrollHeight]; }"""
        )
        assert not scrolls and height * zoom <= 730, f"{what}: slide {index + 1} is cut off"
        assert zoom >= MIN_READABLE_ZOOM, f"{what}: slide {index + 1} is zoomed to {zoom:.2f} to fit: split it"
        slide = page.evaluate(site_browser.SLIDE_JS)
        assert slide["heading"], f"{what}: slide {index + 1} has no heading"
        assert slide["words"] <= MAX_SLIDE_WORDS, f"{what}: slide {index + 1} shows {slide['words']} words of prose"
        assert slide["code"] <= build_slides.MAX_SLIDE_CODE_LINES, f"{what}: slide {index + 1} shows {slide['code']} lines of code"
        small_figures += [f"slide {index + 1}: {f['px']:.1f} px: {f['alt']}" for f in slide["figures"]
                          if f["px"] < MIN_SLIDE_FIGURE_TEXT_PX]
        with_notes += slide["notes"]
        page.screenshot(path=str(folder / f"{index + 1:02d}.jpg"), type="jpeg", quality=70)
        page.evaluate("Reveal.next()")
    assert small_figures == [], f"{what}: figure text under {MIN_SLIDE_FIGURE_TEXT_PX} px on a slide: {small_figures}"
    assert with_notes > 0, f"{what}: no slide has speaker notes"
    session.check_clean(what)
    session.close()
