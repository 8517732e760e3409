"""What the host platform hands to request handlers: settings, database, signing key,
limits and blob storage."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from scaispeak.platform.db import Database
from scaispeak.platform.limits import TenantLimiter
from scaispeak.platform.storage import BlobStore
from scaispeak.settings import Settings


@dataclass
class PlatformContext:
    settings: Settings
    db: Database
    signing_key: str
    limiter: TenantLimiter
    storage: BlobStore
    on_user_deleted: list[Callable[[str, str], Awaitable[None]]] = field(default_factory=list)
    """Run with a deleted user's id and the deleting admin's after the deletion commits,
    to remove what the user made (app.py registers them); each must be safe to run again."""
