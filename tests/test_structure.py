"""The layout holds by test, not by convention: no module reaches into another's private parts, the expression
core depends on nothing above it, and every library module imports quietly and has its doctests collected.

The checks read the library's source (symdescent/ and plugins/) with :mod:`ast`; tests themselves may use the
private names of the module they test.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = sorted([*(ROOT / "symdescent").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")])

#: The private names of other libraries still used, each with why there is no public way: a new entry needs one.
DOCUMENTED_PRIVATE = {
    ("plugins/pysr_backend/julia.py", "sys._xoptions"): "CPython documents sys._xoptions (the -X options)",
    ("symdescent/bench/methods.py", "est._program"): "gplearn has no public access to the fitted program's tree; "
        "its maintainer points to _program (trevorstephens/gplearn#287); str(est) would be the printed form only",
    ("symdescent/expr/compiled/program.py", "dispatcher._cache"): "numba's cache is customised by subclassing "
        "(_impl_class, _locator_classes) and set as Dispatcher.enable_caching does; there is no public hook",
}


@pytest.fixture(scope="module")
def module_name(pytestconfig):
    """The root conftest.py's map from a library file to its import name (the one the doctests use)."""
    return pytestconfig.pluginmanager.get_plugin(str(ROOT / "conftest.py")).module_name


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def own_names(tree: ast.Module) -> set[str]:
    """The private names a module defines itself: its functions and classes (at any depth), the names bound at
    module level or in a class body, and the attributes it sets on ``self`` or ``cls``."""
    names: set[str] = set()
    bodies = [tree.body] + [n.body for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    for body in bodies:
        for st in body:
            if isinstance(st, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = st.targets if isinstance(st, ast.Assign) else [st.target]
                names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            elif isinstance(st, (ast.Import, ast.ImportFrom)):
                names |= {a.asname or a.name.partition(".")[0] for a in st.names}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
              and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            names.add(node.attr)
    return {n for n in names if private(n)}


def private_access(source: str) -> list[str]:
    """``line: code`` for each use of another module's private name in ``source``.

    Caught: ``from m import _x``, ``import m._x`` / ``from m._x import y``, ``obj._x`` and
    ``getattr(obj, "_x")`` (and setattr, hasattr, delattr) where ``_x`` is not one of the module's own names,
    on ``self`` too: a subclass that reads its base class's private state from another module reaches into it.
    """
    tree = ast.parse(source)
    own = own_names(tree)
    found = []
    for node in ast.walk(tree):
        bad: list[str] = []
        if isinstance(node, ast.ImportFrom):
            if any(private(p) for p in (node.module or "").split(".")):
                bad.append(f"from {node.module} import ...")
            bad += [f"from {'.' * node.level}{node.module or ''} import {a.name}" for a in node.names if private(a.name)]
        elif isinstance(node, ast.Import):
            bad += [f"import {a.name}" for a in node.names if any(private(p) for p in a.name.split("."))]
        elif isinstance(node, ast.Attribute) and private(node.attr) and node.attr not in own:
            bad.append(ast.unparse(node))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) > 1
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
              and private(node.args[1].value) and node.args[1].value not in own):
            bad.append(ast.unparse(node))
        found += [f"{node.lineno}: {b}" for b in bad]
    return found


def library_id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_check_catches_each_kind_of_reach():
    source = textwrap.dedent("""
        import sklearn.utils._param_validation
        from sklearn.utils._param_validation import Interval
        from symdescent.expr.fit import _root_has_constant, fit_expression
        from . import _helper

        class Guided(Base):
            def __init__(self):
                self._mine = 1

            def guide(self, sampler):
                setattr(self, "_uw", 1)
                return self._mine + self._inherited + sampler._unary + getattr(sampler, "_bw")

        def _local():
            return _local, rt._step(), super()._private(), obj.__dict__, np.linalg.norm
    """)
    assert {f.partition(": ")[2] for f in private_access(source)} == {
        "import sklearn.utils._param_validation",
        "from sklearn.utils._param_validation import ...",
        "from symdescent.expr.fit import _root_has_constant",
        "from . import _helper",
        "setattr(self, '_uw', 1)",
        "self._inherited",
        "sampler._unary",
        "getattr(sampler, '_bw')",
        "rt._step",
        "super()._private",
    }


@pytest.mark.parametrize("path", LIBRARY, ids=library_id)
def test_no_module_reaches_into_another_modules_private_names(path):
    rel = library_id(path)
    found = [f for f in private_access(path.read_text(encoding="utf-8"))
             if (rel, f.partition(": ")[2]) not in DOCUMENTED_PRIVATE]
    assert not found, f"{rel} uses private names of other modules or classes (give them a public API):\n" + \
        "\n".join(found)


def test_every_documented_exception_is_still_needed():
    for (rel, code), reason in DOCUMENTED_PRIVATE.items():
        assert any(f.partition(": ")[2] == code for f in private_access((ROOT / rel).read_text(encoding="utf-8"))), \
            f"{rel} no longer uses {code}; drop it from DOCUMENTED_PRIVATE ({reason})"


# -- layers ------------------------------------------------------------------------------------------------

def imported_modules(path: Path, name: str) -> dict[str, set[str]]:
    """Every module that module ``name`` (the file ``path``) imports, relative imports resolved, with the names
    taken from it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for a in node.names:
                out.setdefault(a.name, set())
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}".rstrip(".")
            out.setdefault(base, set()).update(a.name for a in node.names)
    return out


CORE = [p for p in LIBRARY if p.is_relative_to(ROOT / "symdescent" / "expr")]


@pytest.mark.parametrize("path", CORE, ids=library_id)
def test_the_expression_core_depends_only_on_itself_and_the_error_types(path, module_name):
    imports = imported_modules(path, module_name(path))
    above = [m for m in imports if m.split(".")[0] in ("symdescent", "symdescent_lee", "symdescent_pysr")
             and not (m == "symdescent.expr" or m.startswith("symdescent.expr.") or m == "symdescent.errors")]
    assert not above, f"{library_id(path)} imports {above}: the expression core is the lowest layer"
    # configuration and data errors belong to the layers that read configurations and data
    assert not imports.get("symdescent.errors", set()) & {"ConfigError", "DataError", "DataTypeError",
                                                          "PluginError", "OutputError"}


NOT_BENCH = [p for p in LIBRARY
             if not p.is_relative_to(ROOT / "symdescent" / "bench")  # the benchmark package itself
             and p != ROOT / "symdescent" / "cli.py"  # the command line's ``bench`` subcommand
             and not p.is_relative_to(ROOT / "plugins" / "lee" / "experiments")]  # LEE's benchmark experiments


@pytest.mark.parametrize("path", NOT_BENCH, ids=library_id)
def test_the_library_and_its_plugins_do_not_depend_on_the_benchmarks(path, module_name):
    bench = [m for m in imported_modules(path, module_name(path)) if m == "symdescent.bench" or m.startswith("symdescent.bench.")]
    assert not bench, f"{library_id(path)} imports {bench}"


# -- imports and doctests ----------------------------------------------------------------------------------

def test_every_library_module_imports_under_its_package_name_and_starts_nothing(module_name):
    """Importing a module (as pytest's doctest collection does) runs no thread, process or search."""
    names = {module_name(p): str(p) for p in LIBRARY}
    assert None not in names, "a library folder is missing from PACKAGES in conftest.py"
    probe = textwrap.dedent(f"""
        import importlib, json, multiprocessing, threading
        files = {{}}
        for name in {sorted(names)!r}:
            files[name] = importlib.import_module(name).__file__
        print(json.dumps({{"files": files, "threads": [t.name for t in threading.enumerate()],
                          "children": len(multiprocessing.active_children())}}))
    """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.splitlines()[-1])
    assert {n: str(Path(f).resolve()) for n, f in seen["files"].items()} == names
    assert seen["threads"] == ["MainThread"] and seen["children"] == 0


def test_doctests_run_for_every_library_folder():
    import tomllib

    ini = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]
    assert "--doctest-modules" in ini["addopts"].split()
    assert {"tests", "symdescent", "plugins"} <= set(ini["testpaths"])


@pytest.mark.parametrize("name", [
    "symdescent", "symdescent.cluster", "symdescent.compose", "symdescent.config", "symdescent.estimator", "symdescent.front",
    "symdescent.islands", "symdescent.search", "symdescent.views", "symdescent.expr.compiled",
    "symdescent.expr.expression", "symdescent.expr.export_torch", "symdescent.expr.generate",
    "symdescent.expr.parse", "symdescent.expr.variation", "symdescent.bench", "symdescent.bench.data",
    "symdescent.bench.methods", "symdescent.bench.metrics", "symdescent.bench.problems", "symdescent.bench.report",
    "symdescent.bench.runner", "symdescent.bench.tables", "symdescent.bench.dimsynth", "symdescent.bench.paired", "symdescent_pysr.config", "symdescent_pysr.guesses",
    "symdescent_pysr.julia", "symdescent_pysr.operators", "symdescent_pysr.parsing", "symdescent_pysr.signature",
])
def test_public_modules_keep_a_runnable_example(name):
    module = importlib.import_module(name)
    assert any(t.examples for t in doctest.DocTestFinder().find(module)), f"{name} lost its docstring examples"
