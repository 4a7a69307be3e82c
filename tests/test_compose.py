"""The composing cache (crowdsim/cli/compose.py) gives the config Hydra composes, job after job.

Each case is composed by Hydra's own loader and by the caching loader on the same search path,
in an order that reuses shapes (the same groups with other values) and returns to earlier ones,
so a copy that leaked a change into the kept shape would show.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode
from omegaconf import OmegaConf

from crowdsim.cli import compose
from crowdsim.cli.overrides import CONFIG_DIR

CASES = [
    [],
    ["seed=3"],
    ["seed=4", "population.n_workers=500"],
    ["population.n_workers=700", "seed=4"],
    ["scenario=min_pay", "seed=2"],
    ["scenario=min_pay", "seed=5", "platform.commission=0.3"],
    ["population=france", "seed=1"],
    ["reform=to_min_pay", "seed=1", "sim.days=9"],
    ["+experiment=guarantee_minimum_pay", "seed=1"],
    ["hydra/launcher=cores", "hydra.sweep.dir=/tmp/x", "seed=8"],
    ["hydra.job.chdir=False", "seed=9", "hydra.run.dir=/tmp/y"],
    ["hydra.run.dir=/tmp/z", "seed=9", "hydra.mode=RUN", "hydra.job.chdir=True"],
    ["hydra.mode=MULTIRUN", "hydra.sweep.dir=/tmp/w", "hydra/launcher=cores", "seed=3"],
    ["++seed=11"],
    ["seed=12", "++sim.days=3"],
    ["+extra_note=hello", "seed=1"],
    ["seed=1", "~reform"],
    ["seed=3"],
    [],
]

BAD = [
    ["seed=abc"],
    ["nosuchkey=1"],
    ["scenario=nosuch"],
    ["seed=1", "population.n_workers=many"],
    ["platform.commission=0.1", "platform.nosuch=2"],
]


@pytest.fixture()
def loaders():
    from hydra import initialize_config_dir

    from crowdsim.config import register_configs

    register_configs()
    compose.clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name="crowdsim"):
        search_path = GlobalHydra.instance().hydra.config_loader.config_search_path
        yield ConfigLoaderImpl(search_path), compose.CachingConfigLoader(search_path)
    compose.clear()


def _same(a, b) -> None:
    assert OmegaConf.to_container(a, resolve=False) == OmegaConf.to_container(b, resolve=False)
    a_task = {k: v for k, v in a.items() if k != "hydra"}
    b_task = {k: v for k, v in b.items() if k != "hydra"}
    assert OmegaConf.to_container(OmegaConf.create(a_task), resolve=True) == (
        OmegaConf.to_container(OmegaConf.create(b_task), resolve=True)
    )
    assert OmegaConf.is_struct(a) == OmegaConf.is_struct(b)
    assert OmegaConf.get_type(a) == OmegaConf.get_type(b)
    for key in ("hydra", "platform", "workers"):  # the flags and types of the nodes too
        if key in a:
            assert a._get_node(key)._metadata.flags == b._get_node(key)._metadata.flags
            assert OmegaConf.get_type(a, key) == OmegaConf.get_type(b, key)
            assert OmegaConf.is_readonly(a[key]) == OmegaConf.is_readonly(b[key])


@pytest.mark.parametrize("mode", [RunMode.RUN, RunMode.MULTIRUN])
def test_each_job_config_is_the_one_hydra_composes(loaders, mode):
    hydra_loader, caching = loaders
    for overrides in CASES + CASES[::-1]:
        want = hydra_loader.load_configuration("config", list(overrides), mode)
        got = caching.load_configuration("config", list(overrides), mode)
        _same(want, got)
        # plain values changed: the shape was reused, and applying them left it unchanged
        assert got.hydra.overrides.task == want.hydra.overrides.task
        assert got.hydra.job.override_dirname == want.hydra.job.override_dirname
    assert compose.STATS["reused"] >= len(CASES)
    assert compose.STATS["composed"] < len(CASES)


def test_a_run_and_a_multirun_share_a_shape(loaders):
    hydra_loader, caching = loaders
    overrides = ["seed=2", "hydra.run.dir=/tmp/r"]
    for mode in (RunMode.RUN, RunMode.MULTIRUN, RunMode.RUN):
        _same(
            hydra_loader.load_configuration("config", list(overrides), mode),
            caching.load_configuration("config", list(overrides), mode),
        )
    # a single run's three compositions (the check, Hydra's look at hydra.mode, the run)
    caching.load_configuration("config", [*overrides, "hydra.mode=RUN"], RunMode.RUN)
    assert compose.STATS == {"composed": 1, "reused": 3}


def test_a_group_with_no_choice_composes_as_in_hydra(tmp_path: Path):
    """A multirun leaves out a group with no choice (``???``), a run fails on it: a shape kept
    from the multirun does not let the run through."""
    from hydra import initialize_config_dir

    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "small.yaml").write_text("size: 1\n")
    (tmp_path / "config.yaml").write_text("defaults:\n  - db: ???\n  - _self_\nseed: 0\n")
    compose.clear()
    with initialize_config_dir(config_dir=str(tmp_path), version_base="1.3", job_name="x"):
        search_path = GlobalHydra.instance().hydra.config_loader.config_search_path
        hydra_loader, caching = (
            ConfigLoaderImpl(search_path),
            compose.CachingConfigLoader(search_path),
        )
        for mode in (RunMode.MULTIRUN, RunMode.RUN, RunMode.MULTIRUN, RunMode.RUN):
            if mode == RunMode.MULTIRUN:
                _same(
                    hydra_loader.load_configuration("config", ["seed=1"], mode),
                    caching.load_configuration("config", ["seed=1"], mode),
                )
                continue
            with pytest.raises(Exception) as want:
                hydra_loader.load_configuration("config", ["seed=1"], mode)
            with pytest.raises(Exception) as got:
                caching.load_configuration("config", ["seed=1"], mode)
            assert type(got.value) is type(want.value) and str(got.value) == str(want.value)
        _same(  # with the group chosen, both modes compose
            hydra_loader.load_configuration("config", ["db=small", "seed=4"], RunMode.RUN),
            caching.load_configuration("config", ["db=small", "seed=4"], RunMode.RUN),
        )
    compose.clear()


def test_a_job_of_a_sweep_is_the_one_hydra_composes(loaders):
    hydra_loader, caching = loaders
    master = hydra_loader.load_configuration(
        "config", ["seed=range(0,3)", "hydra/launcher=cores"], RunMode.MULTIRUN
    )
    for seed in range(3):
        want = hydra_loader.load_sweep_config(master, [f"seed={seed}"])
        got = caching.load_sweep_config(master, [f"seed={seed}"])
        _same(want, got)
        assert got.seed == seed


def test_bad_values_fail_as_in_hydra(loaders):
    hydra_loader, caching = loaders
    caching.load_configuration("config", ["seed=1"], RunMode.RUN)  # a shape kept already
    for overrides in BAD:
        with pytest.raises(Exception) as want:
            hydra_loader.load_configuration("config", overrides, RunMode.RUN)
        with pytest.raises(Exception) as got:
            caching.load_configuration("config", overrides, RunMode.RUN)
        assert type(got.value) is type(want.value)
        assert str(got.value) == str(want.value)
        cause_want, cause_got = want.value.__cause__, got.value.__cause__
        assert type(cause_got) is type(cause_want)
        assert str(cause_got) == str(cause_want)


def test_a_changed_config_file_is_read_again(tmp_path: Path):
    from hydra import initialize_config_dir

    from crowdsim.config import register_configs

    register_configs()
    compose.clear()
    extra = tmp_path / "scenario"
    extra.mkdir()
    mine = extra / "mine.yaml"
    mine.write_text("# @package _global_\nscenario_name: mine\nplatform:\n  commission: 0.25\n")
    overrides = ["scenario=mine", f"hydra.searchpath=[file://{tmp_path}]"]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name="crowdsim"):
        search_path = GlobalHydra.instance().hydra.config_loader.config_search_path
        caching = compose.CachingConfigLoader(search_path)
        first = caching.load_configuration("config", [*overrides, "seed=1"], RunMode.RUN)
        assert first.platform.commission == 0.25
        mine.write_text("# @package _global_\nscenario_name: mine\nplatform:\n  commission: 0.35\n")
        os.utime(mine, ns=(first_ns := mine.stat().st_mtime_ns + 10**9, first_ns))
        again = caching.load_configuration("config", [*overrides, "seed=2"], RunMode.RUN)
        assert again.platform.commission == 0.35
        want = ConfigLoaderImpl(search_path).load_configuration(
            "config", [*overrides, "seed=2"], RunMode.RUN
        )
        _same(want, again)
    compose.clear()


def test_a_config_whose_class_was_imported_again_is_copied(loaders, monkeypatch):
    """Hydra's plugin scan imports a plugin's module again, so a launcher config stored before
    holds a class its module no longer names (seen in a sweep's workers: pickling such a config
    fails). The kept shape is then deep-copied, and each job still gets the classes Hydra's
    loader gives."""
    import dataclasses
    import sys
    import types

    from hydra.core.config_store import ConfigStore

    module = types.ModuleType("crowdsim_test_plugin_conf")
    monkeypatch.setitem(sys.modules, module.__name__, module)

    def make_class():
        cls = dataclasses.make_dataclass("PluginConf", [("n_jobs", int, 2)])
        cls.__module__ = module.__name__
        return cls

    module.PluginConf = make_class()
    ConfigStore.instance().store(
        group="hydra/launcher", name="plugin_test_mine", node=module.PluginConf
    )
    module.PluginConf = make_class()  # the module imported again: a new class of that name
    hydra_loader, caching = loaders
    for seed in (1, 2, 3):
        overrides = ["hydra/launcher=plugin_test_mine", f"seed={seed}", "hydra.launcher.n_jobs=3"]
        want = hydra_loader.load_configuration("config", list(overrides), RunMode.RUN)
        got = caching.load_configuration("config", list(overrides), RunMode.RUN)
        _same(want, got)
        assert OmegaConf.get_type(got.hydra, "launcher") is OmegaConf.get_type(
            want.hydra, "launcher"
        )
        assert got.hydra.launcher.n_jobs == 3
    assert compose.STATS == {"composed": 1, "reused": 2}
