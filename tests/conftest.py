import logging
import os

import pytest

logging.getLogger("MESA").setLevel(logging.WARNING)
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def small():
    """Options for a small, fast run."""
    return dict(population__n_workers=300, sim__days=3, seed=1)
