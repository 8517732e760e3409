"""How many streams each tenant holds open in this process, and the per-tenant cap.

Counted per process: in a distributed deployment each API replica applies the cap
to the streams it serves (docs/streaming.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from scaispeak.speak.streaming.protocol import TooManyStreams


class ActiveStreams:
    def __init__(self) -> None:
        self._open: Counter[str] = Counter()

    def count(self, tenant_id: str | None = None) -> int:
        """Open streams of ``tenant_id``, or of every tenant."""
        return self._open[tenant_id] if tenant_id else self._open.total()

    @contextmanager
    def hold(self, tenant_id: str, cap: int) -> Iterator[None]:
        """Count one stream for ``tenant_id`` while the block runs; raises TooManyStreams."""
        if self._open[tenant_id] >= cap:
            raise TooManyStreams(
                f"This tenant already has {self._open[tenant_id]} open streams; the limit is {cap}."
            )
        self._open[tenant_id] += 1
        try:
            yield
        finally:
            self._open[tenant_id] -= 1
            if not self._open[tenant_id]:
                del self._open[tenant_id]
