"""Training LEE: the synthetic data, the torch model, the training loop and the ONNX export.

Needs the ``train`` extra (torch, onnx).  Nothing under :mod:`symdescent_lee`'s
top level imports this package: inference runs on the export alone
(:mod:`symdescent_lee.runtime`, numpy and onnxruntime).

* :mod:`~symdescent_lee.training.data` and :mod:`~symdescent_lee.training.dimensional`:
  seeded synthetic expressions and data (numpy only);
* :mod:`~symdescent_lee.training.model`: the torch model;
* :mod:`~symdescent_lee.training.train`: the training loop and checkpoints
  (``python -m symdescent_lee.training.train``);
* :mod:`~symdescent_lee.training.export`: the ONNX export the runtime loads
  (``python -m symdescent_lee.training.export``).
"""
