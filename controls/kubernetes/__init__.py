"""Kubernetes checks: workloads, RBAC and network policy, over a live cluster or rendered manifests."""
