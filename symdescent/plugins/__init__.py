"""The built-in plugins.  They are registered through the ``symdescent``
entry-point group exactly like external plugins (see pyproject.toml)."""
