"""English text to Kokoro phoneme tokens, through the espeak-ng that Piper bundles.

Kokoro v1.0 was trained on misaki phonemes. We have no misaki offline, so espeak's IPA
is rewritten into misaki's symbols the way misaki's own espeak fallback does
(diphthongs as single letters, ``r`` as ``ɹ``, US length marks dropped, ...). Symbols
outside Kokoro's vocabulary are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from piper import espeakbridge
from piper import voice as piper_voice
from piper.phonemize_espeak import ESPEAK_DATA_DIR, EspeakPhonemizer

from scaispeak.speak.engines.base import EngineError

MAX_TOKENS = 510
"""Kokoro's context is 512 positions, two of which hold the start/end pad tokens."""

_ESPEAK_VOICE = "en-us"


def espeak_clauses(text: str) -> list[str]:
    """espeak-ng IPA for ``text``, one string per clause with its punctuation."""
    # espeak-ng keeps global state (current voice, buffers): share Piper's process-wide
    # lock and phonemizer so a Piper and a Kokoro request never interleave inside it.
    with piper_voice._ESPEAK_PHONEMIZER_LOCK:
        if piper_voice._ESPEAK_PHONEMIZER is None:
            piper_voice._ESPEAK_PHONEMIZER = EspeakPhonemizer(ESPEAK_DATA_DIR)
        try:
            espeakbridge.set_voice(_ESPEAK_VOICE)
            clauses = espeakbridge.get_phonemes(text)
        except Exception as exc:
            raise EngineError(f"espeak-ng failed to phonemize: {exc}") from exc
    return [phonemes + terminator for phonemes, terminator, _end in clauses]


# Applied in order; longer sequences come first so "eɪ" wins over "e". Mirrors misaki's
# espeak fallback for US English, written for espeak output with or without tie bars.
_REWRITES: tuple[tuple[str, str], ...] = (
    ("ʔˌn\u0329", "tᵊn"),
    ("ʔn\u0329", "tᵊn"),
    ("ʔn", "tᵊn"),
    ("ʔ", "t"),
    ("aɪ", "I"),
    ("aʊ", "W"),
    ("eɪ", "A"),
    ("e", "A"),
    ("ɔɪ", "Y"),
    ("oʊ", "O"),
    ("əʊ", "O"),
    ("dʒ", "ʤ"),
    ("tʃ", "ʧ"),
    ("ʲo", "jo"),
    ("ʲə", "jə"),
    ("ʲ", ""),
    ("ɜːɹ", "ɜɹ"),
    ("ɜː", "ɜɹ"),
    ("ɝ", "ɜɹ"),
    ("ɚ", "əɹ"),
    ("ɪə", "iə"),
    ("ː", ""),  # US misaki has no length marks
    ("r", "ɹ"),
    ("x", "k"),
    ("ç", "k"),
    ("ɐ", "ə"),
    ("ɬ", "l"),
    ("ɫ", "l"),
    ("ʍ", "w"),
    ("g", "ɡ"),  # ASCII g is not in the vocabulary; the IPA script g is
    ("o", "ɔ"),  # a bare o only survives from old espeak data
    ("\u0303", ""),  # nasalisation of French loans
)
_TIES = re.compile("[\u0361\u035c\u203f^]")
_LANGUAGE_FLAG = re.compile(r"\([^)]*\)")
_SYLLABIC = re.compile("(\\S)\u0329")


def to_kokoro(ipa: str, vocab: Mapping[str, int]) -> str:
    """Rewrite one clause of espeak IPA into Kokoro symbols, keeping only known ones."""
    # espeak brackets words it reads with another language's rules: "(fr)...(en)".
    text = _LANGUAGE_FLAG.sub("", _TIES.sub("", ipa))
    for old, new in _REWRITES:
        text = text.replace(old, new)
    text = _SYLLABIC.sub("ᵊ\\1", text).replace("\u0329", "")
    kept = "".join(symbol for symbol in text if symbol in vocab)
    return " ".join(kept.split())


def pack(clauses: list[str], limit: int) -> Iterator[str]:
    """Group clauses into chunks of at most ``limit`` symbols, splitting only between words.

    Whole clauses are preferred so the model sees natural prosodic units; a clause longer
    than the limit is split at word boundaries (and a single absurd word by force).
    """
    chunk = ""
    for clause in clauses:
        for piece in _split_words(clause, limit):
            joined = f"{chunk} {piece}" if chunk else piece
            if len(joined) <= limit:
                chunk = joined
                continue
            yield chunk
            chunk = piece
    if chunk:
        yield chunk


def _split_words(clause: str, limit: int) -> Iterator[str]:
    piece = ""
    for word in clause.split():
        while len(word) > limit:  # no boundary to split at: cut, rather than fail
            if piece:
                yield piece
                piece = ""
            yield word[:limit]
            word = word[limit:]
        joined = f"{piece} {word}" if piece else word
        if len(joined) <= limit:
            piece = joined
        else:
            yield piece
            piece = word
    if piece:
        yield piece
