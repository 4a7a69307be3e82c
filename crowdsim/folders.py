"""A run owns its folder: what crowdsim may write into, and how it keeps it to itself.

Every folder crowdsim writes results into (a single run's ``hydra.run.dir``, a sweep's
``hydra.sweep.dir``, a comparison's ``--out``) is *claimed* before anything is written there,
Hydra's own files included (the callback's ``on_run_start`` / ``on_multirun_start`` run before
Hydra creates the job's folder, saves ``.hydra/`` or opens the log):

- a folder that does not exist, or is empty, is created and marked: ``.crowdsim-owner`` is created
  exclusively (``O_CREAT | O_EXCL | O_NOFOLLOW``) and records what owns it (a run, a sweep, a
  comparison);
- a folder holding that mark for the same kind of owner is crowdsim's own (a run or sweep run
  again resumes; a different sweep is refused by its manifest, as before); so is a folder a
  crowdsim without the mark wrote (its ``sweep_jobs.json``, or a run's DONE.json or FAILED.json
  beside ``.hydra/``), which is then marked;
- anything else is refused with one line (exit status 2): a non-empty folder crowdsim did not
  write, a folder owned by another kind of crowdsim command, a symbolic link in place of the
  folder or anywhere inside it (crowdsim creates none, so none is followed), a folder another
  crowdsim command is writing into right now.

The last is a lock, not a check: the claiming process holds an exclusive ``flock`` on the mark
until its run, sweep or comparison ends (or the process exits), so that of two commands started
at the same moment into one folder exactly one is accepted. ``flock`` works between processes of
one machine and on most network file systems of a cluster (NFSv4, Lustre, GPFS); where it does
not, the mark still refuses a second command that starts after the first has written it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import stat
import time
from pathlib import Path

OWNER_FILE = ".crowdsim-owner"
KINDS = {"run": "a single run", "sweep": "a sweep", "compare": "a comparison"}
# folders claimed by this process: absolute path -> (kind, fd of the mark, holding the lock)
_HELD: dict[str, tuple[str, int]] = {}


class FolderRefused(Exception):
    """A folder crowdsim may not write into; the message says why (one line)."""


def _key(folder: str | Path) -> str:
    return os.path.abspath(os.path.expanduser(str(folder)))


def held(folder: str | Path) -> str | None:
    """The kind of owner this process claimed ``folder`` as, or None."""
    entry = _HELD.get(_key(folder))
    return entry[0] if entry else None


def _legacy_owner(folder: Path, kind: str) -> bool:
    """A folder an earlier crowdsim wrote without the mark: a sweep's manifest, a run's markers
    beside Hydra's ``.hydra/``, or a comparison's runs (the files' names as those versions wrote
    them: a folder's claim sits below the sweeps that name these files today)."""
    from crowdsim.files import read_json

    if kind == "sweep":
        data = read_json(folder / "sweep_jobs.json")
        return bool(data and data.get("crowdsim_version"))
    if kind == "run":
        marks = [read_json(folder / n) for n in ("DONE.json", "FAILED.json")]
        return (folder / ".hydra").is_dir() and any(m and m.get("crowdsim_version") for m in marks)
    if kind == "compare":
        return _legacy_owner(folder / "runs", "sweep")
    return False


def find_symlink(folder: str | Path) -> Path | None:
    """A symbolic link in ``folder`` or anywhere under it (none is followed), or None. One
    ``scandir`` a folder (the entry types come with it): 0.08 to 0.16 s for a 1,000-job sweep
    folder of 11 files a job, on a busy 2-core machine."""
    stack = [str(folder)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.is_symlink():
                if _submitit_link(entry):
                    continue
                return Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
    return None


def _submitit_link(entry: os.DirEntry) -> bool:
    """submitit's own link to a Slurm job's submission script (``.submitit/.submission_file_*``,
    made when the sweep submits to Slurm): crowdsim neither writes through nor follows it."""
    parent = os.path.basename(os.path.dirname(entry.path))
    return parent == ".submitit" and entry.name.startswith(".submission_file_")


_NEW = "(allowed: a new or empty folder, or one crowdsim wrote)"
_NO_LINK = "(not followed; allowed: a folder without symbolic links)"


def _refuse(folder: Path, why: str) -> FolderRefused:
    return FolderRefused(f"{str(folder)!r} {why}")


def claim(folder: str | Path, kind: str) -> Path:
    """Make ``folder`` this process's, as ``kind`` (:data:`KINDS`), before anything is written
    into it (module doc); return its absolute path. Raise :class:`FolderRefused` with why."""
    key = _key(folder)
    path = Path(key)
    if key in _HELD:
        if _HELD[key][0] != kind:
            raise _refuse(
                path,
                f"is already {KINDS[_HELD[key][0]]}'s folder in this process (allowed: another folder)",
            )
        return path
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise _refuse(
            path, "is a symbolic link crowdsim did not create (not followed; allowed: a folder)"
        )
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise _refuse(path, "is a file (allowed: a folder)")
    path.mkdir(parents=True, exist_ok=True)
    try:
        dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _refuse(
                path, "was replaced by a symbolic link (not followed; allowed: a folder)"
            ) from None
        raise
    try:
        fd = _open_mark(path, dfd)
    finally:
        os.close(dfd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise _refuse(
            path,
            "is being written by another crowdsim command right now (allowed: another folder, "
            "or this one once that command has ended)",
        ) from None
    try:
        _check_mark(path, fd, kind)
        link = find_symlink(path)
        if link is not None:
            raise _refuse(path, f"holds a symbolic link crowdsim did not create: {link} {_NO_LINK}")
    except BaseException:
        os.close(fd)  # releases the lock; the mark stays (another command may hold it next)
        raise
    _HELD[key] = (kind, fd)
    return path


def _open_mark(path: Path, dfd: int) -> int:
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(OWNER_FILE, flags | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=dfd)
    except FileExistsError:
        pass
    try:
        fd = os.open(OWNER_FILE, flags, dir_fd=dfd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
            raise _refuse(path, f"holds a {OWNER_FILE} crowdsim did not write {_NEW}") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _refuse(path, f"holds a {OWNER_FILE} crowdsim did not write {_NEW}")
    return fd


def _check_mark(path: Path, fd: int, kind: str) -> None:
    """With the lock held: a new mark (empty) is written if the folder holds nothing else (or
    what an earlier crowdsim wrote); an existing one must name the same kind of owner."""
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 65536).decode(errors="replace")
    if text.strip():
        try:
            mark = json.loads(text)
        except ValueError:
            mark = None
        if not isinstance(mark, dict) or mark.get("kind") not in KINDS:
            raise _refuse(path, f"holds a {OWNER_FILE} crowdsim did not write {_NEW}")
        if mark["kind"] != kind:
            raise _refuse(
                path,
                f"is {KINDS[mark['kind']]}'s folder (allowed: a new folder, or one of "
                f"{KINDS[kind]})",
            )
        return
    others = sorted(n for n in os.listdir(path) if n != OWNER_FILE)
    if others and not _legacy_owner(path, kind):
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        os.unlink(path / OWNER_FILE)  # created by this claim: the folder is left as it was
        raise _refuse(
            path,
            f"holds {len(others)} {'entry' if len(others) == 1 else 'entries'} crowdsim did not write ({shown}) (allowed: a new or "
            "empty folder, or one crowdsim wrote)",
        )
    record = {
        "kind": kind,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    data = json.dumps(record).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    os.fsync(fd)


def release(folder: str | Path) -> None:
    """End this process's claim on ``folder`` (its lock); the mark stays."""
    entry = _HELD.pop(_key(folder), None)
    if entry is not None:
        os.close(entry[1])


def check_job_folder(job_dir: str | Path, top: str | Path) -> None:
    """Before a sweep job's folder is written (by Hydra, then the job): no symbolic link on the
    way from the sweep's folder ``top`` to it, nor among what it holds. FolderRefused if one is."""
    job, top = Path(os.path.normpath(_key(job_dir))), Path(os.path.normpath(_key(top)))
    if top not in job.parents:
        raise _refuse(job, f"is not inside the sweep's folder {top} (allowed: a folder inside it)")
    here = job
    while here != top and top in here.parents:
        if os.path.islink(here):
            raise _refuse(here, f"is a symbolic link crowdsim did not create {_NO_LINK}")
        here = here.parent
    if job.is_dir():
        link = find_symlink(job)
        if link is not None:
            raise _refuse(job, f"holds a symbolic link crowdsim did not create: {link} {_NO_LINK}")


def release_kind(kind: str) -> None:
    """End this process's claims on every folder it claimed as ``kind``."""
    for key, (k, _fd) in list(_HELD.items()):
        if k == kind:
            release(key)
