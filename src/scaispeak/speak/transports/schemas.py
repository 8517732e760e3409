"""Bodies of the module's HTTP endpoints (voice bodies live in ``voices/schemas.py``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

from scaispeak.speak.jobs.models import WEBHOOK_URL_MAX_CHARS
from scaispeak.speak.voices.schemas import ListedVoiceOut as ListedVoiceOut
from scaispeak.speak.voices.schemas import VoiceOut as VoiceOut
from scaispeak.speak.voices.schemas import VoicePageOut as VoicePageOut


def _fits_its_column(url: AnyHttpUrl) -> AnyHttpUrl:
    # Measured as stored: normalising can lengthen a URL (percent-encoding, punycode).
    if len(str(url)) > WEBHOOK_URL_MAX_CHARS:
        raise ValueError(f"URL should have at most {WEBHOOK_URL_MAX_CHARS} characters")
    return url


WebhookUrl = Annotated[AnyHttpUrl, AfterValidator(_fits_its_column)]


class SaveToIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # "overwite": true must not pass unnoticed

    share_id: str
    path: str = Field(max_length=1024)
    overwrite: bool = Field(False, strict=True)


# An unknown voice's 404 names it: the longest id (ours are under 60 characters) keeps
# that answer small (a 100,000-character id was echoed whole).
VOICE_ID_MAX_CHARS = 200


class SpeakRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="What to say. Limits: docs/configuration.md.")
    voice_id: str = Field(
        max_length=VOICE_ID_MAX_CHARS,
        description="A voice id from GET /voices (or an engine voice name).",
    )
    format: str = Field("wav", description="wav, pcm (s16le), mp3, opus (ogg), flac, mulaw.")
    sample_rate: int | None = Field(
        None, strict=True, description="Output rate; default depends on format."
    )
    speed: float = Field(
        1.0, strict=True, description="Speaking rate; 1.0 is the voice's natural pace."
    )
    backend: str | None = Field(
        None, description="selfhosted or relay; must be allowed by the tenant's policy."
    )
    mode: Literal["auto", "inline", "async"] = Field(
        "auto",
        description="auto: inline up to the inline limit, a 202 job above it or with a "
        "webhook_url; async: always a job; inline: never a job (413 above the inline limit).",
    )
    save_to: SaveToIn | None = Field(
        None, description="Write the audio into a drive share instead of returning it."
    )
    webhook_url: WebhookUrl | None = Field(
        None,
        description="Makes the request a job (with mode auto; refused with mode inline): "
        "POSTed a signed event when the job ends. Public addresses "
        "only: loopback, private, link-local and metadata hosts are refused (docs/jobs.md). "
        f"At most {WEBHOOK_URL_MAX_CHARS} characters.",
    )

    @model_validator(mode="after")
    def _webhook_needs_a_job(self) -> SpeakRequest:
        if self.webhook_url is not None and self.mode == "inline":
            # Inline speech is answered in the response; a callback would never come.
            raise ValueError("webhook_url needs a job: use mode auto or async, not inline")
        return self


class OpenAIVoiceRef(BaseModel):
    """OpenAI's custom-voice form: ``{"id": "voice_..."}``; here any of our voice ids."""

    id: str = Field(max_length=VOICE_ID_MAX_CHARS)


class OpenAISpeechRequest(BaseModel):
    """OpenAI's ``/v1/audio/speech`` body; unknown fields are ignored like OpenAI does."""

    model: str = Field(description="Accepted for compatibility; the voice picks the engine.")
    input: str
    voice: Annotated[str, Field(max_length=VOICE_ID_MAX_CHARS)] | OpenAIVoiceRef = Field(
        description='A voice id, an OpenAI voice name, or {"id": voice id}.'
    )
    response_format: str = "mp3"
    speed: float = Field(1.0, strict=True)
    instructions: str | None = Field(None, description="Ignored: our engines take none.")
    stream_format: Literal["audio", "sse"] = Field(
        "audio",
        description="`audio`: the audio bytes, sent as they are made; `sse`: server-sent"
        " events, speech.audio.delta (base64 audio) then speech.audio.done (usage).",
    )

    @property
    def voice_id(self) -> str:
        return self.voice if isinstance(self.voice, str) else self.voice.id


class SavedFileRef(BaseModel):
    """Where ``save_to`` put the audio (drive/files.py ``FileRef``)."""

    share_id: str
    path: str
    size: int
    sha256: str
    content_type: str
    url: str = Field(description="The file's download URL, relative to the API root.")
    replaced: bool


class SavedFileOut(BaseModel):
    file: SavedFileRef
