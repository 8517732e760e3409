"""Where a voice's bytes live in blob storage, and the engine's synchronous way in.

Keys are derived from ids (``voices/<voice id>/...``), so the cloning engine can find
an embedding from the voice id alone. The engine runs in inference threads and its
loader is synchronous; ``EmbeddingLoader`` bridges to the async store by scheduling
the read on the application's event loop and waiting for it in the calling thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from scaispeak.platform.storage import BlobNotFound, BlobStore
from scaispeak.speak.engines.base import EngineError

LOADER_TIMEOUT_S = 30.0


def reference_key(voice_id: str) -> str:
    return f"voices/{voice_id}/reference.wav"


def embedding_key(voice_id: str) -> str:
    return f"voices/{voice_id}/embedding"


def consent_document_key(voice_id: str) -> str:
    return f"voices/{voice_id}/consent-document"


def licence_proof_key(licence_id: str, sha256: str) -> str:
    """One key per proof document: a newer proof never overwrites an older one, which
    stays readable for whoever checks the audit trail's fingerprint of it."""
    return f"licences/{licence_id}/proof-{sha256[:32]}"


class EmbeddingLoader:
    """``loader(voice_id) -> bytes`` for the cloning engine, callable from any thread
    but the event loop's own (where it would wait on itself)."""

    def __init__(self, storage: BlobStore) -> None:
        self._storage = storage
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called at start-up from the running loop."""
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def __call__(self, voice_id: str) -> bytes | None:
        """The stored embedding, or None when the voice has none (the engine's contract)."""
        if self._loop is None or self._loop.is_closed():
            raise EngineError("voice embeddings cannot be loaded: the service is not running")
        if threading.get_ident() == self._loop_thread:
            raise EngineError("EmbeddingLoader must not be called on the event loop thread")
        future = asyncio.run_coroutine_threadsafe(
            self._storage.get(embedding_key(voice_id)), self._loop
        )
        try:
            return future.result(timeout=LOADER_TIMEOUT_S)
        except BlobNotFound:
            return None


async def delete_blobs(storage: BlobStore, keys: Sequence[str | None]) -> list[str]:
    """Delete each key (a missing blob is fine); returns the keys it was asked to remove."""
    removed = []
    for key in keys:
        if key:
            await storage.delete(key)
            removed.append(key)
    return removed
