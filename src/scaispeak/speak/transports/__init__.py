"""Thin adapters from wire protocols onto the synthesis pipeline."""
