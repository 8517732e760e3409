"""Text in scripts the English voices cannot read.

espeak reads a character of another script by its name: "مرحبا" was "Arabic meem,
Arabic raa, ..." and "你好" "Chinese letter, Chinese letter", billed as seconds of
speech. Cyrillic and Greek words are spelled in Latin letters (a reader can sound
"Privet" out; a lone Greek letter stays, as espeak names it: "π" is "pi"). Every other
script (Han, kana, Hangul, Arabic, Hebrew, the Indic and South-East Asian scripts...)
is left out, as emoji are; a text of nothing else is refused as empty.

The scripts left out were first a list of blocks, and every script it missed was read
by code point ("ᚠᚢᚦ" was "letter one six A zero, ...", a second a character) or not
at all (Cherokee: a 200 with no audio, billed) (helper-94). So a letter is now judged
by where it is: outside the blocks the voices read (``_NATIVE``), it is left out unless
it is a form of a letter they read ("ℓ", "ﬁ", polytonic Greek "ἀ"), which it becomes.
"""

from __future__ import annotations

import re
import unicodedata

_UNSPOKEN_RANGES = (
    "\u0530-\u058f"  # Armenian
    "\u0590-\u05ff"  # Hebrew
    "\u0600-\u06ff\u0700-\u074f\u0750-\u077f\u0780-\u07bf\u08a0-\u08ff"  # Arabic, Syriac, Thaana
    "\u0900-\u0dff"  # Devanagari to Sinhala
    "\u0e00-\u0e3e\u0e40-\u0fff\u1000-\u109f"  # Thai (not its baht sign), Lao, Tibetan, Myanmar
    "\u10a0-\u10ff\u1100-\u11ff\u1200-\u139f"  # Georgian, Hangul jamo, Ethiopic
    "\u1780-\u18af"  # Khmer, Mongolian
    "\u2e80-\u2fdf\u3040-\u318f\u31f0-\u31ff\u3200-\u32ff"  # CJK radicals, kana, Hangul
    "\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff"  # Han, Hangul
    "\ufb1d-\ufb4f\ufb50-\ufdff\ufe70-\ufeff\uff66-\uff9f"  # presentation forms, kana
    "\U00020000-\U0003ffff"  # rarer Han
)
_UNSPOKEN_BLOCK = re.compile(f"[{_UNSPOKEN_RANGES}]")
"""Blocks left out whole, their punctuation too ("،", "।")."""
_UNSPOKEN_RUN = re.compile(f"[{_UNSPOKEN_RANGES}]+")
_NATIVE_RANGES = (
    "\u0000-\u04ff"  # Latin, IPA, combining marks, Greek, Cyrillic
    "\u1ab0-\u1aff\u1dc0-\u1dff"  # combining marks
    "\u1e00-\u1eff"  # Latin Extended Additional (unnamed_letters unmarks them)
    "\u2000-\u20ff\u2139"  # punctuation, super- and subscripts, currency; "ℹ" (information)
    "\u2150-\u2bff\u2e00-\u2e7f"  # number forms, arrows, maths, shapes, punctuation
    "\ufe00-\ufe0f\ufe20-\ufe2f\U000e0000-\U000e01ef"  # variation selectors, tags
)
_NATIVE = re.compile(f"[{_NATIVE_RANGES}]")
_NOT_NATIVE = re.compile(f"[^{_NATIVE_RANGES}]+")
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
# Greek letters espeak names by code point even alone ("ϑ", "ϕ", archaic "ϙ"): the
# letter they are a form of, if any ("ϑ" -> "θ").
_RARE_GREEK = re.compile("[\u0345\u0370-\u0377\u037a-\u037d\u037f\u0390\u03cf-\u03ff]")
_CYRILLIC_WORD = re.compile(r"[\u0400-\u04ff]+")
_GREEK_WORD = re.compile(r"[\u0370-\u03ff]{2,}")  # one letter alone is a symbol: "π", "Δt"


def _spelled(word: str, table: dict[str, str]) -> str:
    letters = "".join(table.get(ch.lower(), "") for ch in word)
    if word[:1].isupper():
        return letters.upper() if word.isupper() and len(word) > 1 else letters.capitalize()
    return letters


def foreign_scripts(text: str) -> str:
    """ "Привет мир" -> "Privet mir", "λόγος" -> "logos"; "你好", "مرحبا", "ᚠᚢᚦ" -> left
    out; "ἀγάπη" -> "agapi", "5 ℓ" -> "5 l"."""
    text = _NOT_NATIVE.sub(lambda m: _native_or_gap(m[0]), text.translate(_WIDE_PUNCTUATION))
    text = _CYRILLIC_WORD.sub(lambda m: _spelled(m[0], _CYRILLIC), text)
    text = _RARE_GREEK.sub(lambda m: _unmarked_greek(m[0]), text)
    return _GREEK_WORD.sub(lambda m: _spelled(m[0], _GREEK), text)


def _native_or_gap(run: str) -> str:
    """A run of characters outside the native blocks: each letter as its native form,
    or, with no such form, one space for each stretch of them; symbols and emoji stay
    for their own rules."""
    if _UNSPOKEN_RUN.fullmatch(run):
        return " "  # a page of Chinese: no need to look at each character
    kept: list[str] = []
    for char in run:
        if not _is_letter(char) and not _UNSPOKEN_BLOCK.match(char):
            kept.append(char)
        elif form := _native_form(char):
            kept.append(form)
        elif not kept or kept[-1] != " ":
            kept.append(" ")
    return "".join(kept)


def _unmarked_greek(char: str) -> str:
    base = _unmarked(char)
    return base if base.lower() in _GREEK else ""


def _is_letter(char: str) -> bool:
    """A letter, mark or digit: what a script is written in."""
    return unicodedata.category(char)[0] in "LMN"


def _native_form(char: str) -> str:
    """The letters a voice reads that ``char`` is a form of ("ℓ" -> "l", "ἀ" -> "α"),
    or "" (its marks dropped: espeak names a polytonic letter by code point)."""
    if _UNSPOKEN_BLOCK.match(char):
        return ""
    base = _unmarked(char)
    return base if base and all(_NATIVE.match(c) for c in base) else ""


def _unmarked(char: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))


# Letters and digits in compatibility forms, which espeak reads by code point ("ｈｅｌｌｏ"
# was "letter F F 4 8, ..."): fullwidth ASCII, mathematical bold and italic letters,
# Roman numerals as one character ("Ⅻ"), circled and parenthesised numbers, sub- and
# superscript-free forms of ℃ and ℉, the fraction slash. Superscripts are left to the
# exponent and unit rules.
_COMPATIBILITY_FORMS = re.compile(
    "[\uff01-\uff5e\u3000\U0001d400-\U0001d7ff\u2160-\u2189\u215f\u2460-\u24ff"
    "\u2080-\u2089\u2103\u2109\u2044]+"
)
# Numbers of those forms that NFKC leaves as they are, and espeak says nothing for:
# negative and double circled numbers ("⓫", "⓵"), "⅟" and "↉".
_UNDECOMPOSED = str.maketrans(
    {
        **{chr(0x24EB + n): f" {n + 11} " for n in range(10)},
        **{chr(0x24F5 + n): f" {n + 1} " for n in range(10)},
        "\u24ff": " 0 ",
        "\u215f": "1/",
        "\u2189": "0/3",
    }
)


def _folded(run: str) -> str:
    run = run.replace("\u2044", "/").translate(_WIDE_PUNCTUATION)  # "，" keeps its space
    return unicodedata.normalize("NFKC", run.translate(_UNDECOMPOSED))


# "2 ½ cups", "1½": a whole number and a vulgar fraction, read as "two and a half".
# The space goes only with a whole number: "Take ½ tablet" kept it, and became
# "Take1/2", read "one slash two" (helper-96).
_VULGAR_FRACTION = re.compile(
    r"(?:(?P<whole>\d)[^\S\n]?)?(?P<fraction>[\u00bc-\u00be\u2150-\u215e])(?!-\w)"
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
    """Whether ``foreign_scripts`` leaves ``char`` out (a letter of a script the voices
    do not read, or anything of the blocks left out whole)."""
    if _NATIVE.match(char):
        return False
    return bool(_UNSPOKEN_BLOCK.match(char)) or (_is_letter(char) and not _native_form(char))
