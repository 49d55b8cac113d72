import numpy as np
import pytest


@pytest.fixture(autouse=True, scope="session")
def compiled_kernels():
    """The numba kernels, compiled (or loaded from the cache) once before any test: a first run's compilation
    counts in its fit's time budget, so time-budgeted tests would otherwise depend on the cache's state."""
    from symdescent.expr import compiled

    compiled.warm_up()


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


@pytest.fixture
def energy_csv(tmp_path):
    """A CSV of m, v and E = m * v**2 / 2 (150 rows)."""
    import pandas as pd

    rng = np.random.default_rng(0)
    m, v = rng.uniform(1, 5, 150), rng.uniform(1, 5, 150)
    path = tmp_path / "energy.csv"
    pd.DataFrame({"m": m, "v": v, "E": m * v**2 / 2}).to_csv(path, index=False)
    return path


def block_imports(monkeypatch, *packages: str) -> None:
    """Make ``import`` of these top-level packages (and their modules) fail, as if they were not installed."""
    import builtins

    real = builtins.__import__

    def blocked(name, *args, **kwargs):
        if name.split(".")[0] in packages:
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", blocked)
