"""The keywords of the installed ``PySRRegressor.__init__``, read without importing pysr.

Importing pysr starts Julia, so the installed package is located with
:func:`importlib.util.find_spec` (which does not run it) and the source of
``PySRRegressor.__init__`` is parsed with :mod:`ast`.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

CLASS_NAME = "PySRRegressor"


def pysr_package_dir() -> Path | None:
    """The folder of the installed pysr package, or None when it is not installed."""
    spec = importlib.util.find_spec("pysr")
    if spec is None or not spec.origin or spec.origin in ("namespace", "built-in"):
        return None
    return Path(spec.origin).parent


def _init_keywords(tree: ast.Module) -> tuple[str, ...] | None:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == CLASS_NAME:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    a = item.args
                    names = [arg.arg for arg in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
                    return tuple(n for n in names if n != "self")
    return None


def keywords_from_source(source: str) -> tuple[str, ...] | None:
    """The named parameters of ``PySRRegressor.__init__`` in ``source`` (``**kwargs`` excluded).

    Examples
    --------
    >>> keywords_from_source("class PySRRegressor:\\n    def __init__(self, a=1, *, b=2, **kw): pass")
    ('a', 'b')
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    return _init_keywords(tree)


def pysr_keywords(package_dir: Path | None = None) -> tuple[str, ...] | None:
    """Keywords of the installed ``PySRRegressor.__init__``; None when pysr is not installed.

    ``sr.py`` is read first (where PySR 1.x and 2.x define the class); any other
    module of the package is searched when the class has moved.
    """
    folder = package_dir if package_dir is not None else pysr_package_dir()
    if folder is None:
        return None
    files = [folder / "sr.py"] + sorted(p for p in folder.glob("*.py") if p.name != "sr.py")
    for path in files:
        try:
            source = path.read_text(encoding="utf-8")
        except OSError:
            continue
        if f"class {CLASS_NAME}" not in source:
            continue
        found = keywords_from_source(source)
        if found is not None:
            return found
    return None
