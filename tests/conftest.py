import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def product_data(rng):
    """y = m * v**2 / 2 on 200 rows."""
    X = rng.uniform(1, 5, size=(200, 2))
    return X, X[:, 0] * X[:, 1] ** 2 / 2


def quick_config(**search):
    """A small, deterministic configuration for tests (iteration-bounded)."""
    base = {"time_budget": None, "max_iterations": 3, "seed": 0}
    base.update(search)
    return {"search": base, "plugins": {"descent": {"population_size": 60, "generations_per_iteration": 3}}}
