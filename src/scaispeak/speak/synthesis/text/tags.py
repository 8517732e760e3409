"""SSML and HTML tags in the text: what they mean for speech, and the rest left out.

Callers who come from other TTS APIs send SSML (``<speak>Hello <break time="1s"/>
world</speak>``), and text pasted from the web holds HTML. Read as written, the voice
said "speak slash speak". We do not implement SSML; we read it the way a listener
would want it read: the words inside the tags are spoken, a ``<break>`` is a pause,
paragraphs and sentences are boundaries, ``<sub alias>`` speaks its alias,
``<say-as interpret-as="characters">`` spells, and every other known tag (prosody,
emphasis, voice, a vendor's namespaced tags, HTML's inline and block tags) is left
out. A ``<`` that does not open a known tag ("a < b", "<b and c>", "<foo>") is text.
"""

from __future__ import annotations

import html
import html.entities
import re

# Tags whose words are spoken and whose marks are not.
_INLINE = (
    "speak|break|prosody|emphasis|voice|lang|mark|phoneme|say-as|sub|w|token|audio|par|seq|media"
    "|b|i|u|em|strong|span|a|code|small|big|sup|font|abbr|cite|q|html|body|article|section"
)
# Tags that end a line or a paragraph: their words are spoken, with a boundary.
_BLOCKS = {"s": "\n", "br": "\n", "li": "\n", "div": "\n", "tr": "\n", "pre": "\n"}
_PARAGRAPHS = "p|h[1-6]|ul|ol|table|blockquote"
# Tags whose content is never spoken.
_SILENT = "desc|lexicon|meta|metadata|script|style|head|title|think|thinking|reasoning"

_ATTRS = r"(?:\s+[\w:.-]+\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'|[^\s\"'<>=/]+))*\s*"
_TAG = re.compile(
    rf"<(?P<close>/)?(?P<name>(?i:{_INLINE}|{'|'.join(_BLOCKS)}|{_PARAGRAPHS}|{_SILENT})"
    rf"|[A-Za-z]\w*:[\w.-]+)(?P<attrs>{_ATTRS})/?>"
)
# Where hidden text starts: a comment, or a silent element's tag (its close found apart).
_HIDDEN = re.compile(
    rf"<!--|<(?P<close>/)?(?P<name>(?i:{_SILENT}))\b(?P<attrs>{_ATTRS})(?P<empty>/)?>"
)
# Elements read from their attributes; each pattern is linear: the attributes are one
# [^<>]* run, searched apart (a lazy run before "alias=" was quadratic in spaces).
_SUB = re.compile(r"<(?i:sub)\b(?P<attrs>[^<>]*)>(?P<inner>[^<]*)</(?i:sub)\s*>")
_ALIAS = re.compile(r"\balias\s*=\s*(?P<q>[\"'])(?P<alias>[^\"'<>]*)(?P=q)", re.IGNORECASE)
_SAY_AS = re.compile(r"<(?i:say-as)\b(?P<attrs>[^<>]*)>(?P<inner>[^<]*)</(?i:say-as)\s*>")
_SPELL_OUT = re.compile(
    r"\binterpret-as\s*=\s*[\"']?(?:characters|spell-out|letters)\b", re.IGNORECASE
)
_DECLARATION = re.compile(r"<\?xml[^<>]*\?>|<!DOCTYPE[^<>]*>", re.IGNORECASE)
_BREAK_TIME = re.compile(r"\btime\s*=\s*[\"']?(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>ms|s)\b", re.I)
_BREAK_STRENGTH = re.compile(r"\bstrength\s*=\s*[\"']?(?P<s>[\w-]+)", re.I)
# Numeric entities, and named ones with their semicolon that HTML defines (&rsquo;,
# &nbsp;, &eacute;...): "&copy" without one, "R&D" or "AT&T;" stay text.
_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|(?P<name>[A-Za-z][A-Za-z0-9]{1,31}));")
_LONG_BREAK_S = 0.75


def spoken_text(text: str) -> str:
    """``text`` with its SSML and HTML turned into what they mean for speech."""
    if "<" not in text and "&" not in text:
        return text  # nearly every text: no pass over it at all
    text = _without_hidden(_without_unclosed_reasoning(_DECLARATION.sub(" ", text)))
    text = _SUB.sub(_alias, text)
    text = _SAY_AS.sub(_spelled, text)
    text = _TAG.sub(_tag, text)
    return _ENTITY.sub(_decoded, text)


def _decoded(entity: re.Match[str]) -> str:
    name = entity["name"]
    if name is not None and f"{name};" not in html.entities.html5:
        return entity[0]  # not an entity: text that happens to look like one
    return html.unescape(entity[0])


def _without_hidden(text: str) -> str:
    """Comments and silent elements (``<desc>…</desc>``, ``<script>``) with what they
    hold, in one pass: each close is looked for once, and a name found unclosed is not
    looked for again (none comes later), so no input makes this quadratic."""
    kept: list[str] = []
    done, unclosed = 0, set()
    for found in _HIDDEN.finditer(text):
        if found.start() < done:
            continue  # inside what was just left out
        kept.append(text[done : found.start()])
        done = found.end()
        if found[0] == "<!--":
            end = -1 if "--" in unclosed else text.find("-->", found.end())
            if end < 0:
                unclosed.add("--")  # a comment never closed: its text is read
            else:
                done = end + 3
        elif not (found["close"] or found["empty"]):
            name = found["name"].lower()
            close = None if name in unclosed else _closing(name).search(text, found.end())
            if close is None:
                unclosed.add(name)
            else:
                done = close.end()
        kept.append(" ")
    kept.append(text[done:])
    return "".join(kept)


def _closing(name: str) -> re.Pattern[str]:
    return re.compile(rf"</{name}\s*>", re.IGNORECASE)


def _alias(match: re.Match[str]) -> str:
    alias = _ALIAS.search(match["attrs"])
    return alias["alias"] if alias else match[0]


def _spelled(match: re.Match[str]) -> str:
    if not _SPELL_OUT.search(match["attrs"]):
        return match[0]
    return " ".join(match["inner"].replace(" ", "").upper())


def _tag(match: re.Match[str]) -> str:
    name = match["name"].lower()
    if name == "break":
        pause = _pause(match["attrs"])
        return " " if pause == ", " and _after_punctuation(match.string, match.start()) else pause
    if name in _BLOCKS:
        return _BLOCKS[name]
    if re.fullmatch(_PARAGRAPHS, name):
        return "\n\n"
    return " " if match["close"] is None and name in ("speak", "voice", "lang") else ""


def _pause(attrs: str) -> str:
    """A ``<break>``: a paragraph's pause when long or strong, a comma's when short."""
    strength = _BREAK_STRENGTH.search(attrs)
    if strength and strength["s"].lower() in ("none", "x-weak"):
        return " "
    if strength and strength["s"].lower() in ("strong", "x-strong"):
        return "\n\n"
    time = _BREAK_TIME.search(attrs)
    if time:
        seconds = float(time["n"]) / (1000 if time["unit"].lower() == "ms" else 1)
        return "\n\n" if seconds >= _LONG_BREAK_S else ", "
    return ", "


def _after_punctuation(text: str, end: int) -> bool:
    """Whether ``text[:end]`` ends in a sentence's (or clause's) own punctuation: a short
    break there adds nothing, as that pause is already longer. Its comma, after "here.",
    hid the sentence's end, and the two sentences were read as one with a comma between:
    a 300 ms break made the pause 290 ms where there was 510 ms without it."""
    before = end - 1
    while before >= 0 and text[before].isspace():
        before -= 1  # stops at the text or at the tag before: linear over all breaks
    return before >= 0 and text[before] in _PAUSING_PUNCTUATION


_PAUSING_PUNCTUATION = frozenset(".!?;:,…。！？")


_KNOWN = frozenset(f"{_INLINE}|{'|'.join(_BLOCKS)}|{_PARAGRAPHS}|{_SILENT}".split("|")) | {
    f"h{level}" for level in range(1, 7)
}
_OPENING = re.compile(r"</?(?P<name>[A-Za-z][\w:.-]*)?(?P<rest>\s[^<>]*)?")
_LONGEST_OPENING = 160


def open_tag_at_end(text: str) -> int:
    """Where a known tag that ``text`` leaves unfinished begins ("...hello <break ti"),
    or -1: a stream holds that tail back until the rest of the tag arrives. A "<" that
    cannot be the start of one ("a < b", "<bold") is text, and is not held."""
    start = text.rfind("<", max(0, len(text) - _LONGEST_OPENING))
    if start == -1:
        return -1
    opening = _OPENING.fullmatch(text, start)
    if opening is None:
        return -1
    name = (opening["name"] or "").lower()
    if not name:  # "<" or "</" last: a name may follow; "< b" is a comparison
        return start if opening["rest"] is None else -1
    if ":" in name:  # a vendor's namespaced tag
        return start
    if opening["rest"] is not None:  # the name is whole
        return start if name in _KNOWN else -1
    return start if any(known.startswith(name) for known in _KNOWN) else -1


# A reasoning model's thoughts, which a stream drops as they arrive, however long.
REASONING_OPENS = re.compile(rf"<(?P<name>(?i:think|thinking|reasoning))\b{_ATTRS}>")


def reasoning_close(name: str) -> re.Pattern[str]:
    return re.compile(rf"</{re.escape(name)}\s*>", re.IGNORECASE)


_REASONING_CLOSES = re.compile(r"</(?P<name>(?i:think|thinking|reasoning))\s*>")


def _without_unclosed_reasoning(text: str) -> str:
    """Thoughts that never close run to the end (a model cut off mid-thought): they are
    dropped, where another unclosed element's words are read. An opening is unclosed
    when no close of its name comes after it: each name's last close is found once (a
    search after each of many openings was quadratic)."""
    if "<" not in text:
        return text
    last_close = {m["name"].lower(): m.start() for m in _REASONING_CLOSES.finditer(text)}
    for opened in REASONING_OPENS.finditer(text):
        if last_close.get(opened["name"].lower(), -1) < opened.end():
            return text[: opened.start()]
    return text


_LONGEST_HIDDEN = 400  # a <desc> or comment is short; prose naming <title> waits no longer
_PARTIAL_ENTITY = re.compile(r"&#?\w{0,32}$|<!-?$")


def held_back_from(text: str) -> int:
    """Where a stream should keep ``text`` back until more arrives, or -1: a tag cut
    off at the end, a comment or silent element not closed yet (within its last 400
    characters: past that it is read as text), an entity or ``<!--`` cut in two."""
    if "<" not in text and "&" not in text:
        return -1
    held = [open_tag_at_end(text), _unclosed_hidden(text)]
    partial = _PARTIAL_ENTITY.search(text)
    if partial:
        held.append(partial.start())
    return min((at for at in held if at >= 0), default=-1)


def _unclosed_hidden(text: str) -> int:
    """Where the first comment or silent element in the last 400 characters that has
    not closed yet begins, or -1."""
    done = max(0, len(text) - _LONGEST_HIDDEN)
    for found in _HIDDEN.finditer(text, done):
        if found.start() < done or found["close"] or found["empty"]:
            continue
        if found[0] == "<!--":
            end = text.find("-->", found.end())
            close_end = -1 if end < 0 else end + 3
        else:
            close = _closing(found["name"].lower()).search(text, found.end())
            close_end = -1 if close is None else close.end()
        if close_end < 0:
            return found.start()
        done = close_end
    return -1
