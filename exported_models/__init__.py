"""The trained models symdescent ships (data only).

``lee/``: the LEE export (ONNX graphs and ``manifest.json`` with the
vocabulary, the numeric encoding, SHA-256 of every file, the training
configuration and the measured figures).
"""
