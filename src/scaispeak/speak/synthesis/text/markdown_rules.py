"""Markdown that language models write, made fit to read aloud: emphasis, code, links
and citation markers go; headings, list items and table rows keep the pauses a reader
hears; a numbered item keeps its number. A rule of ``normalize.py``'s order.
"""

from __future__ import annotations

import re

from scaispeak.speak.synthesis.text.boundaries import numbered_item_at

_MARKUP = re.compile(r"`+|\*\*|__|~~|^[^\S\n]*(?:#{1,6}|[*•+>-])[^\S\n]+", re.MULTILINE)
# A pause where a heading or a list item's line ends without punctuation, which a
# reader hears but the line break alone would lose ("Steps:\n- Mix\n- Bake").
_UNPUNCTUATED_LINE_END = r"(?<=[\w)\]\"'”’%])[^\S\n]*(?=\n)"
_BEFORE_LIST_ITEM = re.compile(
    rf"{_UNPUNCTUATED_LINE_END}(?=\n[^\S\n]*(?:[*•+>-]|\d{{1,2}}[.)])[^\S\n])"
)
# A numbered item's mark is said, as a reader would: "1. Paris" -> "1, Paris".
_NUMBERED_ITEM = re.compile(r"^(?P<mark>[^\S\n]*\d{1,2})[.)][^\S\n]+(?=\S)", re.MULTILINE)
_BEFORE_HEADING = re.compile(rf"{_UNPUNCTUATED_LINE_END}(?=\n[^\S\n]*#{{1,6}}[^\S\n])")
# Lines of labels and values ("Name: John Smith\nDOB: ...\nPhone: ...") ran on as one
# sentence (helper-96): each is one.
_BEFORE_LABEL_LINE = re.compile(rf"{_UNPUNCTUATED_LINE_END}(?=\n[^\S\n]*[A-Z][\w ]{{0,30}}:\s)")
_HEADING_END = re.compile(
    rf"^(?P<heading>[^\S\n]*#{{1,6}}[^\S\n][^\n]*?){_UNPUNCTUATED_LINE_END}", re.M
)
# A line that is bold and nothing else is a heading too ("**Benefits**\nIt is fast." ran
# on as "Benefits It is fast.", helper-96).
_BOLD_LINE = re.compile(
    r"^(?P<heading>[^\S\n]*(\*\*|__)[^\n*_]*[\w)\]\"'”’%]\2)[^\S\n]*$", re.MULTILINE
)
# Lines that fence a code block, with the block's language ("```python"): not spoken.
_FENCE = re.compile(r"^[^\S\n]*(?:```|~~~)[\w+#.-]*[^\S\n]*$", re.MULTILINE)
# A task list's box ("- [x] Pay rent") and a citation marker ("as shown [1]", "[^2]").
_BOX_OR_CITATION = re.compile(
    r"(?:^[^\S\n]*(?:[*•+-][^\S\n]+)?\[[ xX]\][^\S\n]+)|[^\S\n]?\[\^?\d{1,3}\]", re.MULTILINE
)
_MARKDOWN_LINK = re.compile(r"!?\[(?P<label>[^\[\]\n]*)\]\([^()\s]*(?:\s\"[^\"\n]*\")?\)")


# A list numbered with keycap emoji ("1️⃣ The Bear"): a numbered item like "1. The Bear".
_KEYCAP_ITEM = re.compile(r"^(?P<lead>[^\S\n]*)(?P<n>\d)\ufe0f?\u20e3[^\S\n]*", re.MULTILINE)


# A Markdown table: its rule line ("|---|:--:|") goes; each row is read as a sentence
# of its cells ("| Rent | $1,850 |" -> "Rent, $1,850."), where the pipes alone left one
# breathless run of every cell.
_TABLE_RULE = re.compile(
    r"^[^\S\n]*\|?(?:[^\S\n]*:?-{3,}:?[^\S\n]*\|)+[^\S\n]*:?-*:?[^\S\n]*$", re.MULTILINE
)
_TABLE_ROW = re.compile(r"^[^\S\n]*\|(?P<cells>[^\n]*?)\|?[^\S\n]*$", re.MULTILINE)


def _table_row(match: re.Match[str]) -> str:
    cells = [cell.strip() for cell in match["cells"].split("|") if cell.strip()]
    row = ", ".join(cells)
    return row + ("" if not row or row[-1] in ".?!" else ".")


def _pause_before_item(match: re.Match[str]) -> str:
    next_line = match.end() + 1
    if match.string[next_line : next_line + 3].lstrip()[:1].isdigit():
        return "," if numbered_item_at(match.string, next_line) else match[0]
    return ","


def _numbered_item(match: re.Match[str]) -> str:
    if not numbered_item_at(match.string, match.start()):
        return match[0]  # a hard-wrapped sentence's number
    return match["mark"] + ", "


def markup(text: str) -> str:
    """Drop Markdown that LLMs emit (`code`, **bold**, ~~struck~~, # headings, bullets,
    task boxes, code fences, citation markers, [label](url), tables' pipes)."""
    if "|" in text:
        text = _TABLE_ROW.sub(_table_row, _TABLE_RULE.sub("", text))
    text = _KEYCAP_ITEM.sub(lambda m: f"{m['lead']}{m['n']}. ", text)
    text = _MARKDOWN_LINK.sub(lambda m: m["label"], text)
    text = _HEADING_END.sub(lambda m: m["heading"] + ".", text)
    text = _BOLD_LINE.sub(lambda m: m["heading"] + ".", text)
    text = _BEFORE_LIST_ITEM.sub(_pause_before_item, text)
    text = _NUMBERED_ITEM.sub(_numbered_item, text)
    text = _BEFORE_HEADING.sub(".", text)
    text = _BEFORE_LABEL_LINE.sub(".", text)
    text = _FENCE.sub("", text)
    text = _BOX_OR_CITATION.sub("", text)
    return _MARKUP.sub("", text)
