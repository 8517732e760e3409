"""Budgets, reservations and the append-only usage ledger (the platform's accounting)."""
