"""The scenario files (``crowdsim/conf/scenario/*.yaml``): their names, titles and composed configs.

One place that everything showing a scenario reads from: the browser app's menus and the
comparison report call a scenario by :func:`title`, the ``title:`` of its file, so that it has
one name everywhere.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

from crowdsim.config import ConfigError

SCENARIO_DIR = Path(__file__).resolve().parent / "conf" / "scenario"
BASELINE = "status_quo"


def names() -> list[str]:
    """Names of the scenario files (without ``.yaml``), the baseline first, then alphabetical."""
    found = sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))
    return sorted(found, key=lambda n: n != BASELINE)


@functools.lru_cache(maxsize=64)
def _file(name: str) -> dict:
    import yaml

    path = SCENARIO_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError("scenario", name, ", ".join(names()))
    return yaml.safe_load(path.read_text()) or {}


def title(name: str) -> str:
    """The scenario's title (its file's ``title:``); a scenario that is not a shipped file (a
    user's own) is called by its name, humanised."""
    try:
        found = _file(name).get("title")
    except ConfigError:
        found = None
    return str(found) if found else name.replace("_", " ").capitalize()


def description(name: str) -> str:
    """What the scenario stands for (its file's ``description:``)."""
    return str(_file(name).get("description") or "")


_HYDRA_LOCK = threading.Lock()  # Hydra's global state: one composition at a time across threads


@functools.lru_cache(maxsize=32)
def composed(name: str) -> dict:
    """The composed Hydra config of a scenario as a plain dict (composed once per scenario);
    a name that is not a scenario file raises :class:`~crowdsim.config.ConfigError`."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from crowdsim.cli.overrides import CONFIG_DIR

    if name not in names():
        raise ConfigError("scenario", name, ", ".join(names()))
    with (
        _HYDRA_LOCK,
        initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name="crowdsim"),
    ):
        cfg = compose(config_name="config", overrides=[f"scenario={name}"])
    return OmegaConf.to_container(cfg, resolve=True)


def name_of(title_or_name: str) -> str:
    """The file name of a scenario given its name or its title (menus show titles)."""
    if title_or_name in names():
        return title_or_name
    by_title = {title(n): n for n in names()}
    if title_or_name in by_title:
        return by_title[title_or_name]
    raise ConfigError("scenario", title_or_name, ", ".join(names()))
