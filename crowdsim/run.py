"""``run(cfg) -> Results``: config in, results out. Writing to disk is separate (``write_results``)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crowdsim.config import to_config
from crowdsim.files import atomic_write_parquet, atomic_write_text
from crowdsim.text import json_safe

if TYPE_CHECKING:
    from crowdsim.metrics.summary import Results


def run(
    cfg: Any = None,
    progress: bool = False,
    checkpoint_dir: str | Path | None = None,
    warmup_dir: str | Path | None = None,
    **overrides: Any,
) -> Results:
    """Simulate one configuration and return its results as data.

    Args:
        cfg: a Hydra/OmegaConf config, dict, :class:`~crowdsim.config.CrowdSimConfig` or None (defaults).
        progress: show a progress bar (days simulated, ETA) on the terminal when the run
            takes more than a few seconds; off when stderr is not a terminal.
        checkpoint_dir: where the run keeps its checkpoints (``sim.checkpoint_days``): it
            resumes from the latest valid one there, and writes one every
            ``sim.checkpoint_days`` days. None: no checkpoints.
        warmup_dir: where runs of a sweep share their warm-up (``sim.share_warmup``): a run
            with a reform starts from the market saved there at its reform day, or simulates
            the warm-up and saves it there for the others.
        **overrides: dotted options with ``__`` for dots, e.g. ``sim__days=7``.

    Raises:
        ConfigError: a bad value, or a size whose estimated memory exceeds what is available
            (checked before anything is allocated).
        CheckpointError: ``sim.start_from`` or a checkpoint in ``checkpoint_dir`` belongs to
            another config or crowdsim version.
    """
    from crowdsim.resources import check_memory

    config = to_config(cfg, **overrides)
    check_memory(config)
    model, share = _start(config, checkpoint_dir, warmup_dir)
    if share is not None:  # the first run of this warm-up: simulate it and save it for the others
        from crowdsim import checkpoint

        model.run(hours=config.sim.reform_day * 24 - model.hour)
        checkpoint.save(model, share)
    every = config.sim.checkpoint_days if checkpoint_dir is not None else None
    if progress:
        _run_with_progress(model, checkpoint_dir=checkpoint_dir, every_days=every)
    elif every:
        while model.hour < model.n_hours:
            model.run(hours=24)
            _maybe_checkpoint(model, checkpoint_dir, every)
    else:
        model.run()
    res = model.results()
    res.summary["phase_seconds"] = {k: round(v, 4) for k, v in model.phase_seconds.items()}
    return res


def _start(config, checkpoint_dir: str | Path | None, warmup_dir: str | Path | None = None):
    """The model a run starts from, and where to save its warm-up for other runs (or None):
    resumed from the latest valid checkpoint in ``checkpoint_dir`` (a corrupt or truncated one is
    passed over for the one before), else branched from ``sim.start_from``, else from the shared
    warm-up in ``warmup_dir`` (``sim.share_warmup``), else new at hour 0."""
    import logging

    from crowdsim import checkpoint
    from crowdsim.model import CrowdWorkModel

    found = checkpoint.latest(checkpoint_dir) if checkpoint_dir is not None else []
    for path in found:
        try:
            model = checkpoint.restore(config, path)
        except checkpoint.CheckpointMismatch:
            raise  # another version or config: an earlier checkpoint would not match either
        except checkpoint.CheckpointError as exc:  # truncated or corrupt
            logging.getLogger(__name__).warning("%s; trying an earlier checkpoint", exc)
            continue
        logging.getLogger(__name__).info("resumed from %s (hour %d)", path, model.hour)
        return model, None
    if config.sim.start_from is not None:
        return checkpoint.restore(config, config.sim.start_from, branch=True), None
    if warmup_dir is not None and config.sim.share_warmup:
        sim = config.sim
        reform = sim.reform_day is not None
        if reform or sim.warmup_days >= 1:
            # a run with a reform branches from its market at the reform day; a run without one
            # (crowdsim-compare's long-run baseline) from its market at the end of the warm-up,
            # if runs with a reform saved it: the same market, so the same results
            hour = None if reform else int(sim.warmup_days * 24)
            shared = Path(warmup_dir) / checkpoint.warmup_name(config, hour)
            if shared.is_file() and not shared.is_symlink():
                try:
                    model = checkpoint.restore(config, shared, branch=True)
                except checkpoint.CheckpointError as exc:  # simulated again (and saved anew)
                    logging.getLogger(__name__).warning("%s; simulating the warm-up", exc)
                else:
                    logging.getLogger(__name__).info(
                        "started from the shared warm-up %s (hour %d)", shared.name, model.hour
                    )
                    return model, None
            return CrowdWorkModel(config, create_agents=False), shared if reform else None
    return CrowdWorkModel(config, create_agents=False), None


def _maybe_checkpoint(model, checkpoint_dir, every_days: int | None) -> None:
    """After a simulated day: a checkpoint every ``every_days`` days (not at the end, whose
    results are written instead), keeping the ``sim.checkpoint_keep`` latest."""
    from crowdsim import checkpoint

    if not every_days or checkpoint_dir is None or model.hour >= model.n_hours:
        return
    if model.hour % (24 * every_days):
        return
    folder = Path(checkpoint_dir)
    checkpoint.save(model, folder / checkpoint.checkpoint_name(model.hour))
    checkpoint.prune(folder, model.config.sim.checkpoint_keep)


def _run_with_progress(
    model, delay_seconds: float = 3.0, checkpoint_dir=None, every_days: int | None = None
) -> None:
    """Step ``model`` hour by hour with a tqdm bar in days (shown after ``delay_seconds``, and
    only when stderr is a terminal)."""
    import sys

    from tqdm import tqdm

    days = model.n_hours / 24
    columns, lines = _terminal_size(sys.stderr)
    with tqdm(
        total=days,
        initial=model.hour / 24,  # a run resumed from a checkpoint
        unit="day",
        desc="simulating",
        delay=delay_seconds,
        disable=not sys.stderr.isatty(),
        file=sys.stderr,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| day {n:.0f}/{total:.0f} [{elapsed}<{remaining}]",
        # a terminal that reports no size (0 x 0: a pseudo-terminal nobody sized, as under
        # `script` or some CI runners) got no bar at all: 80 x 24 then
        ncols=columns or 80,
        nrows=lines or 24,
        dynamic_ncols=bool(columns),
    ) as bar:
        while model.hour < model.n_hours:
            if INTERRUPTED.is_set():  # Ctrl-C, acted on between days (crowdsim.sweeps.app)
                raise KeyboardInterrupt
            model.run(hours=24)  # a day at a time: the same steps as model.run()
            _maybe_checkpoint(model, checkpoint_dir, every_days)
            bar.update(1)


def _terminal_size(stream) -> tuple[int, int]:
    """Columns and lines of the terminal ``stream`` writes to; 0 for what it does not report."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return 0, 0
    return size.columns, size.lines


# Set by the ``crowdsim`` command's SIGINT handler: a single run stops at the end of the day
# being simulated rather than inside compiled (numba) code, where an interrupt can crash Python.
INTERRUPTED = threading.Event()


# git is run with an environment of its own, never the job's: a fixed PATH (so a config or an
# inherited PATH cannot choose which `git` runs), no system, global or user config (a planted
# ~/.gitconfig cannot add an fsmonitor or a pager), a temporary HOME, and hooks and the fsmonitor
# off on the command line (they would run commands, even from the checkout's own .git/config).
GIT_PATH = "/usr/bin:/bin"
GIT_OPTIONS = ("-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null")


def git_env(home: str) -> dict[str, str]:
    """The whole environment git runs with (nothing inherited)."""
    return {
        "PATH": GIT_PATH,
        "HOME": home,
        "XDG_CONFIG_HOME": home,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_OPTIONAL_LOCKS": "0",  # `git status` writes no index lock in the checkout
        "LC_ALL": "C",
    }


def run_git(*args: str, timeout: float = 10) -> subprocess.CompletedProcess | None:
    """Run ``git ARGS`` in crowdsim's own folder with :func:`git_env`; None when git is not
    installed in /usr/bin or /bin, or fails to start or finish."""
    import shutil

    git = shutil.which("git", path=GIT_PATH)
    if git is None:
        return None
    try:
        with tempfile.TemporaryDirectory(prefix="crowdsim-git-") as home:
            return subprocess.run(
                [git, *GIT_OPTIONS, *args],
                cwd=Path(__file__).resolve().parent,
                env=git_env(home),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
    except (OSError, subprocess.SubprocessError):
        return None


def git_revision() -> str | None:
    out = run_git("rev-parse", "HEAD", timeout=5)
    if out is None or out.returncode != 0:
        return None
    return out.stdout.strip() or None


LIBRARIES = ("numpy", "numba", "mesa", "hydra-core", "omegaconf", "pandas", "pyarrow", "scipy")


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries a run's results depend on (None: not installed), and
    Python's, as written in provenance.json: the same config, seed and crowdsim version give the
    same results only with the same numpy, numba and scipy (random draws, compiled code)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


DONE_FILE = "DONE.json"


def config_digest(resolved_config: dict) -> str:
    """SHA-256 of a resolved config as canonical JSON: what identifies a job when a sweep resumes."""
    text = json.dumps(resolved_config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def write_results(
    res: Results,
    out_dir: str | Path,
    resolved_config: dict | None = None,
    provenance: dict | None = None,
) -> Path:
    """Write summary.json, timeseries.parquet, workers.parquet, requesters.parquet, config.yaml and
    provenance.json (seed, scenario, versions of crowdsim and of its libraries, git revision)
    into ``out_dir``, each atomically; ``DONE.json`` last marks the job complete.

    ``provenance`` adds entries (e.g. a sweep job's overrides) to provenance.json and DONE.json;
    both also carry ``config_sha256``, the :func:`config_digest` of the resolved config."""
    from omegaconf import OmegaConf

    import crowdsim

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = resolved_config if resolved_config is not None else res.config
    atomic_write_parquet(out / "timeseries.parquet", res.timeseries)
    atomic_write_parquet(out / "workers.parquet", res.workers)
    atomic_write_parquet(out / "requesters.parquet", res.requesters)
    atomic_write_text(out / "config.yaml", OmegaConf.to_yaml(OmegaConf.create(cfg)))
    prov = {
        "seed": res.summary.get("seed"),
        "scenario": res.summary.get("scenario"),
        "crowdsim_version": crowdsim.__version__,
        "git_revision": git_revision(),
        "config_sha256": config_digest(cfg),
        "libraries": library_versions(),
    } | dict(provenance or {})
    atomic_write_text(out / "provenance.json", json.dumps(prov, indent=2))
    summary = dict(res.summary) | {"crowdsim_version": crowdsim.__version__}
    # a metric with no data (None or NaN) is null: standard JSON, unlike json.dumps' NaN
    atomic_write_text(
        out / "summary.json",
        json.dumps(json_safe(summary), indent=2, default=float, allow_nan=False),
    )
    atomic_write_text(out / DONE_FILE, json.dumps({"status": "ok"} | prov))
    return out
