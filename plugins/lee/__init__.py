"""LEE, Latent Equation Embedding: a learned proposer and refiner for symdescent.

Import-light on purpose: the runtime (numpy + onnxruntime) and the training
code (torch) load only in the modules that need them.
"""
