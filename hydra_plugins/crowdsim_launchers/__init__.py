"""crowdsim's Hydra launchers (a Hydra plugin package: Hydra finds launchers only under ``hydra_plugins``)."""
