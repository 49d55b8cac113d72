"""The built-in strategies: ``random``, ``linear``, ``descent``, ``mdl`` and ``r2``.

They are registered directly by :func:`symdescent.registry.builtins` (no
installation needed); third-party plugins come through the ``symdescent``
entry-point group and are written the same way (see docs/plugins.md).
"""
