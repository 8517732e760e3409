"""Alembic migrations of the whole schema (platform and module tables)."""
