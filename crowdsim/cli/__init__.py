"""The command line: checking options and Hydra overrides before anything runs, shared option parsing, and the caching config loader."""
