"""The plugin conformance suite (symdescent.testing) over the pysr refiner.

Where Julia is missing the suite skips every test with the plugin's own
availability message.
"""

from symdescent.testing import RefinerConformance
from symdescent_pysr.plugin import PYSR


class TestPySRRefiner(RefinerConformance):
    plugin = PYSR
    plugin_config = {"niterations": 2, "populations": 3, "population_size": 20, "ncycles_per_iteration": 40,
                     "timeout_margin": 0.3, "min_chunk_seconds": 0.3}
    refine_seconds = 3.0  # long enough for a PySR chunk (min_chunk_seconds + timeout_margin)
    time_budget = 6.0
    # Julia starts and compiles on PySR's first use in a process; that time is
    # outside what timeout_in_seconds bounds (see symdescent_pysr.plugin).
    time_slack = 120.0
