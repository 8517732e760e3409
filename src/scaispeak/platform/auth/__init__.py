"""Authentication: tenants, users, roles, API keys and browser tokens."""
