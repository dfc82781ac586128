"""The compliance engine: collect evidence, evaluate checks, assess frameworks, store and report."""

__version__ = "0.1.0"
