"""An engine's failure as the service error its caller is shown.

Engines raise their own exceptions (engines/base.py) and know nothing of HTTP; every
pipeline call into an engine goes through :func:`engine_errors`, so a failing engine is
reported the same way whether it spoke a segment, an opening or a passed-on body.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

from scaispeak.speak.engines.base import (
    EngineError,
    EngineUnavailable,
    OutdatedEngineVoice,
    UnknownEngineVoice,
    UpstreamFailed,
)
from scaispeak.speak.errors import (
    BackendUnavailable,
    SynthesisFailed,
    UpstreamError,
    VoiceUnavailable,
)


@contextmanager
def engine_errors(engine_name: str) -> Iterator[None]:
    """Unavailable -> 503 backend_unavailable, an upstream's error answer -> 502
    upstream_error, a voice the engine no longer holds or cannot read -> 409
    voice_unavailable, any other engine failure -> 500 synthesis_failed."""
    try:
        yield
    except EngineUnavailable as exc:
        raise BackendUnavailable(
            f"The {engine_name} engine is unavailable: {exc}",
            retry_after=math.ceil(exc.retry_after_s) if exc.retry_after_s is not None else None,
        ) from exc
    except UpstreamFailed as exc:
        raise UpstreamError(f"The {engine_name} upstream failed: {exc}") from exc
    except UnknownEngineVoice as exc:
        # The voice record outlived what the engine holds: a cloned voice whose consent
        # was revoked while a stream was speaking with it. The voice's fault, not ours.
        raise VoiceUnavailable(
            f"The voice is no longer available ({exc}): its consent may have been revoked."
        ) from exc
    except OutdatedEngineVoice as exc:
        # A process of a newer release evicts such voices at start and refits them; in
        # a rolling deploy an older process may meet a voice already refitted.
        raise VoiceUnavailable(
            f"The voice was fitted for another version of its engine ({exc}) and is"
            " being fitted again; try again in a few minutes."
        ) from exc
    except EngineError as exc:
        raise SynthesisFailed(f"The {engine_name} engine failed: {exc}") from exc
