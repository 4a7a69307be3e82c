"""Files written whole or not at all, and JSON read back: one function for each operation.

Every result file crowdsim writes (a run's tables, a job's markers, a sweep's manifest, a
comparison's report, a calibration's outputs, a checkpoint) goes through :func:`atomic_write`:
a temporary file in the same folder, then a rename, so a reader sees the old file or the new
one, never half of one; a killed process leaves at most a hidden ``.NAME.*.tmp`` file.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from pathlib import Path

# Files this process wrote (absolute paths): a failed job's clean-up deletes only these, never a
# file of the same name that crowdsim did not write (crowdsim.sweeps.job)
WRITTEN: set[str] = set()


def atomic_write(path: str | Path, write) -> Path:
    """Write a file atomically: ``write(tmp_path)`` fills a temporary file in the same folder,
    which is then renamed over ``path`` (readers see the old file or the new one, never half).
    The temporary file is created exclusively and the rename replaces a symbolic link at
    ``path`` rather than writing through it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        WRITTEN.add(os.path.abspath(path))
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:
            raise _naming(exc, path) from exc
        raise
    return path


def _naming(exc: OSError, path: Path) -> OSError:
    """The same I/O error with the file it was writing (pyarrow's errors name no file and carry
    their errno only in the message: "... Detail: [errno 28] No space left on device")."""
    code = exc.errno
    if code is None:
        m = re.search(r"\[errno (\d+)\]", str(exc), flags=re.I)
        code = int(m.group(1)) if m else None
    strerror = os.strerror(code) if code is not None else (exc.strerror or str(exc))
    return OSError(code, strerror, str(path))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def atomic_write_parquet(path: str | Path, df) -> Path:
    return atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))


def atomic_write_csv(path: str | Path, df) -> Path:
    """A data frame as CSV, without its index."""
    return atomic_write_text(path, df.to_csv(index=False))


def atomic_write_figure(path: str | Path, fig) -> Path:
    """A matplotlib figure, in the format that the file's suffix names (PNG by default)."""
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png", dpi=120, bbox_inches="tight")
    return atomic_write_bytes(path, buf.getvalue())


def read_json(path: Path) -> dict | None:
    """The JSON object in ``path``, or None if it is missing or unreadable."""
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
