"""The command line: checking options and Hydra overrides before anything runs, shared option parsing, and the caching config loader."""


def __getattr__(name: str):
    """``crowdsim.cli.CONFIG_DIR``, the name before 0.4 (scripts and the frozen regression test
    import it): :data:`crowdsim.cli.overrides.CONFIG_DIR`, imported only when asked for, so that
    ``crowdsim.cli.arguments`` stays light."""
    if name == "CONFIG_DIR":
        from crowdsim.cli.overrides import CONFIG_DIR

        return CONFIG_DIR
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
