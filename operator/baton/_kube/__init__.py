"""Kubernetes API access: credentials and a small typed HTTP client."""
