"""Synthesis engines behind one interface (base.Engine)."""
