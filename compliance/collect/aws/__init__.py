"""Collecting an AWS account: what to call (spec), how to call it (collector), with which session."""
