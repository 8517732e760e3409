"""What the host platform hands to request handlers: settings, database, signing key,
limits and blob storage."""

from __future__ import annotations

from dataclasses import dataclass

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
