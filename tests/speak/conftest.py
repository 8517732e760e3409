"""Fixtures shared by the module's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scaispeak.speak.engines.registry import EngineRegistry
from tests.support.relay import Upstream, served_upstream


@pytest.fixture(scope="module")
def upstream(
    tmp_path_factory: pytest.TempPathFactory, engines: EngineRegistry
) -> Iterator[Upstream]:
    """A second ScaiSpeak instance, reached over HTTP like any managed TTS service."""
    with served_upstream(Path(tmp_path_factory.mktemp("upstream")), engines) as served:
        yield served
