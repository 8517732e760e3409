"""Live intake: walk a speaker through consent and the reference passage, step by step.

Transport-neutral (the WebSocket route in ``live_endpoints.py`` only moves messages).
Protocol (docs/voices.md): the client sends ``start``; the server issues a challenge
and prompts the consent statement; the client streams PCM (s16le mono at the rate it
named, at most the step's longest accepted clip: more is refused with an error
event) and sends ``done``; the server answers with that step's checks and, when they
pass, prompts the reading passage; after the passage passes, the clone goes through
the same audited intake as ``POST /voices/clone`` and the server sends ``created``.
``retry`` drops the audio of the current step; a failed step may simply be recorded
again.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.errors import ServiceError
from scaispeak.speak.synthesis.audio import from_int16_bytes
from scaispeak.speak.voices import audit, consent, intake
from scaispeak.speak.voices.audio_input import DecodedAudio
from scaispeak.speak.voices.editing import check_language
from scaispeak.speak.voices.errors import ChallengeLapsed, IntakeRejected, UploadTooLarge
from scaispeak.speak.voices.lifecycle import reference_wav
from scaispeak.speak.voices.models import ConsentChallenge, VoiceScope
from scaispeak.speak.voices.preflight import ClipKind
from scaispeak.speak.voices.runtime import VoicesRuntime
from scaispeak.speak.voices.schemas import Label, Prose, VoiceOut
from scaispeak.speak.voices.statement import StatementMatch
from scaispeak.speak.voices.verification import (
    ClipResult,
    SpeakerMatch,
    check_consent_step,
    check_reference_step,
)

READING_PASSAGE = (
    "The harbour was quiet when the first boats came back. Fishermen unloaded their "
    "catch, counted crates and argued about the weather, while gulls circled above the "
    "cranes. By seven o'clock the market had opened, and buyers walked between the stalls."
)


class StartMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = "start"
    speaker_name: Label
    name: Label
    scope: VoiceScope = VoiceScope.user
    language: str = Field("en-US", max_length=35)
    description: Prose = ""
    sample_rate: int = Field(16_000, strict=True, ge=8_000, le=48_000)


class Step(enum.StrEnum):
    waiting = "waiting"
    consent = "consent"
    reference = "reference"
    finished = "finished"


class OutOfStep(ServiceError):
    status, code, title = 409, "out_of_step", "Message not expected now"


@dataclass
class LiveIntake:
    rt: VoicesRuntime
    principal: Principal
    sessions: async_sessionmaker[AsyncSession]
    step: Step = Step.waiting
    start: StartMessage | None = None
    challenge: ConsentChallenge | None = None
    consent_audio: DecodedAudio | None = None
    buffer: bytearray = field(default_factory=bytearray)

    async def begin(self, message: StartMessage) -> list[dict[str, Any]]:
        if self.step is not Step.waiting:
            raise OutOfStep("The intake has already started.")
        # Refused now, not after the speaker has recorded both clips for nothing.
        intake.check_scope(self.principal, message.scope)
        check_language(message.language)
        self.start = message
        async with self.sessions() as session:
            await intake.ensure_room_to_build(session, self.rt, self.principal.tenant_id)
            self.challenge = await consent.issue_challenge(
                session, self.principal, message.speaker_name, self.rt
            )
        self.step = Step.consent
        return [self._prompt()]

    def add_audio(self, data: bytes) -> None:
        if self.step not in (Step.consent, Step.reference):
            raise OutOfStep("Send audio only while a step is recording.")
        if len(self.buffer) + len(data) > self._step_byte_cap():
            raise UploadTooLarge(
                f"This step's recording is longer than {self._step_max_seconds():g} s; "
                "the audio beyond it was dropped. Send done to check it, or retry."
            )
        self.buffer += data

    def _step_max_seconds(self) -> float:
        s = self.rt.settings
        return s.consent_max_s if self.step is Step.consent else s.reference_max_s

    def _step_byte_cap(self) -> int:
        """The step's longest accepted clip in s16le bytes: anything longer would fail
        preflight anyway, after holding the shared analysis thread for minutes."""
        assert self.start is not None
        samples = int(self._step_max_seconds() * self.start.sample_rate)
        return min(2 * samples, self.rt.settings.upload_max_bytes)

    def retry(self) -> list[dict[str, Any]]:
        if self.step not in (Step.consent, Step.reference):  # before start, or after the end
            raise OutOfStep("No step is recording.")
        self.buffer.clear()
        return [self._prompt()]

    async def finish_step(self) -> list[dict[str, Any]]:
        if self.step is Step.consent:
            return await self._finish_consent()
        if self.step is Step.reference:
            return await self._finish_reference()
        raise OutOfStep("No step is recording.")

    def _recorded(self) -> DecodedAudio:
        """The step's take, kept until it is judged: an analysis refused as busy (503,
        "try again") must leave it for the next ``done``, not make the speaker re-read."""
        assert self.start is not None
        usable = len(self.buffer) - len(self.buffer) % 2
        pcm = from_int16_bytes(bytes(self.buffer[:usable]))
        return DecodedAudio(pcm, self.start.sample_rate, "pcm", "pcm_s16le", 1)

    async def _count_take(self) -> None:
        """Each judged take counts against the challenge (consent.CHALLENGE_MAX_ATTEMPTS):
        past its bound the intake cannot finish, and ends."""
        assert self.challenge is not None
        async with self.sessions() as session:
            if not await consent.count_attempt(session, self.challenge.id):
                raise ChallengeLapsed(consent.TOO_MANY_ATTEMPTS)

    async def _finish_consent(self) -> list[dict[str, Any]]:
        assert self.challenge is not None
        await self._count_take()
        audio = self._recorded()
        clip, said = await self.rt.analysis.run(
            check_consent_step,
            audio,
            self.challenge.statement,
            self.challenge.phrase,
            self.rt.settings,
            owner=self.principal.tenant_id,
        )
        self.buffer.clear()  # judged: a failed take is recorded again
        clip = await self._refuse_replay(clip)
        passed = clip.passed and said is not None and said.passed
        report = {"consent": clip.as_dict(), "statement": _outcome(said)}
        await self._audit_take(Step.consent, clip, passed, report)
        events = [_result(Step.consent, passed, report)]
        if passed:
            self.consent_audio, self.step = audio, Step.reference
            events.append(self._prompt())
        return events

    async def _finish_reference(self) -> list[dict[str, Any]]:
        assert self.consent_audio is not None
        await self._count_take()
        audio = self._recorded()
        clip, speaker = await self.rt.analysis.run(
            check_reference_step,
            audio,
            self.consent_audio,
            self.rt.settings,
            owner=self.principal.tenant_id,
        )
        clip = await self._refuse_replay(clip)
        passed = clip.passed and speaker is not None and speaker.passed
        report = {"reference": clip.as_dict(), "speaker": _outcome(speaker)}
        await self._audit_take(Step.reference, clip, passed, report)
        events = [_result(Step.reference, passed, report)]
        if passed:  # kept until the voice is made: a refusal (busy, the build cap) may pass
            events.extend(await self._create(audio))
        self.buffer.clear()
        return events

    async def _refuse_replay(self, clip: ClipResult) -> ClipResult:
        """The intake's replay check at the step, so a take of speech made here fails
        when it is recorded, not after the speaker has read the passage too."""
        assert self.challenge is not None
        since = self.challenge.created_at if clip.kind is ClipKind.consent else None
        async with self.sessions() as session:
            return await intake.refuse_replay(session, clip, since)

    async def _audit_take(
        self, step: Step, clip: ClipResult, passed: bool, report: dict[str, Any]
    ) -> None:
        """Every judged take is an audit entry, failed ones too (as an upload's checks
        are), with a separate entry when it carries our watermark or was made here."""
        assert self.challenge is not None
        details = {"challenge_id": self.challenge.id, "live": True}
        take = {**details, "step": step.value, "passed": passed, "report": _kept(report)}
        if clip.audio is not None:
            take["clip_sha256"] = audit.fingerprint(clip.audio.pcm.tobytes())
        async with self.sessions() as session:
            chain = audit.chain_for(self.principal.tenant_id)
            await audit.append(
                session, chain, self.principal.user_id, "intake_live_take", details=take
            )
            if intake.synthetic_scores([clip]):
                await intake.audit_synthetic(session, self.principal, [clip], details)
            await session.commit()

    async def _create(self, reference: DecodedAudio) -> list[dict[str, Any]]:
        """The same audited intake as the HTTP endpoint, on the two recordings. Where it
        refuses the consent recording, the intake goes back to the consent step: another
        reading of the passage would be refused the same way, forever."""
        assert self.start is not None and self.challenge and self.consent_audio
        s = self.start
        spec = intake.NewVoice(s.name, s.scope, s.language, s.description)
        said = self.consent_audio
        try:
            async with self.sessions() as session:
                voice = await intake.clone_voice(
                    session,
                    self.rt,
                    self.principal,
                    spec,
                    self.challenge.id,
                    reference_wav(reference.pcm, reference.rate),
                    reference_wav(said.pcm, said.rate),
                )
        except IntakeRejected as exc:
            challenge = exc.extra["report"].get("challenge") or {}
            if challenge.get("status") == "fail":
                # Another take would be refused the same way, forever: end the intake.
                raise ChallengeLapsed(challenge.get("hint") or exc.detail) from exc
            return self._after_refusal(exc.extra["report"])
        self.step = Step.finished
        return [{"type": "created", "voice": VoiceOut.of(voice).model_dump(mode="json")}]

    def _after_refusal(self, report: dict[str, Any]) -> list[dict[str, Any]]:
        events = [_result(Step.reference, False, report)]
        consent_failed = not (report.get("consent") or {}).get("passed", True)
        statement_failed = not (report.get("statement") or {}).get("passed", True)
        if consent_failed or statement_failed:
            self.consent_audio, self.step = None, Step.consent
            events.append(self._prompt())
        return events

    def _prompt(self) -> dict[str, Any]:
        assert self.challenge is not None
        if self.step is Step.consent:
            text, hint = self.challenge.statement, "Read this consent statement aloud."
        else:
            text, hint = READING_PASSAGE, "Now read this passage in your natural voice (5-25 s)."
        return {
            "type": "prompt",
            "step": self.step.value,
            "text": text,
            "hint": hint,
            "challenge_id": self.challenge.id,
        }


def _kept(report: dict[str, Any]) -> dict[str, Any]:
    """The report as the audit chain keeps it, for good: a reading that failed may be
    anything said near the microphone ("...my biopsy result..."), so of it the chain
    keeps a fingerprint and the scores, not the words. A passed reading is the consent
    statement itself, kept as evidence."""
    statement = report.get("statement")
    if not statement or statement.get("passed"):
        return report
    heard = str(statement.get("transcript", ""))
    kept = {k: v for k, v in statement.items() if k != "transcript"}
    kept["transcript_sha256"] = audit.fingerprint(heard.encode())
    return {**report, "statement": kept}


def _outcome(match: StatementMatch | SpeakerMatch | None) -> dict[str, Any] | None:
    """A step's recognition or speaker check for the report; None when it was skipped."""
    return None if match is None else {**asdict(match), "passed": match.passed}


def _result(step: Step, passed: bool, report: dict[str, Any]) -> dict[str, Any]:
    return {"type": "result", "step": step.value, "passed": passed, "report": report}
