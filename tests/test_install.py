"""Installation: the compiled kernels' on-disk cache, the first run, and README's two commands in one venv.

numba's default cache goes into ``__pycache__`` beside the source; in an installed package that is a folder
pip does not own, so ``pip uninstall`` leaves ``site-packages/symdescent`` behind and it then shadows an
editable install (README's first command followed by its second broke the CLI).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import symdescent

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(symdescent.__file__).resolve().parent


def _env(tmp_path: Path) -> dict:
    """A user with an empty home and cache, who has not set NUMBA_CACHE_DIR."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(HOME=str(tmp_path / "home"), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    return env


def _run(code: str, env: dict, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd or ROOT, capture_output=True, text=True,
                          timeout=600)


def test_kernels_cache_outside_the_package(tmp_path):
    code = """if True:
        import json, numba
        from symdescent.expr.compiled import kernels, lm
        out = {}
        for mod in (kernels, lm):
            for name, obj in vars(mod).items():
                if isinstance(obj, numba.core.registry.CPUDispatcher):
                    out[name] = obj._cache._cache_path if obj._cache.__class__.__name__ != "NullCache" else None
        print(json.dumps(out))
    """
    r = _run(code, _env(tmp_path))
    assert r.returncode == 0, r.stderr
    paths = json.loads(r.stdout)
    assert {"_fit_kernel", "_evaluate_kernel", "_jacobian_kernel", "copy_into"} <= set(paths)
    for name, path in paths.items():
        assert path is not None, f"{name} is not cached on disk"
        assert Path(path).resolve().is_relative_to((tmp_path / "xdg").resolve()), (name, path)
        assert not Path(path).resolve().is_relative_to(PACKAGE), (name, path)


def test_numba_cache_dir_is_still_honoured(tmp_path):
    env = {**_env(tmp_path), "NUMBA_CACHE_DIR": str(tmp_path / "mine")}
    r = _run("from symdescent.expr.compiled import lm; print(lm._fit_kernel._cache._cache_path)", env)
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()).is_relative_to(tmp_path / "mine")


def _package_files() -> set:
    return {p for p in PACKAGE.rglob("*") if p.is_file() and p.suffix in (".nbi", ".nbc")}


@pytest.mark.slow
def test_first_run_compiles_into_the_user_cache_with_a_message(tmp_path):
    """The first warm-up compiles (and says so), writes only to the user cache; the second just loads."""
    env = _env(tmp_path)
    before = _package_files()
    code = """if True:
        import time; t = time.perf_counter()
        from symdescent.expr import compiled
        compiled.warm_up(notify=print)
        print(f"took {time.perf_counter() - t:.1f}")
    """
    first = _run(code, env)
    assert first.returncode == 0, first.stderr
    assert "compiling the numba kernels" in first.stdout
    assert _package_files() == before, "cache files were written beside the package source"
    assert list((tmp_path / "xdg" / "numba").rglob("*.nbi"))
    second = _run(code, env)
    assert second.returncode == 0, second.stderr
    assert "compiling" not in second.stdout, second.stdout


def _readme_commands() -> tuple[str, str]:
    text = (ROOT / "README.md").read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("python3 -m venv .venv")]
    assert len(lines) >= 2, "README's two set-up commands not found"
    return lines[0], lines[1]


@pytest.mark.slow
@pytest.mark.parametrize("order", ["readme", "reversed"])
def test_readme_commands_in_one_venv(tmp_path, order):
    """README's two commands, one after the other, in one venv (both orders); then the CLI still works.

    The second command's extras are left out (``pip install -e .``): they do not touch symdescent's files
    and would download torch.  The CLI runs from another folder, so the checkout is not on ``sys.path``.
    """
    if shutil.which("python3") is None:
        pytest.skip("no python3")
    first, second = _readme_commands()
    assert first.startswith("python3 -m venv .venv && .venv/bin/pip install . && ")
    assert second.startswith('python3 -m venv .venv && .venv/bin/pip install -e ".[dev,train,bench,pysr]"')
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "runs", "build", "*.egg-info",
                                                             "__pycache__", "bench_results", "data_cache"))
    venv = tmp_path / "venv"
    env = _env(tmp_path)
    fit = [str(venv / "bin" / "symdescent"), "fit", str(src / "examples" / "projectile.csv"), "--target", "R",
           "--max-iterations", "2", "--quiet"]
    steps = [[sys.executable, "-m", "venv", str(venv)]]
    installs = [[str(venv / "bin" / "pip"), "install", "-q", "."], [str(venv / "bin" / "pip"), "install", "-q",
                                                                     "-e", "."]]
    if order == "reversed":
        installs.reverse()
    steps += [installs[0], fit, installs[1], fit]
    for cmd in steps:
        t = time.monotonic()
        r = subprocess.run(cmd, cwd=src if "pip" in cmd[0] else tmp_path, env=env, capture_output=True, text=True,
                           timeout=1800)
        assert r.returncode == 0, f"{cmd} failed after {time.monotonic() - t:.0f} s:\n{r.stdout}\n{r.stderr}"
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert not (site / "symdescent").exists() or order == "reversed", "a stray symdescent folder is left"


def test_ci_runs_both_readme_commands_in_order():
    """CI runs README's quick start and then its test command verbatim, so a drift in either is caught."""
    first, second = _readme_commands()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert first in ci and second in ci
    assert ci.index(first) < ci.index(second)


def _scalar_source(v) -> bool:
    """A value the kernels assign to a slice that is certainly a scalar."""
    import ast

    if isinstance(v, ast.UnaryOp):
        v = v.operand
    if isinstance(v, ast.Constant):
        return True
    if isinstance(v, ast.Subscript) and not isinstance(v.slice, (ast.Slice, ast.Tuple)):
        # a tuple literal indexed, or one of the kernels' 1-d arrays given one index
        return isinstance(v.value, ast.Tuple) or (isinstance(v.value, ast.Name)
                                                  and v.value.id in ("consts", "value", "sval"))
    return False


def test_kernels_have_no_array_to_slice_assignments():
    """``a[:] = b`` from an array makes numba compile a shape-mismatch message with its string formatting:
    about 8 s of every first run (a third of the compilation), for a check that cannot fail in these kernels.
    They copy with ``kernels.copy_into``; a scalar fill (``a[:] = 0.0``) compiles no such message."""
    import ast

    found = []
    for path in sorted((PACKAGE / "expr" / "compiled").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Assign) or _scalar_source(node.value):
                continue
            if any(isinstance(t, ast.Subscript) and any(isinstance(s, ast.Slice) for s in ast.walk(t.slice))
                   for t in node.targets):
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    assert found == []
