"""Composing a job's config once per shape, not once per job.

A sweep composes every job's config several times: crowdsim's check of the command line (each
combination, before anything is written), Hydra's sweeper (``validate_batch_is_legal``) and the
process that runs the job. Hydra builds each one from scratch: the defaults list, every YAML file
read and merged onto the schema (~0.1 s a job on 2 cores; a 1,024-job sweep spent 108 s in the
launching process before its first job started). The jobs of a sweep mostly differ only in
plain values (``seed=3``, ``workers.search_minutes=1.2``), which cannot change the defaults
list or the files read.

:class:`CachingConfigLoader` is Hydra's config loader with one change: the part of a
composition that depends on the config groups chosen (the defaults list and the merged files)
is made once for each *shape* (config name, run mode, search path, every override that is not
a plain value change) and kept in this process; each job's config is a copy of it with the
job's plain value overrides applied and Hydra's runtime fields set, step for step as
:meth:`hydra._internal.config_loader_impl.ConfigLoaderImpl._load_configuration_impl` does
(Hydra 1.3). The result is the same config Hydra composes (tested on group choices, experiment
files, additions, deletions, Hydra's own keys and bad values, which fail with the same error).

An override is a plain value change when it sets an existing key with ``key=value`` (no ``+``,
``++``, ``~`` or ``@package``, no sweep), the key is not a config group and not
``hydra.searchpath``, and the value is not a dict; Hydra's own keys (``hydra.run.dir=...``,
``hydra.mode=RUN``) count, as Hydra applies them in the same step. Anything else is part of the
shape. A run and a multirun share a shape (Hydra composes them alike unless a group has no
choice), so a single run composes once, not three times (crowdsim's check, Hydra's look at
``hydra.mode``, the run).

:func:`install` makes Hydra create this loader; the ``crowdsim`` command (which every
experiment command runs its grid through) calls it. A shape is kept with the modification time
and size of every file in the search path's folders and composed again when one changed, so a
long-lived process (a notebook that edits a YAML file between two runs) gets the file as it is.
The loader is pickled to a sweep's worker processes with its class, so the shapes are kept there
too, across the jobs each worker runs.
"""

from __future__ import annotations

import copy
import os
import pickle
from collections import OrderedDict
from typing import Any, NamedTuple

from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra._internal.config_repository import CachingConfigRepository
from hydra._internal.defaults_list import create_defaults_list
from hydra.conf import ConfigSourceInfo
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType, ValueType
from hydra.core.utils import JobRuntime
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

#: shapes kept in one process (a sweep over scenarios x reforms has one per combination)
MAX_SHAPES = 64


class _Shape(NamedTuple):
    """A composed shape as kept: Hydra's defaults list, the merged config (pickled, or as it
    is where it cannot be pickled exactly), its sources, and whether every group had a choice
    (a multirun may leave one out; such a shape serves multiruns only)."""

    defaults_list: Any
    config: bytes | DictConfig
    sources: list
    complete: bool


_SHAPES: OrderedDict[tuple, _Shape] = OrderedDict()
_REPOS: dict[tuple, CachingConfigRepository] = {}
STATS = {"composed": 0, "reused": 0}


def clear() -> None:
    """Forget every shape kept in this process."""
    _SHAPES.clear()
    _REPOS.clear()
    STATS.update(composed=0, reused=0)


def _stamp(paths: list[str]) -> tuple:
    """Every file under the given folders, with its modification time and size: a shape is
    composed again when a config file changed, appeared or went away."""
    out = []
    for path in paths:
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                try:
                    st = os.stat(full)
                except OSError:
                    continue
                out.append((full, st.st_mtime_ns, st.st_size))
    return tuple(out)


def _file_folders(sources: list[Any]) -> list[str]:
    return [s.path for s in sources if s.scheme() == "file"]


def _searchpath_value(parsed: list[Override]) -> Any:
    for o in parsed:
        if o.get_key_element() == "hydra.searchpath":
            return o.value()
    return None


def _is_plain_value(o: Override, repo: CachingConfigRepository) -> bool:
    return (
        o.type == OverrideType.CHANGE
        and o.package is None
        and o.value_type == ValueType.ELEMENT
        and o.get_key_element() != "hydra.searchpath"
        and not isinstance(o.value(), dict)
        and not repo.group_exists(o.key_or_group)
    )


class CachingConfigLoader(ConfigLoaderImpl):
    """Hydra's config loader, composing each shape of config once per process (module doc)."""

    def _classifying_repo(self, config_name: str | None, parsed: list[Override]):
        """The repository Hydra would compose from (search path with ``hydra.searchpath``),
        kept per search path; used only to tell config groups from plain keys."""
        folders = [
            e.path.removeprefix("file://")
            for e in self.config_search_path.get_path()
            if e.path is not None and e.path.startswith("file://")
        ]
        key = (
            str(self.config_search_path),
            config_name,
            repr(_searchpath_value(parsed)),
            _stamp(folders),
        )
        repo = _REPOS.get(key)
        if repo is None:
            repo = CachingConfigRepository(self.repository)
            self._process_config_searchpath(config_name, parsed, repo)
            if len(_REPOS) >= MAX_SHAPES:
                _REPOS.clear()
            _REPOS[key] = repo
        return repo

    def _compose_shape(
        self, config_name: str | None, shape: list[Override], run_mode: Any
    ) -> _Shape:
        """One shape composed. Hydra composes a run with ``skip_missing=False`` and a multirun
        with ``True``; the two give the same config unless a group has no choice (the run then
        fails), so a shape is first composed as a run, and a multirun whose shape fails that way
        is composed again as Hydra would (``complete=False``)."""
        attempts = (False, True) if run_mode == RunMode.MULTIRUN else (False,)
        for skip_missing in attempts:
            caching_repo = CachingConfigRepository(self.repository)
            self._process_config_searchpath(config_name, shape, caching_repo)
            try:
                defaults_list = create_defaults_list(
                    repo=caching_repo,
                    config_name=config_name,
                    overrides_list=shape,
                    prepend_hydra=True,
                    skip_missing=skip_missing,
                )
                break
            except Exception:  # composed again as Hydra composes a multirun, whatever failed
                if skip_missing == attempts[-1]:
                    raise
        composed = self._compose_config_from_defaults_list(
            defaults=defaults_list.defaults, repo=caching_repo
        )
        sources = [
            ConfigSourceInfo(path=x.path, schema=x.scheme(), provider=x.provider)
            for x in caching_repo.get_sources()
        ]
        # kept pickled: each job's copy is one pickle.loads (a config of the shipped files:
        # ~1.4 ms, against ~5.6 ms for copy.deepcopy, which a sweep's launching process pays
        # twice a job before the first job starts). Pickling checks that every class in the
        # config (the schema's, a launcher's structured config) is the one its module now
        # names; where one is not (Hydra's plugin scan imports a plugin's module again, so a
        # launcher config made before holds the older class), the config is kept as it is and
        # deep-copied for each job, so a copy always holds the very classes Hydra's would
        try:
            kept = pickle.dumps(composed, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError):
            kept = composed
        return _Shape(defaults_list, kept, sources, complete=not skip_missing)

    def _load_configuration_impl(
        self,
        config_name: str | None,
        overrides: list[str],
        run_mode: Any,
        from_shell: bool = True,
        validate_sweep_overrides: bool = True,
    ) -> DictConfig:
        from hydra import __version__, version

        self.ensure_main_config_source_available()
        parsed = OverridesParser.create().parse_overrides(overrides=overrides)
        if validate_sweep_overrides:
            self.validate_sweep_overrides_legal(
                overrides=parsed, run_mode=run_mode, from_shell=from_shell
            )
        repo = self._classifying_repo(config_name, parsed)
        plain = [_is_plain_value(o, repo) for o in parsed]
        shape_lines = [o.input_line for o, p in zip(parsed, plain, strict=True) if not p]
        key = (
            str(self.config_search_path),
            config_name,
            tuple(shape_lines),
            _stamp(_file_folders(repo.get_sources())),
        )
        kept = _SHAPES.get(key)
        # a shape composed with every group chosen serves both run modes; one that a multirun
        # composed by leaving out a group with no choice (``???``) serves multiruns only
        if kept is None or not (kept.complete or run_mode == RunMode.MULTIRUN):
            kept = self._compose_shape(
                config_name, [o for o, p in zip(parsed, plain, strict=True) if not p], run_mode
            )
            _SHAPES[key] = kept
            while len(_SHAPES) > MAX_SHAPES:
                _SHAPES.popitem(last=False)
            STATS["composed"] += 1
        else:
            _SHAPES.move_to_end(key)
            STATS["reused"] += 1
        defaults_list, composed, sources = kept.defaults_list, kept.config, kept.sources
        # a copy of the kept config: pickled, ~4x faster than a deepcopy (see _compose_shape)
        cfg = pickle.loads(composed) if isinstance(composed, bytes) else copy.deepcopy(composed)

        # from here on, as Hydra's _load_configuration_impl, with the job's overrides in order
        OmegaConf.set_struct(cfg, True)
        OmegaConf.set_readonly(cfg.hydra, False)
        shape_config = iter(defaults_list.config_overrides)
        next_shape = next(shape_config, None)
        config_overrides = []
        for o, p in zip(parsed, plain, strict=True):
            if p:
                config_overrides.append(o)
            elif next_shape is not None and o.input_line == next_shape.input_line:
                config_overrides.append(next_shape)
                next_shape = next(shape_config, None)
        ConfigLoaderImpl._apply_overrides_to_config(config_overrides, cfg)
        app_overrides = []
        for override in parsed:
            if override.is_hydra_override():
                cfg.hydra.overrides.hydra.append(override.input_line)
            else:
                cfg.hydra.overrides.task.append(override.input_line)
                app_overrides.append(override)
        with open_dict(cfg.hydra):
            cfg.hydra.runtime.choices.update(defaults_list.overrides.known_choices)
            for k in cfg.hydra.job.env_copy:
                cfg.hydra.job.env_set[k] = os.environ[k]
        cfg.hydra.runtime.version = __version__
        cfg.hydra.runtime.version_base = version.getbase()
        cfg.hydra.runtime.cwd = os.getcwd()
        cfg.hydra.runtime.config_sources = list(sources)
        if "name" not in cfg.hydra.job:
            cfg.hydra.job.name = JobRuntime().get("name")
        cfg.hydra.job.override_dirname = get_overrides_dirname(
            overrides=app_overrides,
            kv_sep=cfg.hydra.job.config.override_dirname.kv_sep,
            item_sep=cfg.hydra.job.config.override_dirname.item_sep,
            exclude_keys=cfg.hydra.job.config.override_dirname.exclude_keys,
        )
        cfg.hydra.job.config_name = config_name
        return cfg


def install() -> None:
    """Make Hydra create :class:`CachingConfigLoader` in this process (``@hydra.main`` and the
    compose API both build their loader in ``Hydra.create_main_hydra2``)."""
    import hydra._internal.hydra as hydra_internal

    hydra_internal.ConfigLoaderImpl = CachingConfigLoader
