"""An engine's failure is shown as the error its cause deserves."""

from __future__ import annotations

import pytest

from scaispeak.speak.engines.base import EngineError, UnknownEngineVoice
from scaispeak.speak.errors import SynthesisFailed, VoiceUnavailable
from scaispeak.speak.synthesis.engine_errors import engine_errors


def test_a_voice_the_engine_no_longer_holds_is_409_not_a_failed_synthesis() -> None:
    """A cloned voice revoked while a stream speaks with it: its fitted model is gone."""
    with pytest.raises(VoiceUnavailable) as refused, engine_errors("clone"):
        raise UnknownEngineVoice("no fitted voice 'voc_x'")
    assert refused.value.status == 409 and "voc_x" in refused.value.detail
    with pytest.raises(SynthesisFailed), engine_errors("clone"):
        raise EngineError("the model crashed")
