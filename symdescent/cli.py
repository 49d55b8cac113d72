"""The ``symdescent`` command line.

::

    symdescent fit DATA.csv --target y [--config FILE] [--time-budget S] [--seed N] [--json OUT]
    symdescent plugins
    symdescent operators [--json]
    symdescent bench ...

Errors caused by the input (a missing column, NaN, a bad config key) print one
line to stderr and exit with code 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from symdescent.errors import SymdescentError


def parse_settings(items) -> dict:
    """``["search.seed=3", "plugins.lee.samples=64"]`` -> nested dict (values read as TOML).

    A value that is not TOML is a bare word (:class:`~symdescent.config.CommandLineWord`):
    a string, or for a list-valued setting comma-separated items
    (``search.operators=add,mul``).
    """
    import tomllib

    from symdescent.config import CommandLineWord, loads_toml
    from symdescent.errors import ConfigError

    out: dict = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        parts = key.strip().split(".")
        if not sep or len(parts) < 2 or not all(parts):
            raise ConfigError(f"--set expects SECTION.KEY=VALUE (e.g. search.seed=3), got {item!r}")
        try:
            value = loads_toml(f"v = {raw.strip()}", f"--set {key.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = CommandLineWord(raw.strip())  # a bare word: a string, or a comma-separated list
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def _fit(args) -> int:
    from symdescent.config import apply_flags
    from symdescent.data import read_csv
    from symdescent.progress import RichProgress
    from symdescent.search import Search, resolve_config

    if args.json:
        from symdescent.fileio import check_writable

        check_writable(args.json, "--json file")  # before the search, not after it
    data = read_csv(args.data, args.target)  # validated: the search takes it as it is
    base = resolve_config(args.config)
    sets = parse_settings(args.set)
    unknown = set(sets) - {"search", "strategy", "plugins"}
    if unknown:
        from symdescent.errors import ConfigError, did_you_mean

        name = sorted(unknown)[0]
        raise ConfigError(f"--set: unknown section {name!r}{did_you_mean(name, ['search', 'strategy', 'plugins'])}")
    cfg = apply_flags(base, sets, time_budget=args.time_budget, max_iterations=args.max_iterations, seed=args.seed,
                      workers=args.workers, scheduler=args.scheduler)
    callbacks = [] if args.quiet else [RichProgress(cfg.search.time_budget, cfg.search.max_iterations)]
    if not args.quiet:
        from symdescent.expr import compiled

        if sys.stderr.isatty():
            from rich.console import Console

            with Console(stderr=True).status("preparing the compiled kernels (slow only on the first run)"):
                compiled.warm_up()
        else:  # a log or a pipe: one plain line, and only when it really compiles
            compiled.warm_up(notify=lambda msg: print(msg, file=sys.stderr, flush=True))
    result = Search(data, None, config=cfg, callbacks=callbacks).run()
    if result.best is None:
        print("error: no valid expression was found", file=sys.stderr)
        return 1
    # one record for the console and the JSON: the same sympy expressions, the same elapsed time
    out = result.to_dict()
    best_expression = out["best"]["expression"]
    if args.json:  # the file first: a closed or broken stdout (`| head`) must not cost the result
        from symdescent.fileio import write_text_atomic

        keys = ("expression", "complexity", "r2", "loss")
        out["best"] = {k: out["best"][k] for k in keys}
        out["pareto_front"] = [{k: c[k] for k in keys} for c in out["pareto_front"]]
        out["config"] = cfg.to_dict()
        out["target"] = args.target
        write_text_atomic(args.json, json.dumps(out, indent=2) + "\n", "--json file")
    if not args.quiet:
        _report(result, args.target)
    else:
        print(best_expression)
    return 0


def _report(result, target: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from symdescent.expr.sympy_bridge import readable

    names = result.variable_names
    console = Console()
    best = result.best
    console.print(f"[bold]{escape(target)} = {escape(readable(best.expression, names))}[/]")
    # result.elapsed: the search's own clock (start to the end of the final polish), as the JSON's elapsed_s
    console.print(f"R² {best.r2:.8f}   loss {best.loss:.4g}   complexity {best.complexity}   "
                  f"{result.iterations} iterations, {result.n_evaluations} evaluations, {result.elapsed:.1f} s"
                  + ("   (interrupted)" if result.interrupted else ""))
    table = Table(title="Pareto front (the chosen model is marked best)")
    for col in ("model", "complexity", "loss", "R²", "expression"):
        table.add_column(col, justify="right" if col in ("complexity", "loss", "R²") else "left")
    for c in result.front:
        chosen = c is best or c == best
        table.add_row("best" if chosen else "", str(c.complexity), f"{c.loss:.4g}", f"{c.r2:.6f}",
                      escape(readable(c.expression, names, 5)), style="bold" if chosen else None)
    console.print(table)


def _plugins(args) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from symdescent.registry import Registry, describe

    rows = describe(Registry.discover())
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title="symdescent plugins")
    for col in ("name", "roles", "status", "description", "settings"):
        table.add_column(col)
    for r in rows:
        status = "available" if r["available"] else f"unavailable: {r['reason']}"
        table.add_row(*(escape(v) for v in (r["name"], ", ".join(r["roles"]), status, r["description"],
                                             ", ".join(r["settings"]))))
    Console(width=200).print(table)
    return 0


def operator_rows() -> list[dict]:
    """Every operator the search knows: name, arity, whether the default set has it, and what it computes."""
    from symdescent.config import DEFAULT_OPERATORS
    from symdescent.expr import ops

    return [{"name": op.name, "arity": op.arity, "default": op.name in DEFAULT_OPERATORS,
             "description": op.description} for op in ops.OPERATORS.values()]


def _operators(args) -> int:
    rows = operator_rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="operators (search.operators; the default set is marked)",
                  caption="e.g. --set search.operators=add,mul,sin or, in TOML, operators = [\"add\", \"mul\"]")
    for col in ("name", "arity", "default", "description"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], str(r["arity"]), "yes" if r["default"] else "", r["description"])
    Console(width=120).print(table)
    return 0


def _workers(text: str):
    """``--workers``: an integer, or ``auto`` (the config checks the range)."""
    if text.strip() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or auto, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="symdescent", description="Symbolic descent: find closed-form models of data.")
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fit", help="search a formula for a CSV column")
    f.add_argument("data", help="CSV file with a header row")
    f.add_argument("--target", required=True, help="the column to explain")
    f.add_argument("--config", help="TOML config file")
    f.add_argument("--time-budget", type=float, help="seconds of search")
    f.add_argument("--max-iterations", type=int, help="iterations of the descent loop")
    f.add_argument("--seed", type=int, help="random seed")
    f.add_argument("--workers", type=_workers, metavar="N",
                   help="worker processes: 1 (default) is one process; N > 1 runs N islands on a local Dask "
                        "cluster; 0 or auto: one per core")
    f.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the islands on an existing Dask cluster, e.g. tcp://host:8786")
    f.add_argument("--json", help="write the result as JSON to this file")
    f.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="override any config setting, e.g. --set search.max_complexity=20 "
                        "--set 'strategy.proposers=[\"lee\"]' --set plugins.descent.population_size=100; "
                        "a list may be comma-separated: --set search.operators=add,mul,sin "
                        "(symdescent operators lists them)")
    f.add_argument("--quiet", action="store_true", help="no progress display; print only the best expression")
    f.set_defaults(func=_fit)
    op = sub.add_parser("operators", help="list the operators search.operators can name")
    op.add_argument("--json", action="store_true", help="machine-readable output")
    op.set_defaults(func=_operators)
    pl = sub.add_parser("plugins", help="list installed plugins and what each provides")
    pl.add_argument("--json", action="store_true", help="machine-readable output")
    pl.set_defaults(func=_plugins)
    try:
        from symdescent.bench.cli import add_parser as add_bench
    except ImportError as exc:  # keep the sub-command, to say what to install
        missing = exc.name or str(exc)
        b = sub.add_parser("bench", help="benchmark symdescent and peers (needs the 'bench' extra)", add_help=False)
        b.set_defaults(func=lambda args: _missing_extra("bench", missing), any_arguments=True)
    else:
        add_bench(sub)
    return p


def _missing_extra(extra: str, missing: str) -> int:
    from symdescent.errors import DependencyError

    raise DependencyError(f"symdescent {extra} needs the {extra!r} extra (cannot import {missing}): "
                          f'pip install "symdescent[{extra}]"')


def main(argv=None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "any_arguments", False):  # what parse_args does, except for the bench stub
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return args.func(args)
    except SymdescentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
