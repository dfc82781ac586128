"""The checks: pure functions of a collected inventory, and the framework catalogs that map them."""

from controls.registry import CHECKS, Check, all_checks, check, get_check

__all__ = ["CHECKS", "Check", "all_checks", "check", "get_check"]
