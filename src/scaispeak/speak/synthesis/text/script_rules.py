"""Text in scripts the English voices cannot read.

espeak reads a character of another script by its name: "مرحبا" was "Arabic meem,
Arabic raa, ..." and "你好" "Chinese letter, Chinese letter", billed as seconds of
speech. Cyrillic and Greek words are spelled in Latin letters (a reader can sound
"Privet" out; a lone Greek letter stays, as espeak names it: "π" is "pi"). Every other
script (Han, kana, Hangul, Arabic, Hebrew, the Indic and South-East Asian scripts...)
is left out, as emoji are; a text of nothing else is refused as empty.
"""

from __future__ import annotations

import re
import unicodedata

_UNSPOKEN_RANGES = (
    "\u0530-\u058f"  # Armenian
    "\u0590-\u05ff"  # Hebrew
    "\u0600-\u06ff\u0700-\u074f\u0750-\u077f\u0780-\u07bf\u08a0-\u08ff"  # Arabic, Syriac, Thaana
    "\u0900-\u0dff"  # Devanagari to Sinhala
    "\u0e00-\u0fff\u1000-\u109f"  # Thai, Lao, Tibetan, Myanmar
    "\u10a0-\u10ff\u1100-\u11ff\u1200-\u139f"  # Georgian, Hangul jamo, Ethiopic
    "\u1780-\u18af"  # Khmer, Mongolian
    "\u2e80-\u2fdf\u3040-\u318f\u31f0-\u31ff\u3200-\u32ff"  # CJK radicals, kana, Hangul
    "\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff"  # Han, Hangul
    "\ufb1d-\ufb4f\ufb50-\ufdff\ufe70-\ufeff\uff66-\uff9f"  # presentation forms, kana
    "\U00020000-\U0003ffff"  # rarer Han
)
_UNSPOKEN = re.compile(f"[{_UNSPOKEN_RANGES}]+")
# Full stops and commas of those scripts still end sentences and clauses.
_WIDE_PUNCTUATION = str.maketrans(
    {"。": ". ", "、": ", ", "，": ", ", "！": "! ", "？": "? ", "：": ": ", "；": "; "}
)


def _table(pairs: str) -> dict[str, str]:
    """ "а=a б=b ъ=" -> {"а": "a", "б": "b", "ъ": ""}."""
    return dict(pair.split("=") for pair in pairs.split())


# Russian, Ukrainian and Belarusian letters, spelled as English readers sound them out.
_CYRILLIC = _table(
    "а=a б=b в=v г=g д=d е=e ё=yo ж=zh з=z и=i й=y к=k л=l м=m н=n о=o п=p р=r с=s т=t"
    " у=u ф=f х=kh ц=ts ч=ch ш=sh щ=shch ъ= ы=y ь= э=e ю=yu я=ya і=i ї=yi є=ye ґ=g ў=w"
)
_GREEK = _table(
    "α=a β=v γ=g δ=d ε=e ζ=z η=i θ=th ι=i κ=k λ=l μ=m ν=n ξ=x ο=o π=p ρ=r σ=s ς=s τ=t"
    " υ=y φ=f χ=ch ψ=ps ω=o ά=a έ=e ή=i ί=i ό=o ύ=y ώ=o ϊ=i ϋ=y ΐ=i ΰ=y"
)
_CYRILLIC_WORD = re.compile(r"[\u0400-\u04ff]+")
_GREEK_WORD = re.compile(r"[\u0370-\u03ff]{2,}")  # one letter alone is a symbol: "π", "Δt"


def _spelled(word: str, table: dict[str, str]) -> str:
    letters = "".join(table.get(ch.lower(), "") for ch in word)
    if word[:1].isupper():
        return letters.upper() if word.isupper() and len(word) > 1 else letters.capitalize()
    return letters


def foreign_scripts(text: str) -> str:
    """ "Привет мир" -> "Privet mir", "λόγος" -> "logos"; "你好", "مرحبا" -> left out."""
    text = text.translate(_WIDE_PUNCTUATION)
    text = _CYRILLIC_WORD.sub(lambda m: _spelled(m[0], _CYRILLIC), text)
    text = _GREEK_WORD.sub(lambda m: _spelled(m[0], _GREEK), text)
    return _UNSPOKEN.sub(" ", text)


# Letters and digits in compatibility forms, which espeak reads by code point ("ｈｅｌｌｏ"
# was "letter F F 4 8, ..."): fullwidth ASCII, mathematical bold and italic letters,
# Roman numerals as one character ("Ⅻ"), circled and parenthesised numbers, sub- and
# superscript-free forms of ℃ and ℉, the fraction slash. Superscripts are left to the
# exponent and unit rules.
_COMPATIBILITY_FORMS = re.compile(
    "[\uff01-\uff5e\u3000\U0001d400-\U0001d7ff\u2160-\u2188\u2460-\u24ff"
    "\u2080-\u2089\u2103\u2109\u2044]+"
)


def _folded(run: str) -> str:
    run = run.replace("\u2044", "/").translate(_WIDE_PUNCTUATION)  # "，" keeps its space
    return unicodedata.normalize("NFKC", run)


# "2 ½ cups", "1½": a whole number and a vulgar fraction, read as "two and a half".
_VULGAR_FRACTION = re.compile(
    r"(?P<whole>\d)?[^\S\n]?(?P<fraction>[\u00bc-\u00be\u2150-\u215e])(?!-\w)"
)


def _fraction(match: re.Match[str]) -> str:
    written = unicodedata.normalize("NFKC", match["fraction"]).replace("\u2044", "/")
    return f"{match['whole']} {written}" if match["whole"] else written


def compatibility_forms(text: str) -> str:
    """ "ｈｅｌｌｏ" -> "hello", "𝐛𝐨𝐥𝐝" -> "bold", "Ⅻ" -> "XII", "①" -> "1", "20℃" ->
    "20°C", "H₂O" -> "H2O", "1⁄2" -> "1/2", "2½" -> "2 1/2"."""
    text = _VULGAR_FRACTION.sub(_fraction, text)
    return _COMPATIBILITY_FORMS.sub(lambda m: _folded(m[0]), text)


def is_unspoken(char: str) -> bool:
    """Whether ``char`` belongs to a script ``foreign_scripts`` leaves out."""
    return _UNSPOKEN.match(char) is not None
