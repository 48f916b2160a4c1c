"""Execute every lesson into build/executed/NN_topic.ipynb, with a cache.

    python scripts/execute_lessons.py                 # every lesson in lessons/
    python scripts/execute_lessons.py lessons/05_*.py # only these
    COURSE_FAST=1 python scripts/execute_lessons.py   # what the site build does

A lesson is re-executed only when something that can change its outputs changed: the
source of its code cells, the library (course_lib/**/*.py and its weights files),
requirements.lock, or the fast/full mode. When only the prose (markdown cells) changed,
the cached outputs are kept and the current markdown is merged in, which takes a moment.
The key is stored in the executed notebook's metadata under "course_build".
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import jupytext
import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

ROOT = Path(__file__).resolve().parent.parent
LESSON_GLOB = "[0-9][0-9]_*.py"
CACHE_FORMAT = "1"  # bump to invalidate every cached notebook
CELL_TIMEOUT_S = 1800


def find_lessons(root: Path) -> list[Path]:
    """Lesson files of the course, in course order (by their NN_ prefix)."""
    return sorted((root / "lessons").glob(LESSON_GLOB))


def read_lesson(path: Path) -> nbformat.NotebookNode:
    """Read a Jupytext percent-format lesson as a notebook with stable cell ids."""
    nb = jupytext.read(path)
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index}"  # deterministic ids keep rebuilt files byte-identical
    return nb


def lesson_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """Text of the first level-1 markdown heading, or ``fallback`` when there is none."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return fallback


def library_hash(root: Path) -> str:
    """Hash of everything outside a lesson that its outputs depend on."""
    files = sorted((root / "course_lib").rglob("*.py"))
    files += sorted(p for p in (root / "course_lib" / "weights").glob("*") if p.is_file())
    files.append(root / "requirements.lock")
    digest = hashlib.sha256()
    for path in files:
        if path.is_file():
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def cache_key(nb: nbformat.NotebookNode, lib_hash: str, fast: bool) -> str:
    """Key of a lesson's outputs: its code cells, the library, and the mode (not its prose)."""
    digest = hashlib.sha256(f"{CACHE_FORMAT}\0{lib_hash}\0fast={fast}\0".encode())
    for cell in nb.cells:
        if cell.cell_type == "code":
            digest.update(cell.source.encode() + b"\0")
    return digest.hexdigest()


def merge_outputs(current: nbformat.NotebookNode, cached: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``current`` (fresh from the lesson) with the outputs of ``cached``'s code cells.

    Both must have the same code cells in the same order, which equal cache keys guarantee.
    """
    cached_code = [cell for cell in cached.cells if cell.cell_type == "code"]
    current_code = [cell for cell in current.cells if cell.cell_type == "code"]
    if len(cached_code) != len(current_code):
        raise ValueError(f"cached notebook has {len(cached_code)} code cells, lesson has {len(current_code)}")
    for new, old in zip(current_code, cached_code):
        new.outputs = old.outputs
        new.execution_count = old.execution_count
    # Keep what execution added (language_info, course_build); take the lesson's own header.
    current.metadata = nbformat.from_dict({**cached.metadata, **current.metadata})
    return current


def execute(nb: nbformat.NotebookNode, workdir: Path, timeout: int) -> None:
    """Run every cell of ``nb`` in place in a fresh python3 kernel started in ``workdir``."""
    with tempfile.TemporaryDirectory() as sockets:  # local IPC sockets instead of TCP ports
        kernel = KernelManager(kernel_name="python3", transport="ipc", connection_file=f"{sockets}/kernel.json")
        client = NotebookClient(
            nb,
            km=kernel,
            timeout=timeout,
            allow_errors=False,  # a cell that should fail must carry the "raises-exception" tag
            coalesce_streams=True,  # progress bars: keep the final state of each \r-updated line
            record_timing=False,  # no timestamps: unchanged lessons give byte-identical notebooks
            resources={"metadata": {"path": str(workdir)}},
        )
        try:
            client.execute()
        finally:
            kernel.shutdown_kernel()  # the client only shuts down kernels it created itself


def build_lesson(path: Path, out_dir: Path, lib_hash: str, fast: bool, timeout: int) -> str:
    """Bring ``out_dir/<stem>.ipynb`` up to date; return what was done, for the progress line."""
    nb = read_lesson(path)
    key = cache_key(nb, lib_hash, fast)
    target = out_dir / f"{path.stem}.ipynb"
    if target.exists():
        cached = nbformat.read(target, as_version=4)
        if cached.metadata.get("course_build", {}).get("key") == key:
            merged = merge_outputs(nb, cached)
            text = nbformat.writes(merged) + "\n"
            if target.read_text(encoding="utf-8") == text:
                return "cached"
            target.write_text(text, encoding="utf-8")
            return "cached, prose updated"
    start = time.perf_counter()
    execute(nb, out_dir, timeout)
    seconds = time.perf_counter() - start
    nb.metadata["course_build"] = {"key": key, "fast": fast, "seconds": round(seconds, 1)}
    target.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return f"executed in {seconds:.1f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", type=Path, help="lesson files (default: all of lessons/)")
    parser.add_argument("--root", type=Path, default=ROOT, help="course root (default: this repository)")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT_S, help="seconds allowed per cell")
    parser.add_argument("--jobs", type=int, default=1, help="lessons executed at the same time (default 1)")
    args = parser.parse_args(argv)

    # Imported here, not at the top, so that the MkDocs hooks can use this module without torch.
    from course_lib.config import FAST  # course_lib.config is the one place that reads COURSE_FAST

    root = args.root.resolve()
    lessons = [p.resolve() for p in args.lessons] or find_lessons(root)
    if not lessons:
        print(f"no lessons matching lessons/{LESSON_GLOB} in {root}", file=sys.stderr)
        return 1
    out_dir = root / "build" / "executed"
    out_dir.mkdir(parents=True, exist_ok=True)
    if not args.lessons:  # drop notebooks of lessons that were renamed or removed
        for stale in set(out_dir.glob("*.ipynb")) - {out_dir / f"{p.stem}.ipynb" for p in lessons}:
            stale.unlink()

    lib_hash = library_hash(root)
    mode = "fast" if FAST else "full"
    print(f"Executing {len(lessons)} lesson(s) in {mode} mode into {out_dir.relative_to(root)}/ ({args.jobs} at a time)")
    failed = []
    total_start = time.perf_counter()

    def run(path: Path) -> str:
        try:
            return build_lesson(path, out_dir, lib_hash, FAST, args.timeout)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
            print(str(error), file=sys.stderr)
            failed.append(path.name)
            return "FAILED"

    # Each lesson runs in its own kernel process, so threads are enough to run several at once.
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run, path): path for path in lessons}
        for index, future in enumerate(as_completed(futures), 1):
            print(f"  [{index}/{len(lessons)}] {futures[future].name}: {future.result()}", flush=True)
    print(f"Done in {time.perf_counter() - total_start:.1f} s")
    if failed:
        print(f"{len(failed)} lesson(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
