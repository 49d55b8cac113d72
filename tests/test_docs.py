"""The public documentation stays true: README's commands, settings and API calls, and what each hook says
about how it is called.

(The runnable examples in the docstrings run as doctests: ``--doctest-modules`` in pyproject.toml.)
"""

import argparse
import ast
import importlib
import importlib.util
import inspect
import re
import shlex
from pathlib import Path

import pytest


# -- README: every command, setting and API call it shows exists ------------------------------------------
#
# Nothing is run: a command line is parsed by the command's own argument parser, a TOML block is validated
# as a config, a Python block's imports, keywords and methods are looked up.  A renamed flag, module,
# setting, parameter or example file makes one of these fail.

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```", README, re.S | re.M)
REPO_PATH = re.compile(r"^(examples|training|exported_models)/")


def _command_lines():
    """``(argv, synopsis)`` for each ``symdescent ...``, ``python -m symdescent...`` and ``python examples/...``
    line of the shell blocks; a synopsis (``[--flag X]``, continued on indented lines) is a list of flags."""
    out = []
    for lang, body in BLOCKS:
        if lang not in ("bash", ""):
            continue
        for line in body.splitlines():
            code = re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip()
            if not code:
                continue
            if line[:1].isspace() and code.startswith("[") and out and out[-1][1]:
                out[-1][0].extend(re.findall(r"--[a-z][\w-]*", code))  # a synopsis goes on
                continue
            for part in code.split("&&"):
                words = part.split()[:2] + re.findall(r"--[a-z][\w-]*", part) if "[" in part else shlex.split(part)
                if not words:
                    continue
                words[0] = words[0].removeprefix(".venv/bin/")
                python = words[0] in ("python", "python3") and len(words) > 1
                module = python and words[1] == "-m" and len(words) > 2 and words[2].startswith("symdescent")
                if words[0] == "symdescent" or module or python and words[1].startswith("examples/"):
                    out.append((words, "[" in part))
    return out


COMMANDS = _command_lines()


class _Parsed(Exception):
    """Raised instead of running the command, once its arguments parsed."""


def _parse_only(monkeypatch, main, argv):
    """Call ``main(argv)`` with argparse stopping right after a successful parse (unknown flags still fail)."""
    original = argparse.ArgumentParser.parse_known_args

    def parse_known_args(self, args=None, namespace=None):
        ns, extra = original(self, args, namespace)
        if extra:
            self.error(f"unrecognized arguments: {' '.join(extra)}")
        raise _Parsed(ns)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", parse_known_args)
    with pytest.raises(_Parsed):
        main(argv)


def _main_of(words):
    """The ``main`` function behind ``python -m MODULE`` or ``python examples/SCRIPT.py``, and the arguments."""
    if words[1] == "-m":
        name, argv = words[2], words[3:]
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] in ("torch", "onnx", "onnxscript"):
                pytest.skip(f"{name} needs the train extra ({exc.name} is not installed)")
            raise
    else:
        name, argv = words[1], words[2:]
        spec = importlib.util.spec_from_file_location("readme_example", ROOT / name)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module.main, argv


def test_readme_shows_commands():
    kinds = {w[0] if w[0] == "symdescent" else w[2] if w[1] == "-m" else w[1] for w, _ in COMMANDS}
    assert {"symdescent", "symdescent_lee.training.train", "symdescent_lee.experiments.ablation",
            "examples/ode_discovery.py"} <= kinds, kinds


@pytest.mark.parametrize("words, synopsis", COMMANDS, ids=[" ".join(w)[:70] for w, _ in COMMANDS])
def test_readme_command_parses(words, synopsis, monkeypatch, capsys):
    for word in words:
        if REPO_PATH.match(word):
            assert (ROOT / word).exists(), f"README names {word}, which is not in the repository"
    if words[0] == "symdescent":
        from symdescent.cli import build_parser

        if synopsis:  # symdescent fit DATA.csv --target y [--config FILE] ...: each flag is one of the command's
            with pytest.raises(SystemExit):
                build_parser().parse_args([words[1], "--help"])
            usage = capsys.readouterr().out
            missing = [w for w in words[2:] if not re.search(rf"(?<![\w-]){w}(?![\w-])", usage)]
            assert not missing, f"README's synopsis of symdescent {words[1]} names flags it does not have: {missing}"
            return
        try:
            build_parser().parse_args(words[1:])  # the CLI's own parser; nothing runs
        except SystemExit:
            pytest.fail(f"README's command does not parse: {' '.join(words)}\n{capsys.readouterr().err}")
        return
    main, argv = _main_of(words)
    try:
        _parse_only(monkeypatch, main, argv)
    except SystemExit:
        pytest.fail(f"README's command does not parse: {' '.join(words)}\n{capsys.readouterr().err}")


@pytest.mark.parametrize("text", [b for lang, b in BLOCKS if lang == "toml"])
def test_readme_config_blocks_are_valid_configs(text):
    from symdescent.config import config_from_dict, loads_toml
    from symdescent.registry import Registry

    config = config_from_dict(loads_toml(text, "README"), "README")
    Registry.discover().validate(config)  # strategy names, roles and every [plugins.*] key


def _python_blocks():
    return [b for lang, b in BLOCKS if lang == "python"]


def test_readme_python_uses_only_what_exists():
    """Imports resolve; calls of the classes it binds (est = SymbolicRegressor(...), search = Search(...))
    use their parameters, and methods called on those names exist and take the keywords given."""
    namespace: dict[str, object] = {}  # imported names, over all blocks in order (later blocks go on)
    bound: dict[str, type] = {}  # variable -> class of the instance it holds
    checked = 0
    for text in _python_blocks():
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name), f"README imports {alias.name} from {node.module}"
                    namespace[alias.asname or alias.name] = getattr(module, alias.name)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                root = node.value
                while isinstance(root, ast.Call) or isinstance(root, ast.Attribute):
                    root = root.func if isinstance(root, ast.Call) else root.value
                if isinstance(root, ast.Name) and isinstance(namespace.get(root.id), type):
                    bound[node.targets[0].id] = namespace[root.id]
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if isinstance(f, ast.Name) and callable(namespace.get(f.id)):
                target, where = namespace[f.id], f.id
            elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in bound:
                cls = bound[f.value.id]
                assert hasattr(cls, f.attr), f"README calls {f.value.id}.{f.attr}(), which {cls.__name__} lacks"
                target, where = getattr(cls, f.attr), f"{cls.__name__}.{f.attr}"
            else:
                continue
            params = inspect.signature(target).parameters
            if any(p.kind is p.VAR_KEYWORD for p in params.values()):
                continue
            for kw in node.keywords:
                assert kw.arg in params, f"README passes {kw.arg}= to {where}, which takes {list(params)}"
            checked += 1
    assert checked >= 10 and {"est", "search"} <= set(bound), (checked, bound)


# -- the hooks --------------------------------------------------------------------------------------------

def _hooks():
    from symdescent import hookspecs

    return {n: getattr(hookspecs, n) for n in dir(hookspecs) if hasattr(getattr(hookspecs, n), "symdescent_spec")}


def test_every_hook_states_when_and_how_it_is_called():
    """Each hook's docstring says when it is called and with which semantics, as pluggy runs it: 1:N
    (every callback, all results) or firstresult; and the module's order of calls lists every hook."""
    from symdescent import hookspecs

    hooks = _hooks()
    assert hooks
    order = hookspecs.__doc__.split("Order of calls", 1)[1].split("\n\n", 2)[1]
    assert set(re.findall(r"symdescent_\w+", order)) == set(hooks), "the order of calls and the hooks differ"
    for name, fn in hooks.items():
        doc = inspect.getdoc(fn) or ""
        assert doc.startswith(("Called", "Asked")), f"{name}: the first line does not say when it is called"
        firstresult = fn.symdescent_spec["firstresult"]
        says_1n = "(1:N" in doc
        says_first = re.search(r"(?<!not )firstresult", doc) is not None
        assert says_1n != firstresult and says_first == firstresult, (
            f"{name} is {'firstresult' if firstresult else '1:N'} but its docstring says otherwise")
