"""Where raw English text may be cut: paragraph breaks, sentence ends, clauses and words.

Works on raw (not yet normalised) text, so it must know that the period in "3.14",
"e.g." or "Dr. Smith" does not end a sentence. Cut indices point just past the text
that precedes the cut: ``text[:cut.position]`` is the piece before it.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

from scaispeak.speak.synthesis.text.verbalize import CURRENCY_SIGNS

Boundary = Literal["clause", "sentence", "paragraph", "end"]


class Cut(NamedTuple):
    """A place to cut text, and the pause that ends the piece before it."""

    position: int
    kind: Boundary


# Abbreviations whose period never ends a sentence (they precede a name or phrase).
_NEVER_FINAL = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "st", "mt", "sgt", "capt", "rev"}
    | {"vs", "v", "cf", "e.g", "i.e", "eg", "ie", "approx", "ca"}
)
# Titles that are also words ("one more rep.", "next gen.", "an apt. remark"): never
# final only as written before a name, capitalised.
_NEVER_FINAL_CAPITALISED = frozenset(
    {"Sen", "Gov", "Gen", "Lt", "Col", "Maj", "Adm", "Cmdr", "Rep", "Pres", "Hon", "Supt", "Apt"}
    | {"Fr", "Ft"}
)
# Their period ends a sentence unless a number follows ("No. 5", "Jan. 5", "Fig. 2").
_BEFORE_NUMBER = frozenset(
    {"no", "nos", "vol", "fig", "p", "pp", "ch", "ext", "qty"}
    | {"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
)
# Their period ends a sentence when a capitalised word (or nothing) follows.
_MAYBE_FINAL = frozenset(
    {"etc", "jr", "sr", "inc", "ltd", "corp", "co", "ave", "blvd", "dept"}
    # street types ("on Oak Rd. in town")
    | {"rd", "ln", "ct", "pl", "sq", "hwy", "pkwy"}
    # "am"/"pm" also as normalize_text writes them ("five PM.")
    | {"a.m", "p.m", "am", "pm", "ph.d", "phd"}
    # weekdays as opening hours write them ("Mon. through Fri.")
    | {"mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun"}
)
# Units as recipes and sizes write them ("3 tbsp. water", "6 ft. tall"), "et al.": their
# period ends a sentence unless a lowercase word goes on (helper-96); before a quote, a
# digit or a bracket it does ("Please log in. 2FA is on", helper-97).
_UNIT_ABBREVIATIONS = frozenset(
    {"tbsp", "tsp", "oz", "lb", "lbs", "min", "mins", "hr", "hrs", "sec", "secs", "ft"}
    | {"in", "yd", "yds", "mi", "qt", "pt", "gal", "fl", "c", "al"}
)
_MONTHS = frozenset({"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct"})
_MONTHS |= {"nov", "dec"}

_MERIDIEMS = frozenset({"a.m", "p.m", "am", "pm"})
# A zone after "5 p.m." continues the sentence ("at 5 p.m. ET on Monday").
_TIME_ZONE_NEXT = re.compile(
    r"\s*(?:[ECMP][SD]?T|UTC|GMT|BST|CES?T|EES?T|WES?T|IST|JST|KST|AE[SD]T|HST|AKS?T"
    r"|Eastern|Central|Mountain|Pacific)\b"
)

# After "Jr."/"Sr.", a day, a street or a building named after the person goes on with
# the sentence ("Martin Luther King Jr. Day", "King Jr. Blvd.", "Smith Sr. High School").
_NAMED_AFTER_A_PERSON = re.compile(
    r"\s+(?:Day|Blvd|Boulevard|Ave|Avenue|Dr|Drive|St|Street|Way|Pkwy|Parkway|Hwy|Highway"
    r"|Memorial|High|Elementary|Middle|School|Library|Park|Center|Centre|Bridge|Airport|Hall"
    r"|Plaza|Foundation|Institute|Award|Prize|Stadium|Arena|Hospital|University|College"
    r"|Academy)\b"
)
_NAME_SUFFIXES = frozenset({"jr", "sr"})

_TERMINATOR = re.compile(r"[.?!…]+[\"'”’)\]]*(?=\s|$)")
_TOKEN_BEFORE = re.compile(r"[^\s\"'“‘(\[]*$")
_INITIALS = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]")
_WHITESPACE = re.compile(r"\s+")
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
_BULLET = re.compile(r"(?:[-*•]|\d{1,2}[.)])\s|\d\ufe0f?\u20e3|\|")  # "|": a table's row
_LIST_NUMBER = re.compile(r"[^\S\n]*\d{1,2}")

_CLAUSE_PUNCTUATION = re.compile(
    r"[,;:](?=\s)|(?<!\d)[—―](?!\d)|(?<=\s)[-–](?=\s)|\)(?=\s)|(?<=\s)(?=\()"
)
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_WEEKDAY = r"(?:Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|Sat|Sun)(?:day|sday|nesday|rsday|urday)?"
# Punctuation that belongs to one quantity, read as a whole only in one segment: the
# comma of "Dec 5, 2026" (cut there, the year is read as a plain number: "two thousand
# twenty-six") and of "Monday, Jan 3", and the parenthesis of "(800) 555-0199" (cut
# there, the area code is read as a quantity). Never a clause cut.
# Capitalised, as names are written: "I sat, then" or "the sun, the sea" still cut.
_WHOLE_QUANTITY_BEFORE = re.compile(
    rf"(?:\b{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,|\b{_WEEKDAY}\.?,|\(\d{{3}}\))\Z"
)
# A Markdown link begun and not yet closed where a text is cut: "[the guide, part" or
# "[guide](https://exa". Cut there, neither half is a whole link for the normaliser,
# which reads a whole link as its label: the URL was read aloud. A label of more than
# 200 characters, or one across a line break, is taken for a lone bracket instead.
_OPEN_LINK = re.compile(r"\[[^\[\]\n]{0,200}(?:\]\([^()\s]*)?\Z")
_LINK_LOOKBEHIND = 300
_LOOKAHEAD_MARGIN = 16  # longer than any conjunction below with its space
_CONJUNCTION = re.compile(
    r"(?<=\s)(?=(?:and|but|or|nor|so|yet|because|which|while|whereas|although|though"
    r"|unless)\s)",
    re.IGNORECASE,
)


def keeps_final_period(text: str, index: int) -> bool:
    """Whether an abbreviation period ending at ``index`` also ends the sentence.

    True at the end of the text, before a capitalised word, or before a line break; the
    period is then kept after expansion so sentence segmentation still sees it.
    """
    rest = text[index:]
    following = rest.lstrip()
    return not following or following[0].isupper() or "\n" in rest[: len(rest) - len(following)]


def name_suffix_goes_on(abbreviation: str, text: str, index: int) -> bool:
    """Whether ``abbreviation`` ("Jr", "sr"), its period ending at ``index``, is followed
    by a day or place named after the person: "King Jr. Day" goes on."""
    return (
        abbreviation.lower() in _NAME_SUFFIXES
        and _NAMED_AFTER_A_PERSON.match(text, index) is not None
    )


def time_zone_follows(text: str, index: int) -> bool:
    """Whether a time zone ("ET", "PST", "UTC") comes next: "5 p.m. ET" goes on."""
    return _TIME_ZONE_NEXT.match(text, index) is not None


def _token_before(text: str, end: int) -> str:
    """The word (without opening quotes or brackets) that ends at ``end``."""
    match = _TOKEN_BEFORE.search(text, max(0, end - 40), end)
    return match[0] if match else ""


def _opens_its_line(text: str, number_end: int) -> bool:
    """Whether the number ending at ``number_end`` opens a numbered list item: all its
    line holds before it, and the line is an item (``numbered_item_at``)."""
    line_start = text.rfind("\n", 0, number_end) + 1
    if _LIST_NUMBER.fullmatch(text, line_start, number_end) is None:
        return False
    return numbered_item_at(text, line_start)


_NUMBER_MARK = re.compile(r"[^\S\n]*(?P<n>\d{1,2})[.)]")
_ITEM_MARK = re.compile(r"[^\S\n]*(?:\d{1,2}[.)]|[-*•+])(?:[^\S\n]|$)")


def numbered_item_at(text: str, line_start: int) -> bool:
    """Whether the line at ``line_start``, opening with "12." or "12)", is a numbered list
    item, not a hard-wrapped sentence's number ("moved to room\n12. Please..."): it
    is an item when it is number 1, the text's first line, or follows a blank line, a
    line ending in a colon, or another item."""
    mark = _NUMBER_MARK.match(text, line_start)
    if mark is None:
        return False
    if mark["n"] in ("0", "1") or line_start == 0:
        return True
    before = text[text.rfind("\n", 0, line_start - 1) + 1 : line_start - 1].rstrip()
    return not before or before.endswith(":") or _ITEM_MARK.match(before) is not None


def _next_char(text: str, index: int) -> str | None:
    match = _WHITESPACE.match(text, index)
    index = match.end() if match else index
    return text[index] if index < len(text) else None


def _ends_sentence(text: str, match: re.Match[str], following: str | None) -> bool:
    """Whether the terminator in ``match`` ends a sentence, given the next visible char."""
    if match[0].rstrip("\"'”’)]") != ".":
        return True  # ? ! … and "..." always end a sentence
    word = _token_before(text, match.start())
    lower = word.lower()
    if word.isdigit() and _opens_its_line(text, match.start()):
        return False  # "\n2. Rome": a numbered list item's mark
    if not word or word[-1].isdigit():
        return True  # "in 1999." ("3.14" never reaches here: no space after its dot)
    if lower in _NEVER_FINAL or word in _NEVER_FINAL_CAPITALISED:
        return False
    if lower in _BEFORE_NUMBER:  # a month goes on before a lowercase word ("in Jan. and")
        following = following or ""
        return not following.isdigit() and not (lower in _MONTHS and following.islower())
    if lower in _MERIDIEMS and time_zone_follows(text, match.end()):
        return False
    if name_suffix_goes_on(lower, text, match.end()):
        return False
    if lower in _UNIT_ABBREVIATIONS:
        return not (following or "").islower()
    if lower in _MAYBE_FINAL:
        return following is None or following.isupper()
    return _INITIALS.fullmatch(word) is None  # "J. R. R. Tolkien", "U.S. Army"


_UNFINISHED_WORD = re.compile(
    r"(?<!\s)\s*[A-Za-z]{1,10}\Z"
)  # "Universi" of "University"  # (?<!\s): linear in spaces


def _next_word_decides(text: str, match: re.Match[str]) -> bool:
    """Streaming: after "p.m." or "Jr." the next word has begun but may still grow into
    one that continues the sentence ("E" of "EST", "D" of "Day"): decide once it is whole."""
    word = _token_before(text, match.start()).lower()
    if word not in _MERIDIEMS and word not in _NAME_SUFFIXES:
        return False
    return _UNFINISHED_WORD.match(text, match.end()) is not None


def _starts_an_item(text: str, line_start: int) -> bool:
    bullet = _BULLET.match(text, line_start)
    if bullet is None:
        return False
    numbered = bullet[0].rstrip()[-1:] in (".", ")")  # "12." may be a wrapped sentence's
    return not numbered or numbered_item_at(text, line_start)


def sentence_cuts(text: str, *, open_end: bool = False) -> list[Cut]:
    """Sentence ends and paragraph breaks in ``text``, in order.

    With ``open_end`` (streaming), more text may follow, so a cut is only reported once
    the next visible character has arrived: it decides "3." vs "3.5", "etc. The" vs
    "etc. and", and whether the whitespace after it holds a paragraph break.
    """
    cuts: dict[int, Boundary] = {}
    for match in _TERMINATOR.finditer(text):
        following = _next_char(text, match.end())
        if open_end and (following is None or _next_word_decides(text, match)):
            continue
        if inside_link(text, match.end()):
            continue  # "[the guide. Part two](url)": the label's full stop ends nothing
        if _ends_sentence(text, match, following):
            cuts[match.end()] = "sentence"
    for match in _WHITESPACE.finditer(text):
        if match.end() == len(text) and open_end:
            continue  # the whitespace run may still grow into a blank line
        if _BLANK_LINE.search(match[0]):
            cuts[match.start()] = "paragraph"
        elif "\n" in match[0] and _starts_an_item(text, match.end()):
            cuts.setdefault(match.start(), "sentence")  # a list item starts a new sentence
    return [Cut(position, kind) for position, kind in sorted(cuts.items())]


def inside_link(text: str, position: int) -> bool:
    """Whether ``position`` falls in a Markdown link (its label or its URL)."""
    return _OPEN_LINK.search(text, max(0, position - _LINK_LOOKBEHIND), position) is not None


def _good_word_cut(text: str, space: re.Match[str]) -> bool:
    """Not between a number and what it counts ("$3.5 | million"), nor after "Mr."."""
    before, after = text[space.start() - 1], text[space.end() : space.end() + 1]
    if before.isdigit() or after.isdigit() or before in "$€£":
        return False
    word = _token_before(text, space.start()).lower().rstrip(".")
    return word not in _NEVER_FINAL and word not in _BEFORE_NUMBER


# A number right after a clause's punctuation is read by the words before it: "your
# code: 48213" digit by digit, "Monday to Friday: 9-5" as hours. Cut there, a stream
# read "forty-eight thousand..." where the same text sent whole read the digits.
_NUMBER_NEXT = re.compile(rf"\s*[{CURRENCY_SIGNS}#]?\d")


def _clause_punctuation(text: str, start: int, stop: int) -> list[int]:
    """Clause cuts at punctuation in ``text[start:stop]``, none inside a quantity nor
    before a number."""
    return [
        m.end()
        for m in _CLAUSE_PUNCTUATION.finditer(text, start, stop)
        if not _WHOLE_QUANTITY_BEFORE.search(text, max(0, m.end() - 24), m.end())
        and not _NUMBER_NEXT.match(text, m.end())
        and not inside_link(text, m.end())
    ]


def _candidates(text: str, start: int, stop: int, level: int) -> list[int]:
    """Cut positions in ``text[start:stop]``: 0 punctuation, 1 conjunctions, 2-3 spaces
    (level 3 cuts between any words, even inside a link: the last resort)."""
    if level == 0:
        return _clause_punctuation(text, start, stop)
    if level == 1:
        found = [m.start() for m in _CONJUNCTION.finditer(text, start, stop)]
        return [i for i in found if not inside_link(text, i)]
    spaces = list(_WHITESPACE.finditer(text, start, stop))
    if level == 3:
        return [m.start() for m in spaces]
    return [m.start() for m in spaces if _good_word_cut(text, m)]


def last_word_cut(text: str, start: int, *, waited_twice: bool = False) -> int | None:
    """Streaming, once text has waited too long: the last place in ``text[start:]`` to
    cut between whole words that a clause cut would also take (not inside a number, a
    link or after "Mr."), with whitespace and then a word after it; None if there is
    none yet. Not at the space that ends the text: what comes next is unknown, and a
    tokenizer sends the space before a number on its own ("climbed on May 29, " then
    "1953" was read "one thousand nine hundred...", helper-100), unless the text has
    ``waited_twice``: nothing was on its way."""
    for space in reversed(list(_WHITESPACE.finditer(text, start))):
        cut = space.start()
        ends_text = space.end() == len(text) and not waited_twice
        if ends_text or cut <= start or inside_link(text, cut):
            continue
        whole = _WHOLE_QUANTITY_BEFORE.search(text, max(0, cut - 24), cut)
        if _good_word_cut(text, space) and not whole:
            return cut
    return None


def _final_terminator(text: str, start: int) -> re.Match[str] | None:
    """The punctuation that ends ``text`` (from ``start``), if any."""
    ends = [m for m in _TERMINATOR.finditer(text, start) if not text[m.end() :].strip()]
    return ends[-1] if ends else None


def ends_finished_sentence(text: str, start: int) -> bool:
    """Whether ``text`` (from ``start``) ends with a sentence's last punctuation, as far
    as can be told with nothing after it ("Mr." does not end one; "in 1999." does)."""
    last = _final_terminator(text, start)
    return last is not None and _ends_sentence(text, last, None)


def final_stop_in_doubt(text: str, start: int) -> bool:
    """Whether the full stop ending ``text`` may yet go on: right after a digit or a
    single letter ("$182." then "52", "3:30 p." then "m."), or inside a link. A stream
    waits for what follows before it takes it for a sentence's end (helper-100)."""
    last = _final_terminator(text, start)
    if last is None or last[0] != "." or text[last.start() :].strip() != ".":
        return False
    word = _token_before(text, last.start())
    return bool(word and word[-1].isdigit()) or len(word) == 1 or inside_link(text, last.end())


def clause_cut(
    text: str, start: int, end: int, *, max_chars: int, min_chars: int, words: bool = True
) -> int | None:
    """Where to cut the too-long piece ``text[start:end]`` so the head fits in max_chars.

    Prefers the last clause punctuation, then the last conjunction, then (if ``words``)
    the last space - never inside a word or number - and, for a head with no space at
    all, ``max_chars`` in. None if ``words`` is false and there is no such place.
    """
    limit = min(start + max_chars, end - 1)
    lowest = start + max(min_chars, 1)
    # Only the head can hold the cut: scanning the whole rest of a long sentence for every
    # cut made splitting quadratic (40 s for 160,000 characters without a full stop). The
    # margin lets the patterns' lookaheads ("and ", ", ") see past the limit.
    scan_end = min(end, limit + _LOOKAHEAD_MARGIN)
    for level in range(4 if words else 2):
        found = [i for i in _candidates(text, start, scan_end, level) if i <= limit]
        usable = [i for i in found if i >= lowest] or (found if level == 3 else [])
        # A cut needs something after it: punctuation ending the text may go on with a
        # number ("Friday:" then " 9-5" was read "nine-five", helper-100).
        usable = [i for i in usable if i > start and text[start:i].strip() and text[i:].strip()]
        if usable:
            return max(usable)
    if not words:
        return None
    # One word longer than max_chars: a key, a URL, a script written without spaces.
    # Cut inside it: a longer segment is one engine call, which a cancel must wait for
    # (a 1,500-character one took 54 s), and a stream that could not cut its pending
    # text rescanned all of it for every token that arrived (quadratic, on the loop).
    return start + max_chars if end - start > max_chars else None


def first_clause_cut(text: str, start: int, *, min_chars: int) -> int | None:
    """The earliest clause punctuation cut leaving at least ``min_chars`` before it, once
    what follows it has begun (a number there keeps the clause going)."""
    for cut in _clause_punctuation(text, start, len(text)):
        if cut - start >= min_chars and text[cut:].strip():
            return cut
    return None
