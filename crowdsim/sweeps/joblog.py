"""One progress line for an experiment's runs, and their details in a log file.

While an experiment (``crowdsim-compare``) runs its grid, everything the runs and Hydra print
(Hydra's job list, each job's result line, warnings, errors) goes to a log file in the output
folder instead of the terminal: the process's standard output and error are redirected at the
file-descriptor level, so job processes started meanwhile write there too. The terminal gets one
line, ``[crowdsim-compare] 12/54 runs done, 1 failed (35 s)``: on a terminal it is rewritten in
place; otherwise (a pipe, a log collector) a plain line is printed when the count changes, at
most every ``every_plain`` seconds, and at the end.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOG_FILE = "compare.log"
TICK = 1.0  # assumption: seconds between counts on a terminal (a count costs a stat per run)
EVERY_PLAIN = 10.0  # assumption: a plain progress line at most every 10 s (a pipe, a CI log)


def count_finished(run_dirs: list[Path]) -> tuple[int, int]:
    """(runs finished, of which failed): a run folder with DONE.json or FAILED.json."""
    done = failed = 0
    for d in run_dirs:
        if (d / "DONE.json").exists():
            done += 1
        elif (d / "FAILED.json").exists():
            failed += 1
    return done + failed, failed


@contextmanager
def runs_logged(
    log_path: Path,
    run_dirs: list[Path],
    prog: str,
    stream=None,
    every_plain: float = EVERY_PLAIN,
    tick: float = TICK,
) -> Iterator[Callable[[], str]]:
    """Redirect stdout and stderr to ``log_path`` (appended) while the block runs, and show the
    count of finished ``run_dirs`` on ``stream`` (default: the real standard error). Yields a
    function returning the last progress text."""
    stream = stream if stream is not None else sys.stderr
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        shown = os.fdopen(os.dup(stream.fileno()), "w", buffering=1)
        tty = shown.isatty()
    except (AttributeError, OSError, ValueError):  # a stream without a descriptor (tests)
        shown, tty = stream, False
    total = len(run_dirs)
    start = time.monotonic()
    stop = threading.Event()
    state = {"text": ""}

    def text() -> str:
        n, failed = count_finished(run_dirs)
        bad = f", {failed} failed" if failed else ""
        return f"[{prog}] {n}/{total} runs done{bad} ({time.monotonic() - start:.0f} s)"

    def watch() -> None:
        last_plain, last_count = -1e9, None
        while True:
            stopping = stop.wait(tick)
            t = text()
            state["text"] = t
            count = t.split(" (", 1)[0]
            now = time.monotonic()
            if tty:
                shown.write("\r" + t + "\x1b[K")
                shown.flush()
            elif stopping or (count != last_count and now - last_plain >= every_plain):
                shown.write(t + "\n")
                shown.flush()
                last_plain, last_count = now, count
            if stopping:
                if tty:
                    shown.write("\n")
                    shown.flush()
                return

    py_streams = sys.stdout, sys.stderr
    with open(log_path, "a", buffering=1) as log:
        os.dup2(log.fileno(), 1)  # what job processes and C code write
        os.dup2(log.fileno(), 2)
        # what Python code writes, whatever sys.stdout was: through descriptors 1 and 2, so a
        # logging handler made meanwhile writes to the terminal again once they are restored
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        thread = threading.Thread(target=watch, name=f"{prog}-progress", daemon=True)
        thread.start()
        try:
            yield lambda: state["text"]
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            stop.set()
            thread.join(timeout=10)
            sys.stdout, sys.stderr = py_streams
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            if shown is not stream:
                shown.close()
