"""Checks of a live HTTPS API, judged from the probes `compliance.collect.web` recorded."""
