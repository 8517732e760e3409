"""Consent verification on audio: preflight both clips, recognise the statement, match
the voices. Pure computation (no database, no storage): blocking, run in the pool.

Speaker verification compares Resemblyzer embeddings of the whole consent recording
and the whole reference clip; cosine at or above ``speaker_match_threshold`` is the
same speaker. The threshold and the measurements behind it are in docs/voices.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from scaispeak.settings import VoicesSettings
from scaispeak.speak.engines.base import EngineError, Pcm
from scaispeak.speak.engines.cloning.speakers import cosine
from scaispeak.speak.voices import acoustics, speech_models
from scaispeak.speak.voices.audio_input import DecodedAudio, decode_audio
from scaispeak.speak.voices.errors import AudioTooLong, AudioUnreadable
from scaispeak.speak.voices.preflight import (
    CheckStatus,
    ClipKind,
    PreflightReport,
    run_preflight,
)
from scaispeak.speak.voices.statement import StatementMatch, match_statement


@dataclass(frozen=True)
class ClipResult:
    """A clip's preflight, or why it could not be decoded at all."""

    kind: ClipKind
    audio: DecodedAudio | None
    report: PreflightReport | None
    error: str = ""

    @property
    def passed(self) -> bool:
        return self.report is not None and self.report.passed

    @property
    def length_in_range(self) -> bool:
        """Decoded, and its duration check passed: worth recognising or matching."""
        return self.report is not None and "duration" not in self.report.failed()

    def as_dict(self) -> dict[str, Any]:
        if self.report is not None:
            return self.report.as_dict()
        decode = {"name": "decode", "status": "fail", "value": None, "unit": "", "hint": self.error}
        return {"kind": self.kind.value, "passed": False, "checks": [decode]}


@dataclass(frozen=True)
class SpeakerMatch:
    score: float | None
    threshold: float
    hint: str = ""

    @property
    def passed(self) -> bool:
        return self.score is not None and self.score >= self.threshold


@dataclass(frozen=True)
class ConsentVerification:
    reference: ClipResult
    consent: ClipResult
    statement: StatementMatch | None
    speaker: SpeakerMatch | None

    @property
    def passed(self) -> bool:
        return (
            self.reference.passed
            and self.consent.passed
            and self.statement is not None
            and self.statement.passed
            and self.speaker is not None
            and self.speaker.passed
        )

    def failed_checks(self) -> list[str]:
        """Every failing check, named ``<step>.<check>`` (``reference.duration``...)."""
        failed = []
        for clip in (self.reference, self.consent):
            names = clip.report.failed() if clip.report else ["decode"]
            failed += [f"{clip.kind.value}.{name}" for name in names]
        if self.statement is None or not self.statement.passed:
            failed.append("statement")
        if self.speaker is None or not self.speaker.passed:
            failed.append("speaker")
        return failed

    def audit_steps(self) -> list[tuple[str, dict[str, Any]]]:
        """One audit entry per verification step: what was measured and the verdict."""
        said, voice = self.statement, self.speaker
        return [
            (
                "intake_preflight",
                {
                    "reference_passed": self.reference.passed,
                    "consent_passed": self.consent.passed,
                    "failed_checks": [f for f in self.failed_checks() if "." in f],
                },
            ),
            (
                "intake_statement",
                {
                    "transcript": said.transcript if said else None,
                    "char_error": said.char_error if said else None,
                    "phrase_edit_ratio": said.phrase_edit_ratio if said else None,
                    "name_edit_ratio": said.name_edit_ratio if said else None,
                    "refusal": said.refusal if said else None,
                    "passed": bool(said and said.passed),
                },
            ),
            (
                "intake_speaker",
                {
                    "score": voice.score if voice else None,
                    "threshold": voice.threshold if voice else None,
                    "passed": bool(voice and voice.passed),
                },
            ),
        ]

    def as_dict(self) -> dict[str, Any]:
        statement = None
        if self.statement is not None:
            statement = {**asdict(self.statement), "passed": self.statement.passed}
        speaker = None
        if self.speaker is not None:
            speaker = {**asdict(self.speaker), "passed": self.speaker.passed}
        return {
            "reference": self.reference.as_dict(),
            "consent": self.consent.as_dict(),
            "statement": statement,
            "speaker": speaker,
        }


def preflight_upload(data: bytes, kind: ClipKind, settings: VoicesSettings) -> ClipResult:
    """Decode (within the caps) and preflight one uploaded clip."""
    try:
        audio = decode_audio(
            data, max_seconds=settings.decode_max_seconds, timeout_s=settings.decode_timeout_s
        )
    except (AudioUnreadable, AudioTooLong) as exc:
        return ClipResult(kind, None, None, exc.detail)
    report = run_preflight(audio, kind, settings, speech_models.speaker_encoder())
    return ClipResult(kind, audio, report)


def verify_consent(
    reference: bytes, consent: bytes, statement: str, phrase: str, settings: VoicesSettings
) -> ConsentVerification:
    """Every check of a recorded-consent intake, run to the end for a full report."""
    ref = preflight_upload(reference, ClipKind.reference, settings)
    said = preflight_upload(consent, ClipKind.consent, settings)
    if said.audio is None:
        return ConsentVerification(ref, said, None, None)
    match = hears_statement(said.audio, statement, phrase, settings)
    speaker = None
    if ref.audio is not None:
        threshold = settings.speaker_match_threshold
        speaker = match_speakers(ref.audio, said.audio, threshold, noisy=noisy(ref, said))
    return ConsentVerification(ref, said, match, speaker)


def hears_statement(
    audio: DecodedAudio, statement: str, phrase: str, settings: VoicesSettings
) -> StatementMatch:
    """Whisper's transcript of the consent recording, judged by the matching rule."""
    return match_statement(
        speech_models.transcribe(acoustics.to_analysis_rate(audio.pcm, audio.rate)),
        statement,
        phrase,
        max_char_error=settings.statement_max_char_error,
        max_phrase_edit_ratio=settings.phrase_max_edit_ratio,
    )


def _steady(audio: DecodedAudio) -> Pcm:
    """The clip at the analysis rate without DC offset or rumble, as preflight measures
    it: joe's consent with a 0.02 offset scored 0.873 against his reference, under the
    0.92 needed, where preflight passed it (helper-85); without the offset, 0.962."""
    return acoustics.without_rumble(acoustics.to_analysis_rate(audio.pcm, audio.rate))


def match_speakers(
    reference: DecodedAudio, consent: DecodedAudio, threshold: float, *, noisy: bool = False
) -> SpeakerMatch:
    """``noisy``: a clip's noise check did not pass. Noise lowers the score of one
    speaker's two clips, and "not the same voice" then misled a genuine speaker."""
    encoder = speech_models.speaker_encoder()
    try:
        a = encoder.embed(_steady(reference), acoustics.ANALYSIS_RATE)
        b = encoder.embed(_steady(consent), acoustics.ANALYSIS_RATE)
    except EngineError:
        return SpeakerMatch(None, threshold, "Too little speech to compare the two voices.")
    score = round(cosine(a, b), 4)
    if score >= threshold:
        hint = "The consent voice matches the reference voice."
    elif noisy:
        hint = (
            "The two recordings do not sound like the same speaker, and background noise "
            "can cause that: record both in a quiet room, close to the microphone."
        )
    else:
        hint = "The consent recording is not the reference speaker's voice."
    return SpeakerMatch(score, threshold, hint)


def noisy(*clips: ClipResult) -> bool:
    """Whether any clip's ``noise`` check warned or failed."""
    return any(
        check.name == "noise" and check.status in (CheckStatus.warn, CheckStatus.fail)
        for clip in clips
        if clip.report is not None
        for check in clip.report.checks
    )


def check_consent_step(
    audio: DecodedAudio, statement: str, phrase: str, settings: VoicesSettings
) -> tuple[ClipResult, StatementMatch | None]:
    """Live intake, step one: the consent recording's preflight and what it says (None
    when its length is out of range: recognising it would only hold the thread)."""
    said = ClipResult(
        ClipKind.consent,
        audio,
        run_preflight(audio, ClipKind.consent, settings, speech_models.speaker_encoder()),
    )
    if not said.length_in_range:
        return said, None
    return said, hears_statement(audio, statement, phrase, settings)


def check_reference_step(
    reference: DecodedAudio, consent: DecodedAudio, settings: VoicesSettings
) -> tuple[ClipResult, SpeakerMatch | None]:
    """Live intake, step two: the reference's preflight and whether it is the same voice
    (None when the reference's length is out of range, as for the statement)."""
    encoder = speech_models.speaker_encoder()
    ref = ClipResult(
        ClipKind.reference,
        reference,
        run_preflight(reference, ClipKind.reference, settings, encoder),
    )
    if not ref.length_in_range:
        return ref, None
    threshold = settings.speaker_match_threshold
    return ref, match_speakers(reference, consent, threshold, noisy=noisy(ref))
