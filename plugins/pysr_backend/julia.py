"""Is PySR runnable here?  Answered without importing pysr or starting Julia.

Importing :mod:`pysr` starts Julia through juliacall, and when juliacall finds
no Julia it asks juliapkg to *download* one.  The availability check of the
``pysr`` plugin therefore only looks at the environment and the file system,
following the places juliacall and juliapkg search, in their order:

1. ``PYTHON_JULIACALL_EXE`` (or ``python -X juliacall-exe=...``): an executable;
2. ``PYTHON_JULIACALL_BINDIR`` (or ``-X juliacall-home=...``): ``BINDIR/julia``;
3. ``PYTHON_JULIAPKG_EXE`` (or ``-X juliapkg-exe=...``): an executable;
4. a Julia that juliapkg already resolved (``executable`` in
   ``PROJECT/pyjuliapkg/meta.json``) or installed (``PROJECT/pyjuliapkg/install/bin/julia``),
   where ``PROJECT`` is ``PYTHON_JULIAPKG_PROJECT``, else ``<venv or conda prefix>/julia_env``,
   else ``<depot>/environments/pyjuliapkg`` (depot: first entry of ``JULIA_DEPOT_PATH``,
   else ``~/.julia``);
5. a juliaup installation with at least one installed Julia
   (``JULIAUP_DEPOT_PATH`` or ``~/.julia``, file ``juliaup/juliaup.json``);
6. ``julia`` on ``PATH``.

An override that is set but does not point at an executable is reported as
such (juliacall would fail on it too).  The Julia version is not checked
(that would mean running Julia); PySR needs 1.10 or newer and says so itself.
Julia packages (SymbolicRegression.jl) are installed by PySR on first use.

Everything this module reads comes through :class:`JuliaEnvironment`, so the
tests can describe any machine.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

INSTALL_HINT = (
    "install Julia 1.10 or newer (https://julialang.org/downloads or juliaup) and put `julia` on PATH, "
    "or set PYTHON_JULIAPKG_EXE to its path"
)
PYSR_HINT = 'pip install "symdescent[pysr]", then ' + INSTALL_HINT


@dataclass(frozen=True)
class JuliaEnvironment:
    """The inputs of the Julia search: environment, ``-X`` options, ``which``, paths.

    Parameters
    ----------
    environ : mapping
        Environment variables (default: ``os.environ``).
    xoptions : mapping
        Python ``-X`` options (default: ``sys._xoptions``).
    which : callable
        ``shutil.which``-like lookup of an executable.
    prefix, base_prefix : str
        ``sys.prefix`` and ``sys.base_prefix`` (a virtual environment differs).
    home : str
        The user's home directory.
    """

    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    xoptions: Mapping[str, object] = field(default_factory=lambda: dict(sys._xoptions))
    which: Callable[[str], str | None] = shutil.which
    prefix: str = sys.prefix
    base_prefix: str = sys.base_prefix
    home: str = field(default_factory=lambda: os.path.expanduser("~"))

    def option(self, xkey: str, envkey: str) -> tuple[str | None, str]:
        """An option as juliacall/juliapkg read it: ``-X`` first, then the variable."""
        value = self.xoptions.get(xkey)
        if isinstance(value, str):
            return value, f"-X {xkey}"
        value = self.environ.get(envkey)
        return (value, envkey) if value else (None, envkey)

    def depot(self) -> Path:
        paths = self.environ.get("JULIA_DEPOT_PATH", "")
        first = paths.split(";" if os.name == "nt" else ":")[0] if paths else ""
        return Path(first) if first else Path(self.home) / ".julia"

    def juliapkg_project(self) -> Path:
        project, _ = self.option("juliapkg-project", "PYTHON_JULIAPKG_PROJECT")
        if project:
            return Path(project)
        prefix = self.prefix if self.prefix != self.base_prefix else self.environ.get("CONDA_PREFIX")
        if prefix:
            return Path(prefix) / "julia_env"
        return self.depot() / "environments" / "pyjuliapkg"


@dataclass(frozen=True)
class JuliaLocation:
    """Where a Julia runtime was found, and by which rule."""

    path: str
    source: str


def _executable(path: Path | str) -> bool:
    p = Path(path)
    return p.is_file() and os.access(p, os.X_OK)


def _juliapkg_julia(env: JuliaEnvironment) -> JuliaLocation | None:
    state = env.juliapkg_project() / "pyjuliapkg"
    try:
        meta = json.loads((state / "meta.json").read_text(encoding="utf-8"))
        exe = meta.get("executable") if isinstance(meta, dict) else None
    except (OSError, ValueError):
        exe = None
    if isinstance(exe, str) and _executable(exe):
        return JuliaLocation(exe, f"juliapkg ({state / 'meta.json'})")
    installed = state / "install" / "bin" / ("julia.exe" if os.name == "nt" else "julia")
    if _executable(installed):
        return JuliaLocation(str(installed), "juliapkg install")
    return None


def _juliaup_julia(env: JuliaEnvironment) -> JuliaLocation | None:
    depot = env.environ.get("JULIAUP_DEPOT_PATH") or str(Path(env.home) / ".julia")
    meta_file = Path(depot) / "juliaup" / "juliaup.json"
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    versions = meta.get("InstalledVersions") if isinstance(meta, dict) else None
    if versions:
        return JuliaLocation(str(meta_file), "juliaup")
    return None


def find_julia(env: JuliaEnvironment | None = None) -> JuliaLocation | str:
    """Locate a Julia runtime by the rules of this module's docstring.

    Returns
    -------
    JuliaLocation or str
        Where Julia is, or a message saying what is missing and how to install it.

    Examples
    --------
    >>> env = JuliaEnvironment(environ={}, xoptions={}, which=lambda name: None,
    ...                        prefix="/nonexistent", base_prefix="/usr", home="/nonexistent")
    >>> find_julia(env).startswith("PySR needs a Julia runtime")
    True
    """
    env = env or JuliaEnvironment()
    checks = (("juliacall-exe", "PYTHON_JULIACALL_EXE", False), ("juliacall-home", "PYTHON_JULIACALL_BINDIR", True),
              ("juliapkg-exe", "PYTHON_JULIAPKG_EXE", False))
    for xkey, envkey, is_bindir in checks:  # juliacall's order: its exe, its bindir, then juliapkg's exe
        value, where = env.option(xkey, envkey)
        if not value:
            continue
        if is_bindir:
            exe = Path(value) / ("julia.exe" if os.name == "nt" else "julia")
            if _executable(exe):
                return JuliaLocation(str(exe), where)
            return f"PySR cannot start Julia: {where}={value} holds no julia executable; fix it or {INSTALL_HINT}"
        found = env.which(value)
        if found:
            return JuliaLocation(found, where)
        return f"PySR cannot start Julia: {where}={value} is not an executable Julia; fix it or {INSTALL_HINT}"
    found = _juliapkg_julia(env) or _juliaup_julia(env)
    if found:
        return found
    on_path = env.which("julia")
    if on_path:
        return JuliaLocation(on_path, "PATH")
    install = env.juliapkg_project() / "pyjuliapkg" / "install"
    return (
        "PySR needs a Julia runtime and none was found (looked for `julia` on PATH, juliaup, "
        f"a Julia installed by juliapkg under {install}, PYTHON_JULIACALL_EXE, PYTHON_JULIAPKG_EXE); "
        f"{INSTALL_HINT}"
    )


def pysr_installed() -> bool:
    """True when the ``pysr`` package can be found (it is not imported)."""
    return importlib.util.find_spec("pysr") is not None


def unavailable_reason(env: JuliaEnvironment | None = None) -> str | None:
    """The ``pysr`` plugin's availability check: None, or what is missing and how to install it.

    Neither imports pysr nor starts Julia nor downloads anything.
    """
    if not pysr_installed():
        return f"the Python package pysr is not installed; {PYSR_HINT}"
    found = find_julia(env)
    return found if isinstance(found, str) else None
