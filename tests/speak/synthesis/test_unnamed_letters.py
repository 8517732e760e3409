"""No letter reaches espeak to be read by its code point.

espeak names a character it cannot read ("ᚠ" is "letter one six A zero", a second of
speech billed as such), or says nothing for it (Cherokee: a 200 with no audio). Every
letter, mark and digit in Unicode is put through normalisation here, and what is left
of it that is not ASCII is given to the espeak the voices use: none may come back as a
"letter ...". The scripts left out were a hand-made list of blocks, which missed Runic,
Cherokee, Yi, Coptic, Tifinagh, Javanese and more (helper-94).
"""

from __future__ import annotations

import unicodedata

from scaispeak.speak.engines.kokoro_phonemes import espeak_clauses
from scaispeak.speak.synthesis.text import normalize_text
from scaispeak.speak.synthesis.text.speakable import has_words

_STRESS = str.maketrans("", "", "ˈˌ")


def _said(text: str) -> str:
    return "".join(espeak_clauses(text)).translate(_STRESS)


def _written_in_a_script(char: str) -> bool:
    return unicodedata.category(char)[0] in "LMN"


def test_no_letter_of_any_script_is_read_by_its_code_point() -> None:
    named_as = _said("letter")
    named = []
    for code in range(0x80, 0x30000):
        char = chr(code)
        if 0xD800 <= code < 0xE000 or not _written_in_a_script(char):
            continue
        spoken = normalize_text(f"a {char} b")
        if not spoken.isascii() and named_as in _said(spoken):
            named.append(f"U+{code:04X} {char} -> {spoken!r}")
    assert named == []


def test_no_character_counted_as_words_is_said_as_nothing() -> None:
    """A character ``has_words`` lets through must be said: a text of letters that
    normalisation drops ("Ъ", "ǂ", "ϙ") or espeak says nothing for ("⓬", "ʻ") was
    counted as words, and answered 200 with no audio, billed."""
    silent = []
    for code in range(0x80, 0x30000):
        char = chr(code)
        if 0xD800 <= code < 0xE000 or not _written_in_a_script(char) or not has_words(char):
            continue
        spoken = normalize_text(char)
        if not (spoken and _said(spoken).strip()):
            silent.append(f"U+{code:04X} {char} -> {spoken!r}")
    assert silent == []


def test_texts_of_scripts_the_voices_cannot_read_are_refused_as_empty() -> None:
    """Cherokee, Runic, Yi, Canadian syllabics, Coptic, Javanese, Cyrillic Extended-B."""
    for text in ["ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ", "ᚠᚢᚦᚨᚱᚲ", "ꆈꌠꁱꂷ", "ᐃᓄᒃᑎᑐᑦ", "ⲁⲃⲅ", "ꦧꦱꦗꦮ", "ꙮ"]:
        assert not has_words(text), text


def test_forms_of_letters_the_voices_read_become_those_letters() -> None:
    cases = {
        "ἀγάπη": "agapi",  # polytonic Greek, spelled as Greek is
        "angle ϑ": "angle θ",  # a Greek letter's variant form: the letter (named "theta")
        "ﬁne": "fine",
        "București și Brașov": "Bucuresti si Brasov",  # comma-below letters espeak names
        "nǐ hǎo": "ni hao",
        "STRAẞE": "STRASSE",
        "Hello there. ᏣᎳᎩ": "Hello there.",
    }
    for written, spoken in cases.items():
        assert normalize_text(written) == spoken
