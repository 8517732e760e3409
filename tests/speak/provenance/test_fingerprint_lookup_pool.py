"""Fingerprint matching runs in a pool of its own, not asyncio's default executor."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from scaispeak.speak.provenance import service


async def test_matching_never_takes_the_default_executors_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Seconds of CPU per /detect at 2000 records: in the default executor a few calls
    took every thread the rest of the service hands short work to."""

    def where(_query: Any, _rows: Any) -> list[Any]:
        return [threading.current_thread().name]

    monkeypatch.setattr(service, "_match_all", where)
    ran_in: list[Any] = await service._matched(np.zeros(1, dtype=np.uint32), [])
    assert ran_in[0].startswith("provenance-match")
