"""Collectors for Kubernetes: a live cluster through the official client, or rendered manifests."""
