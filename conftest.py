"""The library's doctests under ``--doctest-modules`` (pyproject.toml), each module imported under its package name.

pytest names a module after its folders, so it would import ``plugins/lee/runtime.py`` a second time as
``lee.runtime`` beside the installed ``symdescent_lee.runtime``.  Here every doctest collector of a library file
is handed the module its package name imports instead.  A module that cannot be imported because an optional
dependency (an extra of pyproject.toml) is missing is reported as skipped, naming it; any other import error
fails the run.  And every search of the session runs in one process unless a test asks for islands.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
#: The library's source folders and the package name each is installed as.
PACKAGES = {ROOT / "symdescent": "symdescent", ROOT / "plugins" / "lee": "symdescent_lee",
            ROOT / "plugins" / "pysr_backend": "symdescent_pysr"}
#: Modules the extras of pyproject.toml bring (and jax, which ``Expression.to_jax`` uses when present).
OPTIONAL = {"torch", "onnx", "onnxscript", "jax", "pysr", "juliacall", "dask", "distributed", "pyoperon", "gplearn",
            "matplotlib", "statsmodels"}


@pytest.fixture(autouse=True, scope="session")
def one_worker_process():
    """Every search of the session runs in one process (``SYMDESCENT_WORKERS=1``, which the subprocesses it
    starts inherit), the doctests' too, except where a test asks for islands (``workers``, a client)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYMDESCENT_WORKERS", "1")
        yield


def module_name(path: Path) -> str | None:
    """The import name of a library source file (None outside the library)."""
    for folder, package in PACKAGES.items():
        if path.is_relative_to(folder):
            parts = path.relative_to(folder).with_suffix("").parts
            return ".".join((package, *(p for p in parts if p != "__init__")))
    return None


class MissingDependency(pytest.File):
    """A library file whose module needs an optional dependency that is not installed."""

    def __init__(self, *, module: str, dependency: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.module, self.dependency = module, dependency

    def collect(self):
        pytest.skip(f"doctests of {self.module}: it needs {self.dependency}, which is not installed")


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path: Path, parent):
    collectors = yield
    name = module_name(file_path.resolve())
    if name is None:
        return collectors
    out = []
    for collector in collectors:
        if isinstance(collector, pytest.Module):  # the doctest collector (no test files live in the library)
            try:
                collector.obj = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                missing = (exc.name or "").partition(".")[0]
                if missing not in OPTIONAL:
                    raise
                collector = MissingDependency.from_parent(parent, path=file_path, module=name, dependency=missing)
        out.append(collector)
    return out
