"""Collectors: the only code that talks to the outside world. Every answer becomes an evidence record."""
