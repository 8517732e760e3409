"""What the voice endpoints share within one process: settings, storage, pools, builder.

Built in ``app.py`` and kept on ``app.state.voices``; services receive its parts as
arguments, endpoints reach it through ``voices_runtime``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from starlette.requests import HTTPConnection

from scaispeak.platform.storage import BlobStore
from scaispeak.settings import VoicesSettings
from scaispeak.speak.voices.analysis import AnalysisPool
from scaispeak.speak.voices.blobs import EmbeddingLoader
from scaispeak.speak.voices.builder import VoiceBuilder
from scaispeak.speak.voices.statement import new_phrase

RevocationHook = Callable[[str], Awaitable[None]]
"""Called with a voice id after its consent is revoked (and its blobs are gone)."""


@runtime_checkable
class VoiceCache(Protocol):
    """The cloning engine's bounded cache of loaded voices, as the domain sees it."""

    def forget(self, voice_id: str) -> None:
        """Drop a voice now (revoked, deleted, rebuilt)."""
        ...

    def preload(self, voice_id: str) -> None:
        """Load a voice's embedding before its first use. Blocking."""
        ...


@dataclass
class VoicesRuntime:
    settings: VoicesSettings
    storage: BlobStore
    analysis: AnalysisPool
    builder: VoiceBuilder
    loader: EmbeddingLoader
    cache: VoiceCache | None = None
    phrases: Callable[[], str] = new_phrase
    """Draws the one-time phrase of each consent challenge."""
    purger: asyncio.Task[None] | None = None
    """Retries the deletion of withdrawn voices' blobs (purges.py)."""
    on_revoke: list[RevocationHook] = field(default_factory=list)
    """Hooks run once a voice can no longer be spoken (its consent revoked, or the voice
    deleted): synth jobs register one that cancels the voice's queued and running jobs."""

    def forget(self, voice_id: str) -> None:
        if self.cache is not None:
            self.cache.forget(voice_id)

    async def withdraw(self, voice_id: str) -> None:
        """The voice is gone for good: drop it from memory and stop what still uses it."""
        self.forget(voice_id)
        for hook in self.on_revoke:
            await hook(voice_id)


def voices_runtime(conn: HTTPConnection) -> VoicesRuntime:
    runtime: VoicesRuntime = conn.app.state.voices
    return runtime
