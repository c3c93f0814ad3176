"""Alembic environment and migration scripts of the campaign store (ADR 0083)."""
