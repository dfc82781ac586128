"""Renderers: pure functions from a stored scan to files."""
