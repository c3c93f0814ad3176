"""Powder XRD (see modules)."""
