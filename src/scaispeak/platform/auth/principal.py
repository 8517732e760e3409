"""The authenticated caller, as every service function sees it."""

from __future__ import annotations

from dataclasses import dataclass

from scaispeak.platform.auth.models import Role


@dataclass(frozen=True)
class Principal:
    user_id: str
    tenant_id: str
    role: Role
    key_id: str | None = None
    """The API key used, or the one that issued the browser token used (None for work
    run on a user's behalf, such as a job)."""
    via_browser_token: bool = False
    """Authenticated by a short-lived browser token rather than an API key."""

    @property
    def is_superadmin(self) -> bool:
        return self.role is Role.superadmin

    def is_admin_of(self, tenant_id: str) -> bool:
        """Superadmins administer every tenant; tenant admins only their own."""
        if self.is_superadmin:
            return True
        return self.role is Role.tenant_admin and self.tenant_id == tenant_id
