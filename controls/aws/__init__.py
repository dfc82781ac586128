"""Checks of an AWS account, one module per service."""
