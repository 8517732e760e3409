"""The backends this deployment offers and what each can do."""

from __future__ import annotations

from dataclasses import dataclass

from scaispeak.speak.engines.circuit import CircuitState
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.engines.relay import RelayEngine
from scaispeak.speak.synthesis.audio import AudioFormat
from scaispeak.speak.voices.models import Voice, VoiceScope

SELFHOSTED = "selfhosted"
RELAY = "relay"


@dataclass(frozen=True)
class Route:
    """How one request runs on one backend: which engine, under which voice name."""

    backend: str
    engine: str
    engine_voice: str


@dataclass(frozen=True)
class BackendInfo:
    name: str
    healthy: bool
    state: str
    detail: str
    formats: tuple[str, ...]
    streaming: bool
    cloned_voices: bool


class BackendCatalog:
    def __init__(self, engines: EngineRegistry, relay: RelayEngine | None) -> None:
        self.engines = engines
        self.relay = relay

    def names(self) -> list[str]:
        return [SELFHOSTED] + ([RELAY] if self.relay else [])

    def route(self, backend: str, voice: Voice) -> Route | None:
        """The route for ``voice`` on ``backend``, or None if it cannot speak it there."""
        if backend == SELFHOSTED:
            # The relay is registered as an engine too (the pipeline speaks through it),
            # but it sends the text away: never self-hosted, whatever a voice says.
            local = voice.engine in self.engines.names() and voice.engine != RelayEngine.name
            return Route(SELFHOSTED, voice.engine, voice.engine_voice) if local else None
        if backend == RELAY and self.relay is not None:
            is_global = voice.scope is VoiceScope.global_
            if not is_global and not self.relay.settings.supports_cloned_voices:
                return None
            name = self.relay.upstream_voice(voice.id, is_global)
            return Route(RELAY, self.relay.name, name) if name else None
        return None

    def healthy(self, backend: str) -> bool:
        if backend == RELAY and self.relay is not None:
            return self.relay.breaker.state is not CircuitState.open
        return backend in self.names()

    def describe(self) -> list[BackendInfo]:
        formats = tuple(f.value for f in AudioFormat)
        infos = [BackendInfo(SELFHOSTED, True, "ok", "", formats, True, True)]
        if self.relay is not None:
            breaker = self.relay.breaker
            infos.append(
                BackendInfo(
                    RELAY,
                    self.healthy(RELAY),
                    breaker.state.value,
                    breaker.last_error,
                    formats,
                    True,
                    self.relay.settings.supports_cloned_voices,
                )
            )
        return infos
