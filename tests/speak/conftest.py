"""Fixtures shared by the module's tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scaispeak.app import create_app
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.errors import BackendUnavailable
from tests.conftest import make_settings
from tests.support.gated import Served
from tests.support.relay import Upstream, served_upstream
from tests.support.server import ServerThread, bootstrap_key


@pytest.fixture(scope="module")
def upstream(
    tmp_path_factory: pytest.TempPathFactory, engines: EngineRegistry
) -> Iterator[Upstream]:
    """A second ScaiSpeak instance, reached over HTTP like any managed TTS service."""
    with served_upstream(Path(tmp_path_factory.mktemp("upstream")), engines) as served:
        yield served


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, engines: EngineRegistry) -> Iterator[Served]:
    settings = make_settings(Path(tmp_path_factory.mktemp("openai-stream")))
    key = asyncio.run(bootstrap_key(settings.resolved_database_url))
    app = create_app(settings, engines=engines)
    with ServerThread(app) as server:
        yield Served(server, key, app, settings.resolved_database_url)


@pytest.fixture
def gated(served: Served, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Segments after the first wait for ``gate``; ``spoken`` lists the indexes made;
    ``fail_at`` makes that segment's engine call fail."""
    pipeline = served.app.state.speak.pipeline
    speak = pipeline.speak_segment
    state: dict[str, Any] = {"gate": threading.Event(), "spoken": [], "fail_at": None}

    async def held_back(index: int, *args: Any, **kwargs: Any) -> Any:
        if index > 0:
            await asyncio.to_thread(state["gate"].wait, 60)
        if index == state["fail_at"]:
            raise BackendUnavailable("the engine went away")
        state["spoken"].append(index)
        return await speak(index, *args, **kwargs)

    monkeypatch.setattr(pipeline, "speak_segment", held_back)
    yield state
    state["gate"].set()
