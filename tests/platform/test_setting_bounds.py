"""Every number the operator sets has bounds, so a value the service cannot work with
stops it at start with the setting's name, rather than starting a service that hangs,
refuses everything or crashes on the first request (``INFERENCE_THREADS=0``, crossed
minimum and maximum durations)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from scaispeak.settings import Settings


def _numeric_settings(model: type[BaseModel], prefix: str = "") -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            found += _numeric_settings(kind, f"{prefix}{name}.")
        elif kind in (int, float):
            found.append((prefix + name, field))
    return found


def test_every_numeric_setting_has_a_bound() -> None:
    numeric = _numeric_settings(Settings)
    assert len(numeric) > 80  # the walk reached the nested groups
    unbounded = [name for name, field in numeric if not field.metadata]
    assert unbounded == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SCAISPEAK_ENGINES__INFERENCE_THREADS", "0"),
        ("SCAISPEAK_LIMITS__INLINE_MAX_CHARS", "0"),
        ("SCAISPEAK_LIMITS__PAGE_SIZE_MAX", "-1"),
        ("SCAISPEAK_ACCOUNTING__REQUESTS_PER_MINUTE_PER_TENANT", "0"),
        ("SCAISPEAK_ENGINES__TARGET_LUFS", "3"),
        ("SCAISPEAK_BACKENDS__RELAY__READ_TIMEOUT_S", "0"),
        ("SCAISPEAK_VOICES__SPEAKER_MATCH_THRESHOLD", "92"),
        ("SCAISPEAK_CLONING__VALIDATION_FRACTION", "1"),
        ("SCAISPEAK_PORT", "70000"),
    ],
)
def test_a_value_out_of_bounds_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    field = variable.removeprefix("SCAISPEAK_").lower().split("__")[-1]
    assert field in str(refused.value)


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({"LIMITS__MIN_SPEED": "2.5"}, "min_speed 2.5 is above max_speed 2"),
        ({"VOICES__REFERENCE_MIN_S": "30"}, "reference_min_s (30) is above reference_max_s"),
        ({"VOICES__CONSENT_MAX_S": "1"}, "consent_min_s (2) is above consent_max_s (1)"),
        ({"VOICES__SINGLE_SPEAKER_FAIL_BELOW": "0.8"}, "single_speaker_fail_below"),
        ({"VOICES__DECODE_MAX_SECONDS": "20"}, "reference_max_s (25) is above decode_max_seconds"),
    ],
)
def test_crossed_bounds_are_refused(
    monkeypatch: pytest.MonkeyPatch, settings: dict[str, str], said: str
) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(f"SCAISPEAK_{name}", value)
    with pytest.raises(ValidationError, match=said.replace("(", r"\(").replace(")", r"\)")):
        Settings()


def test_the_defaults_and_values_at_the_bounds_are_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    Settings()
    for variable, value in {
        "SCAISPEAK_POLICY_CACHE_S": "0",  # documented: read on every request
        "SCAISPEAK_ENGINES__ONNX_INTRA_OP_THREADS": "0",  # the library's default
        "SCAISPEAK_BACKENDS__RELAY__RETRIES": "0",
        "SCAISPEAK_LIMITS__MIN_SPEED": "1",
        "SCAISPEAK_LIMITS__MAX_SPEED": "1",
    }.items():
        monkeypatch.setenv(variable, value)
    assert Settings().limits.min_speed == Settings().limits.max_speed == 1
