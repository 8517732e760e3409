"""Where synthesis runs: backends, tenant policy and the per-request dispatcher."""
