"""Regenerate the bundled example data sets (deterministic, seed 0).

    python examples/make_examples.py
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def projectile(rng: np.random.Generator, n: int = 300):
    """Range of a projectile on flat ground: R = v**2 * sin(2*theta) / g."""
    v = rng.uniform(5, 30, n)
    theta = rng.uniform(0.1, 1.4, n)
    g = rng.uniform(1.5, 25, n)
    return {"v": v, "theta": theta, "g": g, "R": v**2 * np.sin(2 * theta) / g}


def write(name: str, columns: dict) -> None:
    keys = list(columns)
    data = np.column_stack([columns[k] for k in keys])
    np.savetxt(HERE / f"{name}.csv", data, delimiter=",", header=",".join(keys), comments="", fmt="%.10g")


if __name__ == "__main__":
    write("projectile", projectile(np.random.default_rng(0)))
