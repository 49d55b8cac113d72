"""Benchmarks: SRBench-style comparisons of symdescent and its peers.

``symdescent bench`` generates data from a suite of ground-truth formulas (the
AI Feynman equations ship with the package), or splits real tables (the
``blackbox`` suite, SRBench's black-box track), runs every method on every
(problem, seed, noise) with the same data and wall-clock budget as one Dask
task each, and writes one CSV row per run, a markdown summary and plots.

Modules
-------
problems
    Suites of formulas: loading, parsing with the safe parser, selecting.
tables
    Suites of real tables: the ``blackbox`` registry and folders of CSV files.
data
    Seeded data generation: uniform samples, train/test split, target noise.
metrics
    Test R², accuracy and symbolic solutions, complexity.
methods
    Adapters: symdescent with any config, pyoperon, gplearn, PySR; ``linear`` and ``gbr`` references.
runner
    The run plan, resuming, and execution on a Dask cluster.
report
    The markdown summary table and the plots.
cli
    The ``symdescent bench`` sub-command.
islands_overhead
    The island search's cost per exchange by number of workers, and its prediction for more.

Examples
--------
>>> from symdescent.bench.problems import load_suite
>>> [p.id for p in load_suite("feynman")[:2]]
['I.6.2a', 'I.6.2']
"""
