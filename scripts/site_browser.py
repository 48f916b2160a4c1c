"""A built site in a headless browser, offline: the browser tests and the slides' PDF export.

    with serve(Path("site")) as base_url, sync_playwright() as p:   # "http://127.0.0.1:PORT/"
        browser = launch(p)

The browser is the system's Chromium (Debian: `apt-get install chromium`), driven by the
playwright package; no browser is downloaded.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        pass


@contextmanager
def serve(site: Path) -> Iterator[str]:
    """Serve the folder ``site`` on a free port of 127.0.0.1; yield its base URL."""
    if not (site / "index.html").is_file():
        raise FileNotFoundError(f"{site}/index.html not found: build the site first (make site)")
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)  # port 0: the system picks a free one
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def launch(playwright):
    """The system Chromium, headless, with nothing running in the background that goes online."""
    if not CHROMIUM.is_file():
        raise FileNotFoundError(f"{CHROMIUM} not found: install Chromium (Debian: apt-get install -y chromium)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


# --- what a reader sees: measured in the browser, checked by tests/test_browser.py -----------

# Open every fold (exercise solutions) so that their code and figures are measured too.
OPEN_FOLDS_JS = "() => document.querySelectorAll('details').forEach(d => { d.open = true; })"

# Lines of code wider than their code box (a reader must scroll sideways to see them).
CLIPPED_CODE_JS = """() => {
  const canvas = document.createElement('canvas').getContext('2d');
  const clipped = [];
  let lines = 0;
  for (const pre of document.querySelectorAll('.jp-CodeCell .jp-InputArea .highlight-ipynb pre')) {
    const style = getComputedStyle(pre);
    canvas.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const room = pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    for (const line of pre.textContent.replace(/\\n$/, '').split('\\n')) {
      lines += 1;
      if (canvas.measureText(line).width > room + 1) clipped.push(line.trim().slice(0, 60));
    }
  }
  return {lines, clipped};
}"""

# The smallest text of each figure as shown, in CSS px: the figure's smallest text in image
# pixels (data-text-px, from course_lib.plotting) times its displayed / natural width.
FIGURE_TEXT_JS = """() => Array.from(document.querySelectorAll('.jp-OutputArea-output img[data-text-px]'))
  .filter(img => img.naturalWidth > 0 && img.getBoundingClientRect().width > 0)
  .map(img => ({
    px: parseFloat(img.dataset.textPx) * img.getBoundingClientRect().width / img.naturalWidth,
    alt: (img.getAttribute('alt') || '').slice(0, 70),
  }))"""

# What the current slide of a deck shows: words of prose (build_slides.prose_words counts alike:
# headings, math, code, outputs and speaker notes left out), lines of code not folded, whether it
# has a heading, and the smallest text of each figure on it as shown (as FIGURE_TEXT_JS).
SLIDE_JS = """() => {
  const slide = Reveal.getCurrentSlide();
  const prose = slide.cloneNode(true);
  prose.querySelectorAll('aside.notes, .katex, pre, code, h1, h2, h3, h4, h5, h6, .jp-CodeCell').forEach(n => n.remove());
  const figures = Array.from(slide.querySelectorAll('.jp-OutputArea-output img[data-text-px]'))
    .filter(img => img.naturalWidth > 0 && img.getBoundingClientRect().width > 0)
    .map(img => ({px: parseFloat(img.dataset.textPx) * img.getBoundingClientRect().width / img.naturalWidth,
                  alt: (img.getAttribute('alt') || '').slice(0, 70)}));
  const code = Array.from(slide.querySelectorAll('.jp-CodeCell .jp-InputArea pre'))
    .filter(pre => !pre.closest('details:not([open])'))
    .reduce((lines, pre) => lines + pre.textContent.replace(/\\n$/, '').split('\\n').length, 0);
  return {
    words: (prose.textContent.match(/[A-Za-z0-9][\\w'’-]*/g) || []).length,
    code,
    heading: slide.querySelector('h1, h2, h3, h4') !== null,
    notes: slide.querySelector('aside.notes') !== null,
    figures,
  };
}"""

# Whether two fixed corner elements of a deck overlap (the slide number and the controls).
OVERLAP_JS = """([a, b]) => {
  const [r, s] = [a, b].map(sel => document.querySelector(sel).getBoundingClientRect());
  return r.width > 0 && s.width > 0 && r.left < s.right && s.left < r.right && r.top < s.bottom && s.top < r.bottom;
}"""

# Figures of the notebook outputs and their alt text.
ALT_TEXT_JS = """() => Array.from(document.querySelectorAll('.jp-OutputArea-output img'))
  .map(img => img.getAttribute('alt') || '')"""

# What does not fit a narrow window: the page scrolls sideways; an image, animation or figure
# wider than the window; a box that cuts its content off (overflow hidden) instead of scrolling.
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const problems = [];
  if (document.documentElement.scrollWidth > width + 1)
    problems.push('the page scrolls sideways: ' + document.documentElement.scrollWidth + ' px in ' + width);
  // Figures and animations must fit (math, tables and code may scroll inside their own box).
  for (const el of document.querySelectorAll('.md-content img, .md-content video, .md-content .animation')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > width + 1 || r.left < -1))
      problems.push(el.tagName.toLowerCase() + '.' + el.className + ' spans ' + Math.round(r.left) + '..' + Math.round(r.right) + ' px');
  }
  for (const el of document.querySelectorAll('.md-content *')) {
    if (el.closest('.katex')) continue;
    const style = getComputedStyle(el);
    if ((style.overflowX === 'hidden' || style.overflowX === 'clip') && el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0)
      problems.push('cut off: ' + el.tagName.toLowerCase() + '.' + el.className + ' ' + el.scrollWidth + ' px in ' + el.clientWidth);
  }
  return problems;
}"""

# Contrast (WCAG 2) of the text of each element matching SELECTOR against what is behind it.
CONTRAST_JS = """(selector) => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  // Text only; a heading's permalink is shown on hover, at full contrast.
  return Array.from(document.querySelectorAll(selector)).filter(el => el.textContent.trim() && !el.matches('.headerlink')).map(el => {
    const behind = background(el);
    const [red, green, blue, alpha = 1] = rgb(getComputedStyle(el).color);  // translucent text: blended over what is behind
    const text = [red, green, blue].map((v, i) => alpha * v + (1 - alpha) * behind[i]);
    const [a, b] = [lum(text), lum(behind)];
    return {text: el.textContent.trim().slice(0, 40), ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)};
  });
}"""
