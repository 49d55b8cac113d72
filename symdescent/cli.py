"""The ``symdescent`` command line.

::

    symdescent fit DATA.csv --target y[,y2 ...] [--weights COLUMN] [--config FILE] [--time-budget S] [--seed N]
                   [--json OUT] [--plot FRONT.png]
    symdescent predict MODEL.json DATA.csv [--out PREDICTIONS.csv]
    symdescent plugins
    symdescent operators [--json]
    symdescent bench ...
    symdescent --version

Errors caused by the input (a missing column, NaN, a bad config key) print one
line to stderr and exit with code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

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
    from symdescent.data import read_csv_table
    from symdescent.estimator import model_record, run_outputs
    from symdescent.fileio import check_writable
    from symdescent.progress import RichProgress
    from symdescent.search import resolve_config

    targets = _target_list(args.target)
    if args.json:
        check_writable(args.json, "--json file")  # before the search, not after it
    if args.plot:
        from symdescent.views import image_format

        image_format(args.plot)  # matplotlib installed, a format it writes: before the search
        check_writable(args.plot, "--plot file")
    datasets, weights = read_csv_table(args.data, targets, args.weights,  # validated: the searches take it as it is
                                       units_row=args.units_row)
    base = resolve_config(args.config)
    if args.units_row:  # the file's units; the config's [units] (and --set units.NAME) win where both give one
        from symdescent.data import read_units_row

        file_units = {k: v for k, v in read_units_row(args.data).items() if k != args.weights}
        base = base.with_overrides(units={**file_units, **base.units})
    sets = parse_settings(args.set)
    sections = ["search", "strategy", "plugins", "units", "operators", "complexity", "constraints"]
    unknown = set(sets) - set(sections)
    if unknown:
        from symdescent.errors import ConfigError, did_you_mean

        name = sorted(unknown)[0]
        raise ConfigError(f"--set: unknown section {name!r}{did_you_mean(name, sections)}")
    cfg = apply_flags(base, sets, time_budget=args.time_budget, max_iterations=args.max_iterations, seed=args.seed,
                      workers=args.workers, scheduler=args.scheduler)
    progress, t0 = None, time.monotonic()
    if not args.quiet:
        from symdescent.expr import compiled

        if sys.stderr.isatty():
            from rich.console import Console

            with Console(stderr=True).status("preparing the compiled kernels (slow only on the first run)"):
                compiled.warm_up()
        else:  # a log or a pipe: one plain line, and only when it really compiles
            compiled.warm_up(notify=lambda msg: print(msg, file=sys.stderr, flush=True))
        spent, budget = time.monotonic() - t0, cfg.search.time_budget
        if spent > 3.0 and budget is not None and budget < float("inf"):  # it compiled: say where the time went
            print(f"symdescent: compiling the kernels took {spent:.1f} s of the {budget:g} s budget (once per "
                  f"installation; `symdescent warmup` does it ahead)", file=sys.stderr, flush=True)

        def progress(j: int):
            return RichProgress(cfg.search.time_budget, cfg.search.max_iterations,
                                label=targets[j] if len(targets) > 1 else None)

    results = [result for _, result in run_outputs(datasets, cfg, sample_weight=weights, progress=progress,
                                                   target_names=targets, startup=time.monotonic() - t0)]
    failed = [t for t, r in zip(targets, results) if r.best is None]
    if failed:
        print(f"error: no valid expression was found{' for ' + ', '.join(failed) if len(targets) > 1 else ''}",
              file=sys.stderr)
        return 1
    # one record for the console and the JSON: the same sympy expressions, the same elapsed time
    names = results[0].variable_names
    models = [(r.best, list(r.front)) for r in results]
    out = model_record(models, names, len(names), feature_names=names)
    if args.json:  # the file first: a closed or broken stdout (`| head`) must not cost the result
        from symdescent.fileio import write_text_atomic

        write_text_atomic(args.json, json.dumps(_json_record(out, targets, results, cfg), indent=2) + "\n",
                          "--json file")
    if args.plot:
        from symdescent.views import save_front_plot

        save_front_plot([(t, best, front) for t, (best, front) in zip(targets, models)], names, args.plot,
                        "--plot file")
    if not args.quiet:
        for target, result in zip(targets, results):
            _report(result, target)
    else:
        for entry in out.get("outputs", [out]):
            print(entry["best"]["expression"])
    return 0


def _target_list(values) -> list[str]:
    """``--target a,b`` (or ``--target a --target b``): the target columns, in order."""
    targets = [t.strip() for value in values for t in value.split(",")]
    if not all(targets):
        from symdescent.errors import ConfigError

        raise ConfigError(f"--target: an empty column name in {','.join(values)!r}; give names such as y or a,b")
    return targets


def _json_record(out: dict, targets: list[str], results: list, cfg) -> dict:
    """``symdescent fit --json``: the model record (``symdescent predict`` and ``SymbolicRegressor.load`` read it)
    and each search's run: ``targets``; with one target also ``target`` and the run's fields at the top; with
    several, each entry of ``outputs`` has its ``target`` and run, and the top ``elapsed_s`` and ``interrupted``
    are of all of them."""
    def run(result) -> dict:
        info = result.to_dict()
        for key in ("best", "pareto_front", "variable_names"):
            info.pop(key)
        return info

    record = {**out, "targets": targets}
    if len(targets) == 1:
        record.update(target=targets[0], **run(results[0]))
    else:
        for target, entry, result in zip(targets, record["outputs"], results):
            entry.update(target=target, **run(result))
        record.update(elapsed_s=sum(r.elapsed for r in results), interrupted=any(r.interrupted for r in results))
    record["config"] = cfg.to_dict()
    return record


def _predict(args) -> int:
    import numpy as np
    import pandas as pd

    from symdescent.data import read_frame
    from symdescent.errors import DataError, did_you_mean
    from symdescent.estimator import SymbolicRegressor, output_names, read_record

    if args.out:
        from symdescent.fileio import check_writable

        check_writable(args.out, "--out file")
    est = SymbolicRegressor.load(args.model)
    frame = read_frame(args.data)
    by_name = getattr(est, "feature_names_in_", None)
    columns = [str(c) for c in (by_name if by_name is not None else est.variable_names_)]
    for name in columns:  # the model's columns, by name, wherever they are; other columns are left out
        if name not in frame.columns:
            raise DataError(f"{args.data}: no column {name!r}{did_you_mean(name, map(str, frame.columns))}; "
                            f"the model reads the columns {', '.join(columns)}")
    try:
        predictions = est.predict(frame[columns] if by_name is not None else frame[columns].to_numpy())
    except DataError as exc:
        raise type(exc)(f"{args.data}: {exc}") from None
    n_outputs = getattr(est, "n_outputs_", 1)
    targets = read_record(args.model).get("targets")
    if not (isinstance(targets, list) and len(targets) == n_outputs and all(isinstance(t, str) for t in targets)):
        targets = output_names(n_outputs)
    text = pd.DataFrame(np.reshape(predictions, (len(frame), n_outputs)), columns=targets).to_csv(index=False)
    if args.out:
        from symdescent.fileio import write_text_atomic

        write_text_atomic(args.out, text, "--out file")
    else:
        sys.stdout.write(text)
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


def operator_help() -> str:
    """The operators as ``name: description`` lines, for ``symdescent fit --help``."""
    rows = operator_rows()
    lines = [f"  {r['name']}: {r['description']}" for r in rows]
    default = " ".join(r["name"] for r in rows if r["default"])
    return ("operators (search.operators; e.g. --set search.operators=add,mul,sin):\n" + "\n".join(lines)
            + f"\ndefault set: {default}")


class _HelpWithOperators(argparse.Action):
    """``-h``/``--help`` of ``symdescent fit``: the usual help, then the operators (read only when asked)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help="show this help message, and the operators, and exit"):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.epilog = operator_help()
        parser.print_help()
        parser.exit()


def _workers(text: str):
    """``--workers``: an integer, or ``auto`` (the config checks the range)."""
    if text.strip() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or auto, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    from symdescent import __version__

    p = argparse.ArgumentParser(prog="symdescent", description="Symbolic descent: find closed-form models of data.")
    p.add_argument("--version", action="version", version=f"symdescent {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fit", help="search a formula for a CSV column", add_help=False,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("-h", "--help", action=_HelpWithOperators)
    f.add_argument("data", help="CSV file with a header row")
    f.add_argument("--target", required=True, action="append", metavar="COLUMN[,COLUMN...]",
                   help="the column to explain; several, comma-separated (--target a,b): one formula per column")
    f.add_argument("--weights", metavar="COLUMN",
                   help="a column of non-negative row weights (left out of the features), as fit's sample_weight")
    f.add_argument("--units-row", action="store_true",
                   help="the line after the CSV header gives each column's unit (m, s, kg*m/s^2; 1 for none): "
                        "the search then penalises dimensionally inconsistent formulas (search.dimensional)")
    f.add_argument("--config", help="TOML config file")
    f.add_argument("--time-budget", type=float, help="seconds of search")
    f.add_argument("--max-iterations", type=int, help="iterations of the descent loop")
    f.add_argument("--seed", type=int, help="random seed")
    f.add_argument("--workers", type=_workers, metavar="N",
                   help="worker processes: 1 is one process; N > 1 runs N islands on a local Dask cluster; "
                        "0 or auto: one per core (default: the config's search.workers, else the environment "
                        "variable SYMDESCENT_WORKERS, else auto)")
    f.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the islands on an existing Dask cluster, e.g. tcp://host:8786")
    f.add_argument("--json", help="write the result as JSON to this file (symdescent predict reads it)")
    f.add_argument("--plot", metavar="FILE",
                   help="draw the Pareto front (loss against complexity, the chosen model marked) to this image, "
                        "e.g. front.png (needs matplotlib)")
    f.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="override any config setting, e.g. --set search.max_complexity=20 "
                        "--set 'strategy.proposers=[\"lee\"]' --set plugins.descent.population_size=100; "
                        "a list may be comma-separated: --set search.operators=add,mul,sin "
                        "(symdescent operators lists them)")
    f.add_argument("--quiet", action="store_true", help="no progress display; print only the chosen expression (one line per target)")
    f.set_defaults(func=_fit)
    pr = sub.add_parser("predict", help="evaluate a saved model on the rows of a CSV")
    pr.add_argument("model", help="a model file: symdescent fit --json or SymbolicRegressor.save")
    pr.add_argument("data", help="CSV file with a header row holding the model's columns (by name)")
    pr.add_argument("--out", metavar="FILE", help="write the predictions as CSV to this file (default: stdout)")
    pr.set_defaults(func=_predict)
    op = sub.add_parser("operators", help="list the operators search.operators can name")
    op.add_argument("--json", action="store_true", help="machine-readable output")
    op.set_defaults(func=_operators)
    wu = sub.add_parser("warmup", help="compile the numba kernels now, once per installation (else the first "
                                       "fit compiles them, out of its time budget)")
    wu.set_defaults(func=_warmup)
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


def _warmup(args) -> int:
    import os

    from symdescent.expr import compiled

    t0 = time.monotonic()
    compiled.warm_up()
    where = os.environ.get("NUMBA_CACHE_DIR") or "numba's user cache (~/.cache/numba)"
    print(f"the compiled kernels are ready ({time.monotonic() - t0:.1f} s; cached in {where})")
    return 0


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
