"""Execute every lesson into build/executed/NN_topic.ipynb, with a cache.

    python scripts/execute_lessons.py                 # every lesson in lessons/
    python scripts/execute_lessons.py lessons/05_*.py # only these
    COURSE_FAST=1 python scripts/execute_lessons.py   # what the site build does

A lesson is re-executed only when something that can change its outputs changed: the
source of its code cells, the library (course_lib/**/*.py and its weights files),
requirements.lock, or the fast/full mode. When only the prose (markdown cells) changed,
the cached outputs are kept and the current markdown is merged in, which takes a moment.
The key is stored in the executed notebook's metadata under "course_build".

`make test` executes the lessons first with nbmake: scripts/build_notebooks.py stamps each
notebook in build/notebooks/ with the same key, and `pytest --nbmake --overwrite` writes the
outputs back. A lesson missing from the cache whose tested notebook carries its key and ran
to the end is taken from there instead of being executed a second time.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime
from pathlib import Path

import jupytext
import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

ROOT = Path(__file__).resolve().parent.parent
LESSON_GLOB = "[0-9][0-9]_*.py"
EXECUTED = Path("build", "executed")  # the site's notebooks, this script's cache
TESTED = Path("build", "notebooks")  # written by build_notebooks.py, run in place by nbmake
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


def read_stamped(path: Path, key: str) -> nbformat.NotebookNode | None:
    """The notebook at ``path`` if it exists and its "course_build" key is ``key``, else None."""
    if not path.exists():
        return None
    nb = nbformat.read(path, as_version=4)
    return nb if nb.metadata.get("course_build", {}).get("key") == key else None


def ran_to_completion(nb: nbformat.NotebookNode) -> bool:
    """Whether every code cell of a notebook executed by nbmake ran and finished without error.

    A failed nbmake run still writes the notebook; its failing cell has an error output or,
    after a timeout, no execute reply.
    """
    for cell in nb.cells:
        if cell.cell_type != "code" or not cell.source.strip():  # nbclient skips blank cells
            continue
        if "shell.execute_reply" not in cell.metadata.get("execution", {}):
            return False
        if "raises-exception" not in cell.metadata.get("tags", []) and any(
            output.output_type == "error" for output in cell.outputs
        ):
            return False
    return True


def run_seconds(nb: nbformat.NotebookNode) -> float:
    """Wall time from the first to the last cell timestamp that nbclient recorded (nbmake records them)."""
    stamps = [
        datetime.fromisoformat(stamp.replace("Z", "+00:00"))  # Python 3.10 does not read "Z"
        for cell in nb.cells
        if cell.cell_type == "code"
        for stamp in cell.metadata.get("execution", {}).values()
    ]
    return (max(stamps) - min(stamps)).total_seconds() if stamps else float("nan")


_CARRIAGE_RETURN = re.compile(r".*\r(?=[^\n])")  # a line up to its last \r: what the redraw hid


def coalesce_streams(outputs: list) -> list:
    """One stdout and one stderr output per cell, each line in its final state.

    Progress bars redraw their line after a \\r: only the last drawing is kept. stdout goes
    before stderr when they are adjacent, since their arrival order is not deterministic.
    This is what nbclient's ``coalesce_streams`` does, applied after execution so that the
    outputs of nbmake's run (which does not coalesce) and of this script's run match.
    """
    merged, streams = [], {}
    for output in outputs:
        if output.output_type != "stream":
            merged.append(output)
        elif output.name in streams:
            streams[output.name].text += output.text
        else:
            streams[output.name] = output
            merged.append(output)
    for output in streams.values():
        output.text = _CARRIAGE_RETURN.sub("", output.text)
    for i in range(len(merged) - 1):
        if merged[i].get("name") == "stderr" and merged[i + 1].get("name") == "stdout":
            merged[i], merged[i + 1] = merged[i + 1], merged[i]
    return merged


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
    """Run every cell of ``nb`` in place in a fresh python3 kernel started in ``workdir``.

    Stream outputs are left as they arrived; build_lesson coalesces them, as it does nbmake's.
    """
    with tempfile.TemporaryDirectory() as sockets:  # local IPC sockets instead of TCP ports
        kernel = KernelManager(kernel_name="python3", transport="ipc", connection_file=f"{sockets}/kernel.json")
        client = NotebookClient(
            nb,
            km=kernel,
            timeout=timeout,
            allow_errors=False,  # a cell that should fail must carry the "raises-exception" tag
            record_timing=False,  # no timestamps: unchanged lessons give byte-identical notebooks
            resources={"metadata": {"path": str(workdir)}},
        )
        try:
            client.execute()
        finally:
            kernel.shutdown_kernel()  # the client only shuts down kernels it created itself


def build_lesson(path: Path, out_dir: Path, tested_dir: Path, lib_hash: str, fast: bool, timeout: int) -> str:
    """Bring ``out_dir/<stem>.ipynb`` up to date; return what was done, for the progress line.

    On a cache miss the outputs come from ``tested_dir/<stem>.ipynb`` when nbmake ran it to
    the end with the same key, else from executing the lesson.
    """
    nb = read_lesson(path)
    key = cache_key(nb, lib_hash, fast)
    target = out_dir / f"{path.stem}.ipynb"
    cached = read_stamped(target, key)
    if cached is not None:
        text = nbformat.writes(merge_outputs(nb, cached)) + "\n"
        if target.read_text(encoding="utf-8") == text:
            return "cached"
        target.write_text(text, encoding="utf-8")
        return "cached, prose updated"
    tested = read_stamped(tested_dir / f"{path.stem}.ipynb", key)
    if tested is not None and ran_to_completion(tested):
        nb = merge_outputs(nb, tested)
        seconds = run_seconds(tested)
        done = f"taken from the nbmake run ({seconds:.1f} s)"
    else:
        start = time.perf_counter()
        execute(nb, out_dir, timeout)
        seconds = time.perf_counter() - start
        done = f"executed in {seconds:.1f} s"
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    nb.metadata["course_build"] = {"key": key, "fast": fast, "seconds": round(seconds, 1)}
    target.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return done


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
    out_dir = root / EXECUTED
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
            return build_lesson(path, out_dir, root / TESTED, lib_hash, FAST, args.timeout)
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
