"""symdescent_pysr: PySR (SymbolicRegression.jl) as a symdescent refiner.

Install with ``pip install "symdescent[pysr]"`` plus a Julia runtime (1.10 or
newer), then select it in a config::

    [strategy]
    proposers = ["lee"]
    refiners = ["pysr"]

Modules: :mod:`~symdescent_pysr.plugin` (the refiner and its ``PYSR``
PluginInfo), :mod:`~symdescent_pysr.config` (``[plugins.pysr]``),
:mod:`~symdescent_pysr.signature` (PySRRegressor's keywords, read from
source), :mod:`~symdescent_pysr.operators` (operator translation),
:mod:`~symdescent_pysr.guesses` (candidates as PySR guesses),
:mod:`~symdescent_pysr.parsing` (PySR's equation table back into
expressions), :mod:`~symdescent_pysr.julia` (is Julia here?).

Importing this package imports neither pysr nor Julia.
"""
