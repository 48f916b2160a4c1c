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
