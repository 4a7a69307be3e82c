"""Checkpoints: the whole market state in one file, to resume a run or branch scenarios from it.

A checkpoint is a numpy ``.npz`` archive (no pickle anywhere: it is read with
``allow_pickle=False``) holding

- every numpy array of the market's state, each under a dotted name (``workers.reservation_wage``,
  ``due_records.rows``, ``series.tasks_posted`` ...): the column stores (all rows up to their
  capacity, and the free lists of the recycling stores), the due calendars, the pool, the hourly
  series, the weekly earnings and the snapshots of the measured windows;
- ``__meta__``: one JSON document with everything else: the format and crowdsim's version, the
  hour, the SHA-256 of the config (:func:`config_sha256`) and of its pre-reform part
  (:func:`warmup_sha256`), the ledger, the counters, the state of every random-number generator
  (numpy's ``bit_generator.state`` and Python's ``random.getstate()``), and where each array
  belongs.

Format version 1. Restoring (:func:`restore`) builds a fresh model from the config and writes the
saved state into it, so what is derived from the config (the phases' parameters, country tables,
profiles) is rebuilt, and a state that a newer crowdsim holds but this file lacks is an error,
never silently a default. A checkpoint from another crowdsim version, another format version or
another config is refused with one line (:class:`CheckpointError`); so is a truncated or corrupt
file, which is never half-loaded (everything is read and checked before the model is touched).

Written atomically (a temporary file renamed over the target), so a crash while writing leaves
the previous checkpoint intact. Stepping on from a restored model gives, hour by hour, the same
results as never having stopped (``tests/test_checkpoint.py`` checks it against the frozen
regression digests).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "crowdsim-checkpoint"
FORMAT_VERSION = 1
SUFFIX = ".npz"

# Model attributes built from the config (again at a reform) or by Mesa, not saved: a fresh model
# from the same config has them. Anything else on the model must be saved, or saving fails (a
# state added to the model later cannot be forgotten silently).
DERIVED = frozenset(
    {
        "config", "reform_config", "scenario_name", "n_hours", "n_weeks", "task_types",
        "countries", "availability", "posting_weight", "post_params", "search_params",
        "review_params", "settle_params", "day_params", "type_max_per_worker",
        "restricted_allowed", "threads", "phase_seconds", "worker_agents", "requester_agents",
        "datacollector", "initial_config",
    }
)  # fmt: skip
# saved with their own rule below
SPECIAL = frozenset({"rng", "rng_post", "rng_match", "rng_review", "rng_adapt", "random", "steps"})


class CheckpointError(ValueError):
    """A checkpoint cannot be written or used; the message is one line saying why."""


class CheckpointMismatch(CheckpointError):
    """A complete checkpoint, but of another crowdsim version, format or config: resuming must
    stop rather than fall back to an earlier checkpoint (which would not match either)."""


# --- what a config is, for a checkpoint --------------------------------------------------------

# options that say where a run's checkpoints go or come from, not what the market is
_NOT_MARKET = ("checkpoint_days", "checkpoint_keep", "start_from", "share_warmup")


def _market_config(cfg) -> dict:
    from crowdsim.config import config_to_dict

    d = config_to_dict(cfg)
    sim = dict(d.get("sim", {}))
    for k in _NOT_MARKET:
        sim.pop(k, None)
    d["sim"] = sim
    return d


def _digest(d: dict) -> str:
    text = json.dumps(d, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def config_sha256(cfg) -> str:
    """What a checkpoint must match to resume: the whole config but where checkpoints go."""
    return _digest(_market_config(cfg))


def warmup_sha256(cfg) -> str:
    """What a checkpoint must match to branch from: the config without its reform (the rules
    from ``sim.reform_day`` on) and without the scenario's name: a status quo and a short-run
    scenario (the status quo, then a reform) share it, and their markets are the same up to the
    reform."""
    d = _market_config(cfg)
    d.pop("reform", None)
    d.pop("scenario_name", None)
    d["sim"] = {k: v for k, v in d["sim"].items() if k != "reform_day"}
    return _digest(d)


# --- encoding state as JSON + arrays ----------------------------------------------------------


def _classes() -> dict[str, type]:
    """The state objects a checkpoint may hold, by name (nothing else is ever constructed)."""
    from crowdsim.ledger import Ledger
    from crowdsim.market.state import Counters
    from crowdsim.metrics.windows import Snapshot
    from crowdsim.policy.min_pay import TopUps

    return {"Snapshot": Snapshot, "TopUps": TopUps, "Counters": Counters, "Ledger": Ledger}


def _encode(value: Any, key: str, arrays: dict[str, np.ndarray]) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject or value.dtype.names:
            raise CheckpointError(f"cannot save '{key}': array of dtype {value.dtype}")
        arrays[key] = value  # a view: written as it is, copied by nothing
        return {"__array__": key}
    if isinstance(value, np.generic):
        return {"__scalar__": value.dtype.str, "value": value.item()}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, f"{key}.{i}", arrays) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, f"{key}.{i}", arrays) for i, v in enumerate(value)]
    if isinstance(value, set | frozenset):
        return {"__set__": [_encode(v, key, arrays) for v in sorted(value)]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise CheckpointError(f"cannot save '{key}': a mapping with keys that are not text")
        return {"__dict__": {k: _encode(v, f"{key}.{k}", arrays) for k, v in value.items()}}
    name = type(value).__name__
    if _classes().get(name) is type(value):
        state = (
            {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            if dataclasses.is_dataclass(value)
            else vars(value)
        )
        return {"__object__": name, "state": _encode(state, key, arrays)["__dict__"]}
    raise CheckpointError(f"cannot save '{key}': a {type(value).__name__} (not a known state)")


def _decode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    if "__array__" in value:
        return arrays[value["__array__"]]
    if "__scalar__" in value:
        return np.dtype(value["__scalar__"]).type(value["value"])
    if "__tuple__" in value:
        return tuple(_decode(v, arrays) for v in value["__tuple__"])
    if "__set__" in value:
        return {_decode(v, arrays) for v in value["__set__"]}
    if "__dict__" in value:
        return {k: _decode(v, arrays) for k, v in value["__dict__"].items()}
    if "__object__" in value:
        cls = _classes().get(value["__object__"])
        if cls is None:
            raise CheckpointError(f"unknown state object {value['__object__']!r}")
        state = {k: _decode(v, arrays) for k, v in value["state"].items()}
        if dataclasses.is_dataclass(cls):
            return cls(**state)
        obj = cls.__new__(cls)
        vars(obj).update(state)
        return obj
    raise CheckpointError("unreadable state entry")


# --- the model's state -------------------------------------------------------------------------


def _store_state(store, key: str, arrays: dict) -> dict:
    """A column store: its columns (every row up to the capacity), count and free list."""
    from crowdsim.stores import RecyclingStore

    n = store.n  # rows from n on were never used: they hold the columns' fill values
    state = {"kind": "store", "capacity": store.capacity, "n": n, "columns": {}}
    for name in store._spec:
        state["columns"][name] = _encode(getattr(store, name)[:n], f"{key}.{name}", arrays)
    if isinstance(store, RecyclingStore):
        state["in_use"] = _encode(store.in_use[:n], f"{key}.__in_use", arrays)
        state["free"] = _encode(store._free[: store._n_free], f"{key}.__free", arrays)
        state["n_free"] = store._n_free
    return state


def _load_store(store, state: dict, arrays: dict, key: str) -> None:
    from crowdsim.stores import RecyclingStore

    names = set(state["columns"])
    if names != set(store._spec):
        missing = sorted(set(store._spec) - names) or sorted(names - set(store._spec))
        raise CheckpointError(f"'{key}' has other columns than this crowdsim's ({missing[0]}...)")
    capacity, n = int(state["capacity"]), int(state["n"])
    if capacity != store.capacity:
        store._build(capacity)
    for name, enc in state["columns"].items():
        col = getattr(store, name)
        col[:n] = _decode(enc, arrays)
        col[n:] = store._spec[name][1]
    store.n = n
    if isinstance(store, RecyclingStore):
        store.in_use = np.zeros(capacity, dtype=bool)
        store.in_use[:n] = _decode(state["in_use"], arrays)
        store._n_free = int(state["n_free"])
        store._free = np.empty(capacity, dtype=np.int64)
        store._free[: store._n_free] = _decode(state["free"], arrays)


_CALENDAR = ("head", "count", "rows", "next", "fill", "free", "free_top")


def _derived(model) -> frozenset:
    """What :func:`model_state` leaves out: :data:`DERIVED`, and the attributes a subclass of
    the model built from its own arguments (its ``checkpoint_derived``, e.g. the app's titles)."""
    return DERIVED | frozenset(getattr(type(model), "checkpoint_derived", ()))


def model_state(model, prefix: str = "") -> tuple[dict, dict[str, np.ndarray]]:
    """The model's whole state as (JSON-able meta, named arrays); each array's name starts
    with ``prefix`` (several models in one file)."""
    import mesa

    from crowdsim.market.state import Pool
    from crowdsim.metrics.record import Recorder
    from crowdsim.metrics.windows import Windows
    from crowdsim.stores import ColumnStore, DueCalendar

    mesa_names = _mesa_attributes(mesa)
    derived = _derived(model)
    arrays: dict[str, np.ndarray] = {}
    attrs: dict[str, Any] = {}
    for attr, value in vars(model).items():
        if attr in derived or attr in SPECIAL or attr.startswith("_") or attr in mesa_names:
            continue
        name = prefix + attr
        if isinstance(value, ColumnStore):
            attrs[attr] = _store_state(value, name, arrays)
        elif isinstance(value, DueCalendar):
            attrs[attr] = {
                "kind": "calendar",
                "arrays": {a: _encode(getattr(value, a), f"{name}.{a}", arrays) for a in _CALENDAR},
            }
        elif isinstance(value, Pool):
            state = {k: v for k, v in vars(value).items() if k != "_model"}
            attrs[attr] = {"kind": "pool", "state": _encode(state, name, arrays)}
        elif isinstance(value, Recorder | Windows):
            attrs[attr] = {"kind": "fields", "state": _encode(vars(value), name, arrays)}
        elif attr == "weekly_earnings" and value is not None:  # (weeks, worker capacity)
            rows = model.workers.n
            attrs[attr] = {"kind": "columns", "capacity": value.shape[1],
                           "state": _encode(value[:, :rows], name, arrays)}  # fmt: skip
        else:
            attrs[attr] = {"kind": "value", "state": _encode(value, name, arrays)}
    rngs = {n: getattr(model, n).bit_generator.state for n in SPECIAL if n.startswith("rng")}
    py_random = model.random.getstate()
    meta = {
        "attributes": attrs,
        "rng": rngs,
        "python_random": [py_random[0], list(py_random[1]), py_random[2]],
        "steps": int(getattr(model, "steps", 0)),
    }
    return meta, arrays


_MESA_NAMES: set[str] | None = None


def _mesa_attributes(mesa) -> set[str]:
    """What a bare Mesa model holds (its agent registry, event list, data registry...)."""
    global _MESA_NAMES
    if _MESA_NAMES is None:
        _MESA_NAMES = set(vars(mesa.Model(rng=0)))
    return _MESA_NAMES


def _load_state(model, meta: dict, arrays: dict, branch: bool) -> None:
    import mesa

    from crowdsim.stores import ColumnStore, DueCalendar

    saved = meta["attributes"]
    derived = _derived(model)
    for name in vars(model):  # every state the model holds must be in the file
        if name in derived or name in SPECIAL or name.startswith("_"):
            continue
        if name in _mesa_attributes(mesa):
            continue
        if name not in saved:
            raise CheckpointError(f"the checkpoint has no '{name}' (written by another crowdsim?)")
    for name, entry in saved.items():
        current = getattr(model, name, None)
        kind = entry["kind"]
        if kind == "store":
            if not isinstance(current, ColumnStore):
                raise CheckpointError(f"'{name}' is not a column store in this crowdsim")
            _load_store(current, entry, arrays, name)
        elif kind == "calendar":
            if not isinstance(current, DueCalendar):
                raise CheckpointError(f"'{name}' is not a calendar in this crowdsim")
            for a in _CALENDAR:
                setattr(current, a, _decode(entry["arrays"][a], arrays).copy())
        elif kind == "pool":
            state = _copy(_decode(entry["state"], arrays))
            lacking = sorted(set(vars(current)) - set(state) - {"_model"})
            if lacking:  # e.g. worker_carries, which going online reads (never a default)
                raise CheckpointError(
                    f"the checkpoint's pool has no {lacking} (written by another crowdsim?)"
                )
            vars(current).update(state)
        elif kind == "fields":
            state = _copy(_decode(entry["state"], arrays))
            if name == "windows" and branch:
                _check_same_windows(current, state)
            vars(current).update(state)
        elif kind == "columns":  # the first columns of a 2-D array, zeros after them
            saved_cols = _decode(entry["state"], arrays)
            full = np.zeros(saved_cols.shape[:1] + (int(entry["capacity"]),), saved_cols.dtype)
            full[:, : saved_cols.shape[1]] = saved_cols
            setattr(model, name, full)
        elif name == "series":
            # a series the branch's rules add (e.g. the waitlist's) is zero before the branch,
            # as it is in a run that never stopped; one that only the checkpoint's rules add is
            # not the branch's
            for k, v in _decode(entry["state"], arrays).items():
                if k in current:
                    current[k][...] = v
                elif not branch:
                    raise CheckpointError(f"the checkpoint has a series '{k}' this run has not")
        else:
            setattr(model, name, _copy(_decode(entry["state"], arrays)))
    for n, state in meta["rng"].items():
        getattr(model, n).bit_generator.state = state
    v, internal, gauss = meta["python_random"]
    model.random.setstate((v, tuple(internal), gauss))
    if hasattr(model, "steps"):
        model.steps = meta["steps"]


def _check_same_windows(current, state: dict) -> None:
    if current.spans != state["spans"] or current.warmup_hours != state["warmup_hours"]:
        raise CheckpointError(
            "the branch's measured windows differ from the checkpoint's run (sim.warmup_days, "
            "sim.days or sim.steady_window_days differ, or a reform splits a window)"
        )
    # the branch's own reform hour (the checkpoint's run may have none)
    state["reform_hour"] = current.reform_hour


def _copy(value: Any) -> Any:
    """Writable copies of the arrays read from the file (an ``npz`` hands out fresh arrays, but
    one array may appear in two places of the state)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            setattr(value, f.name, _copy(getattr(value, f.name)))
        return value
    if hasattr(value, "__dict__") and not isinstance(value, type):
        vars(value).update({k: _copy(v) for k, v in vars(value).items()})
    return value


# --- files --------------------------------------------------------------------------------------


def save(
    model, path: str | Path, *, extra: Any = None, companions: dict[str, Any] | None = None
) -> Path:
    """Write the model's whole state to ``path`` (an ``.npz``), atomically. Returns the path.

    Args:
        model: the model.
        path: the file to write.
        extra: more data for whoever saves (e.g. the browser app's settings and plotted
            history): numbers, text, lists, dicts with text keys and numpy arrays; read back
            with :func:`extra`.
        companions: more models saved whole in the same file, by name (e.g. the app's market
            with the next seed); read back with :func:`load_into` and ``companion=name``.
    """
    from crowdsim.files import atomic_write

    meta, arrays = _file_state(model)
    if extra is not None:
        meta["extra"] = _encode(extra, "__extra__", arrays)
    for name, other in (companions or {}).items():
        if not name.isidentifier():
            raise CheckpointError(f"cannot save companion {name!r}: not an identifier")
        other_meta, other_arrays = _file_state(other, prefix=f"__{name}__.")
        meta.setdefault("companions", {})[name] = other_meta
        arrays |= other_arrays
    return atomic_write(path, lambda tmp: _write_npz(tmp, meta, arrays))


def _file_state(model, prefix: str = "") -> tuple[dict, dict[str, np.ndarray]]:
    """:func:`model_state` with what identifies it: format, version, hour and config hashes."""
    import crowdsim

    meta, arrays = model_state(model, prefix)
    meta |= {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "crowdsim_version": crowdsim.__version__,
        "hour": int(model.hour),
        "config_sha256": config_sha256(model.initial_config),
        "warmup_sha256": warmup_sha256(model.initial_config),
    }
    return meta, arrays


def _write_npz(path: str, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """An ``.npz`` as :func:`numpy.savez` writes it (stored, not compressed), one array at a
    time straight from the model's columns: no copy of the whole state in memory."""
    with zipfile.ZipFile(path, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, value in {"__meta__": np.array(json.dumps(meta)), **arrays}.items():
            with zf.open(f"{key}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asanyarray(value), allow_pickle=False)


def read(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """Read and check a checkpoint file whole: (meta, arrays). Raises :class:`CheckpointError`
    for a file that is not a complete checkpoint of this crowdsim's format."""
    import crowdsim

    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise CheckpointError(f"{path} is not a readable checkpoint ({exc})") from None
    try:
        meta = json.loads(str(arrays.pop("__meta__")))
    except (KeyError, ValueError):
        raise CheckpointError(
            f"{path} is not a crowdsim checkpoint (no readable __meta__)"
        ) from None
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointMismatch(
            f"{path}: checkpoint format {meta.get('format')!r} version "
            f"{meta.get('format_version')!r}, this crowdsim reads {FORMAT!r} version {FORMAT_VERSION}"
        )
    if meta.get("crowdsim_version") != crowdsim.__version__:
        raise CheckpointMismatch(
            f"{path}: written by crowdsim {meta.get('crowdsim_version')}, this is "
            f"{crowdsim.__version__} (a checkpoint is used only by the version that wrote it)"
        )
    missing = _referenced(meta) - set(arrays)
    if missing:
        raise CheckpointError(f"{path} is incomplete: no array {sorted(missing)[0]!r}")
    return meta, arrays


def _referenced(value: Any) -> set[str]:
    if isinstance(value, dict):
        if "__array__" in value:
            return {value["__array__"]}
        return set().union(*(_referenced(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_referenced(v) for v in value)) if value else set()
    return set()


def restore(config, path: str | Path, *, branch: bool = False, create_agents: bool = False):
    """A model built from ``config`` with the state saved in ``path``.

    Args:
        config: the run's config (anything :func:`~crowdsim.config.to_config` takes).
        path: a checkpoint written by :func:`save`.
        branch: start the run of ``config`` from a checkpoint of another run whose market is the
            same up to the checkpoint (:func:`warmup_sha256`: a status quo warmed up, then this
            run's reform). Without it the config must be the checkpoint's own.
        create_agents: also create Mesa's agent views (as :class:`~crowdsim.model.CrowdWorkModel`).

    Raises:
        CheckpointError: the file is not a complete checkpoint of this crowdsim, or it was
            written for another config.
    """
    from crowdsim.config import to_config
    from crowdsim.model import CrowdWorkModel

    cfg = to_config(config)
    meta, arrays = read(path)
    hour = int(meta["hour"])
    if branch:
        if meta["warmup_sha256"] != warmup_sha256(cfg):
            raise CheckpointError(
                f"{path} was written by a run whose market differs from this one before its "
                "reform (only the reform, sim.reform_day and the scenario's name may differ)"
            )
        reform_day = cfg.sim.reform_day
        if reform_day is not None and hour > reform_day * 24:
            raise CheckpointError(
                f"{path} is at hour {hour}, after this run's reform (hour {reform_day * 24}): "
                "its market already ran under other rules"
            )
    elif meta["config_sha256"] != config_sha256(cfg):
        raise CheckpointMismatch(f"{path} was written for another config (config_sha256 differs)")
    model = CrowdWorkModel(cfg, create_agents=False)
    _apply(model, meta, arrays, branch)
    if create_agents:
        model.attach_agents()
    return model


def _apply(model, meta: dict, arrays: dict, branch: bool) -> None:
    """Write a checked state into a model freshly built from its config."""
    if model.reform_config is not None and int(meta["hour"]) > model.windows.reform_hour:
        model.apply_reform()  # the rules the saved market was already under
    _load_state(model, meta, arrays, branch)
    model.running = model.hour < model.n_hours


def load_into(
    model, meta: dict, arrays: dict, *, companion: str | None = None, source: str = "the file"
) -> None:
    """Write the state read by :func:`read` into ``model``, a model just built (hour 0) from the
    saved model's own config, e.g. a subclass that builds its config from its own arguments (the
    browser app's). ``companion`` names a model saved beside the main one (:func:`save`).

    Raises:
        CheckpointMismatch: the state was saved for another config.
        CheckpointError: the model has already run, or the file has no such companion.
    """
    if companion is not None:
        if companion not in meta.get("companions", {}):
            raise CheckpointError(f"{source} holds no market {companion!r}")
        meta = meta["companions"][companion]
    if model.hour != 0:
        raise CheckpointError(
            f"a saved market is loaded into a new model, not one at hour {model.hour}"
        )
    if meta["config_sha256"] != config_sha256(model.initial_config):
        raise CheckpointMismatch(f"{source} was written for another config (config_sha256 differs)")
    _apply(model, meta, arrays, branch=False)


def extra(meta: dict, arrays: dict) -> Any:
    """The ``extra`` data saved with :func:`save` (None if there is none), arrays copied."""
    return _copy(_decode(meta["extra"], arrays)) if "extra" in meta else None


def latest(folder: str | Path) -> list[Path]:
    """The checkpoints in ``folder``, newest (latest hour) first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(
        (p for p in folder.glob(f"hour_*{SUFFIX}") if p.is_file() and not p.is_symlink()),
        reverse=True,
    )


def warmup_name(cfg, hour: int | None = None) -> str:
    """The file a shared warm-up (``sim.share_warmup``) is kept in: its market's digest and the
    hour it ends (by default the reform's)."""
    hour = cfg.sim.reform_day * 24 if hour is None else hour
    return f"warmup_{warmup_sha256(cfg)[:20]}_hour_{hour}{SUFFIX}"


def checkpoint_name(hour: int) -> str:
    return f"hour_{hour:07d}{SUFFIX}"


def prune(folder: str | Path, keep: int) -> None:
    """Delete all but the ``keep`` latest checkpoints in ``folder`` (only files named as
    crowdsim names them)."""
    for old in latest(folder)[keep:]:
        old.unlink(missing_ok=True)


__all__ = [
    "CheckpointError",
    "CheckpointMismatch",
    "FORMAT_VERSION",
    "config_sha256",
    "warmup_sha256",
    "save",
    "read",
    "restore",
    "latest",
    "prune",
    "checkpoint_name",
]
