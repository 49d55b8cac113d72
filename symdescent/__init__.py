"""symdescent: symbolic descent, searching closed-form programs that explain data."""
__version__ = "0.1.0"
