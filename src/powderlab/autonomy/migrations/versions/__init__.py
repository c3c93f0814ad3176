"""The campaign store's migration chain, one revision per module (ADR 0083)."""
