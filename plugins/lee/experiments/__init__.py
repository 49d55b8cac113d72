"""Experiment scripts that measure an exported LEE model; none of them is needed to use it.

* :mod:`~symdescent_lee.experiments.latency`: inference latency, onnxruntime against torch eager
  (``python -m symdescent_lee.experiments.latency``);
* :mod:`~symdescent_lee.experiments.heldout`: skeleton recovery on unseen synthetic problems
  (``python -m symdescent_lee.experiments.heldout``);
* :mod:`~symdescent_lee.experiments.ablation`: the search variants on benchmark problems
  (``python -m symdescent_lee.experiments.ablation``);
* :mod:`~symdescent_lee.experiments.diagnostics`: what each refinement round does (latent norm, the
  evaluation decoder's error, the decoded candidates' true error), re-encoding against gradient steps
  against a longer one-shot decode at equal time (``python -m symdescent_lee.experiments.diagnostics``).

They drive the runtime through its public methods only, and import
:mod:`symdescent_lee.training` where they compare with torch or draw synthetic data.
"""
