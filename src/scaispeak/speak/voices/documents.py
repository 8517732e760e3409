"""Consent and licence documents: which uploads are accepted, by their magic bytes."""

from __future__ import annotations

from scaispeak.speak.voices.errors import UnsupportedDocument

_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


def document_type(data: bytes) -> str:
    """The media type of a PDF, PNG or JPEG document; anything else is refused."""
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    raise UnsupportedDocument("Send the document as a PDF, PNG or JPEG file.")
