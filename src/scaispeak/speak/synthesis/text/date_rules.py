"""Rewrite rules for dates, times of day and years ("March 3rd", "10:30 am", "in 1999").

Each rule is a ``str -> str`` function built on regexes compiled once at import; the
order they run in is decided (and explained) in ``normalize.py``.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime

from scaispeak.speak.synthesis.text import verbalize as say
from scaispeak.speak.synthesis.text.boundaries import keeps_final_period, time_zone_follows
from scaispeak.speak.synthesis.text.verbalize import CURRENCY_SIGNS

_MONTH_NAMES = "|".join(say.MONTHS)
_MONTH_ABBREVIATIONS = "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec"
_MONTH = rf"(?P<month>{_MONTH_NAMES}|{_MONTH_ABBREVIATIONS})(?P<dot>\.)?"
_DAY = r"(?P<day>[12]\d|3[01]|0?[1-9])"
YEAR = r"(?P<year>1[1-9]\d\d|20\d\d)"


def _month_number(name: str) -> int:
    return next(i for i, month in enumerate(say.MONTHS, 1) if month.startswith(name[:3]))


def _period_if_final(match: re.Match[str], group: str = "dot") -> str:
    return "." if match.group(group) and keeps_final_period(match.string, match.end()) else ""


# A timestamp as APIs write it: "2026-12-05T14:30:00Z", "2026-12-05 14:30".
_ISO_DATETIME = re.compile(
    r"\b(?P<y>\d{4})-(?P<m>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12]\d|3[01])[T ]"
    r"(?P<h>[01]\d|2[0-3]):(?P<min>[0-5]\d)(?::[0-5]\d(?:\.\d+)?)?"
    r"(?:(?P<utc>Z\b)|(?P<sign>[+-])(?P<oh>[01]\d):?(?P<om>[0-5]\d)\b)?"
)
_ISO_DATE = re.compile(r"\b(?P<y>\d{4})-(?P<m>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12]\d|3[01])\b")
_US_DATE = re.compile(
    r"\b(?P<m>0?[1-9]|1[0-2])/(?P<d>0?[1-9]|[12]\d|3[01])/(?P<y>\d{4}|\d{2})(?![\d/])"
)
# Other orders, where they cannot be taken for US dates: "2024/05/05"; the day first
# where it is over 12 ("31/12/2024", "25-12-2024"); dotted, as Europe writes the day
# first ("05.06.2024"); and the month first with dashes where the day is over 12
# ("12-25-2024").
_YEAR_FIRST_SLASHED = re.compile(
    r"\b(?P<y>\d{4})/(?P<m>0?[1-9]|1[0-2])/(?P<d>0?[1-9]|[12]\d|3[01])(?![\d/])"
)
_DAY_FIRST = re.compile(
    r"(?<![vV])(?<![vV]ersion )\b(?:(?P<d>1[3-9]|2\d|3[01])(?P<sep>[/-])(?P<m>0?[1-9]|1[0-2])"
    r"(?P=sep)(?P<y>\d{4})|(?P<dd>0[1-9]|[12]\d|3[01])\.(?P<mm>0[1-9]|1[0-2])\."
    r"(?P<yy>19\d\d|20\d\d))(?![\d/-]|\.\d)"
)
_MONTH_FIRST_DASHED = re.compile(
    r"\b(?P<m>0?[1-9]|1[0-2])-(?P<d>1[3-9]|2\d|3[01])-(?P<y>\d{4})(?![\d-])"
)
_MONTH_DAY = re.compile(
    rf"\b{_MONTH}\s+{_DAY}(?:st|nd|rd|th)?\b(?![:.,]\d)(?:,?\s+{YEAR}\b(?![.,]\d))?"
)
# "the" written before the day is the one said ("The 5th of May": not "the the fifth").
_DAY_MONTH = re.compile(
    rf"(?:\b(?P<the>[Tt]he)\s+)?"
    rf"\b{_DAY}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?!\w)(?:,?\s+{YEAR}\b(?![.,]\d))?"
)
_MONTH_YEAR = re.compile(rf"\b{_MONTH}\s+{YEAR}\b(?![.,]\d)")


# A month and day without a year ("12/25") is written as a fraction or a rating is, so
# it is a date only after a word that asks for one: "due 12/25", "Mon 3/4", "by 12/25".
# The weak words also come before fractions ("cut by 1/2", "from 1/2 to 3/4 cup"): after
# them, pairs that the fraction rule would all read ("1/2", "3/4") stay fractions.
# "Dec 1-5", "June 3rd–7th, 2026": a run of days in one month.
_MONTH_DAY_RANGE = re.compile(
    rf"\b{_MONTH}\s+{_DAY}(?:st|nd|rd|th)?\s?[-–]\s?(?P<last>[12]\d|3[01]|0?[1-9])"
    rf"(?:st|nd|rd|th)?\b(?![:.,]\d|[-–])(?:,?\s+{YEAR}\b(?![.,]\d))?"
)
_SHORT_DATE_WORDS = r"on|due|until|till|effective|starting|expires|expiring|expired"
_WEAK_SHORT_DATE_WORDS = r"by|before|after|since|from|through|thru"
# How a weekday is written -> how it is said ("Mon" alone is read "mahn").
_WEEKDAYS = {day[:3]: day for day in say.WEEKDAYS}
_WEEKDAYS |= {"Tues": "Tuesday", "Thur": "Thursday", "Thurs": "Thursday"}
_WEEKDAYS |= {day: day for day in say.WEEKDAYS}
_WEEKDAY = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
# "Mon-Fri", "Mon. through Fri.": opening hours; a lone "Sun" or "Sat" may be a word.
_WEEKDAY_RANGE = re.compile(
    rf"\b(?P<first>{_WEEKDAY})\.?(?P<join>\s?[-–]\s?|\s(?:to|through|thru)\s)"
    rf"(?P<last>{_WEEKDAY})\b(?P<dot>\.)?"
)
# "M-F 9-6", "open M–F": weekdays by their letters, only before hours or after "open",
# where "M-F" is no ratio (helper-96).
_MONDAY_TO_FRIDAY = re.compile(
    r"\bM[-–]F\b(?=:?\s*\d{1,2}(?::\d\d)?\s?(?:[-–]|[ap]\.?m\b))|(?<=\b(?i:open) )M[-–]F\b"
)
_MONTH_SLASH_DAY = r"(?P<m{n}>1[0-2]|0?[1-9])/(?P<d{n}>[12]\d|3[01]|0?[1-9])"
_SHORT_DATE = re.compile(
    rf"\b(?:(?P<word>(?i:{_SHORT_DATE_WORDS})|(?P<weak>(?i:{_WEAK_SHORT_DATE_WORDS})))"
    rf"|(?P<weekday>{_WEEKDAY})\b\.?)(?P<gap>,?\s){_MONTH_SLASH_DAY.format(n=1)}"
    rf"(?:(?P<join>\s?[-–]\s?|\s(?:to|through|thru|until|till|and|or)\s)"
    rf"{_MONTH_SLASH_DAY.format(n=2)})?"
    r"(?![\w/%]|[.,]\d|\s(?:of|stars?|points?)\b)"
)
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_SAID_AS_A_NAME = {(9, 11)}  # "since 9/11" is "nine eleven", as the day is called


def _reads_as_fraction(month: int, day: int) -> bool:
    return month < day <= 10


def _spoken_as_date(month: int, day: int) -> bool:
    return day <= _DAYS_IN_MONTH[month - 1] and (month, day) not in _SAID_AS_A_NAME


def _short_date(match: re.Match[str]) -> str:
    pairs = [(int(match[f"m{n}"]), int(match[f"d{n}"])) for n in (1, 2) if match[f"m{n}"]]
    if not all(_spoken_as_date(*pair) for pair in pairs):
        return match[0]
    if match["weak"] and all(_reads_as_fraction(*pair) for pair in pairs):
        return match[0]
    joint = (match["join"] or "-").strip()
    spoken = f" {'to' if joint in '-–' else joint} ".join(say.date(*pair) for pair in pairs)
    context = match["word"] or _WEEKDAYS[match["weekday"]]
    return context + match["gap"] + spoken


def _iso_datetime(match: re.Match[str]) -> str:
    day = say.date(int(match["m"]), int(match["d"]), int(match["y"]))
    time_of_day = say.time_of_day(int(match["h"]), int(match["min"]))
    zone = " UTC" if match["utc"] else ""
    if match["sign"]:  # "+05:30" -> "UTC plus five thirty"
        hours, minutes = int(match["oh"]), int(match["om"])
        offset = say.cardinal(hours) + (f" {say.cardinal(minutes)}" if minutes else "")
        zone = f" UTC {'plus' if match['sign'] == '+' else 'minus'} {offset}"
    return f"{day}, {time_of_day}{zone}"


def _numeric_date(match: re.Match[str]) -> str:
    year_value = int(match["y"])
    if len(match["y"]) == 2:
        year_value = _century_of(year_value)
    month, day = int(match["m"]), int(match["d"])
    if day > calendar.monthrange(year_value, month)[1]:
        return match[0]  # "2/30/2024" is no date: not "February thirtieth"
    return say.date(month, day, year_value)


def _day_first_date(match: re.Match[str]) -> str:
    year = int(match["y"] or match["yy"])
    month, day = int(match["m"] or match["mm"]), int(match["d"] or match["dd"])
    if day > calendar.monthrange(year, month)[1]:
        return match[0]
    return say.date(month, day, year)


def _century_of(two_digits: int) -> int:
    """A two-digit year in this century unless that is more than ten years ahead: then
    the last ("born 12/31/99" is 1999, "due 1/1/30" 2030)."""
    year = 2000 + two_digits
    return year if year <= datetime.now(UTC).year + 10 else year - 100


def _month_day_range(match: re.Match[str]) -> str:
    first, last = int(match["day"]), int(match["last"])
    if last <= first:
        return match[0]  # not a run of days ("Dec 5-3" is something else)
    words = f"{say.date(_month_number(match['month']), first)} to {say.ordinal(last)}"
    return f"{words}, {say.year(int(match['year']))}" if match["year"] else words


# A month's abbreviation with no day ("unchanged from Oct.", "in Nov. and Dec."): espeak
# said "ocked". "Jan." only before what goes on ("in Jan. and"): at a sentence's end it
# may be a name ("I met Jan."). A weekday's before a time or a date ("Open Mon 9-5",
# "Tue., June 4").
_LONE_MONTH = re.compile(
    r"\b(?P<month>Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec|Jan(?=\.(?:,|\s+[a-z])))"
    r"(?P<dot>\.)(?!\w)"
)
_WEEKDAY_BEFORE_TIME = re.compile(
    rf"\b(?P<day>{_WEEKDAY})\.?(?=,?\s(?:\d{{1,2}}(?:[-–:]|\s?[ap]m)"
    rf"|(?:{_MONTH_NAMES}|{_MONTH_ABBREVIATIONS})\.?\s\d))"  # not "The Sun May Rise"
)


# ...and after a word that goes before a time: "I met Jan. and Bob" is a name (helper-97).
_BEFORE_A_TIME = re.compile(
    r"\b(?i:in|on|since|by|until|till|from|of|for|early|late|mid|last|next|this|through"
    r"|during|before|after|between|end)\s$|\b(?i:mid|early|late)-$"
)


def _lone_month(match: re.Match[str]) -> str:
    start = match.start()
    if match["month"] == "Jan" and not _BEFORE_A_TIME.search(
        match.string, max(0, start - 8), start
    ):
        return match[0]
    return say.MONTHS[_month_number(match["month"]) - 1] + _period_if_final(match)


def _weekday_range(match: re.Match[str]) -> str:
    joint = match["join"].strip()
    spoken = "to" if joint in ("-", "–") else joint
    first, last = _WEEKDAYS[match["first"]], _WEEKDAYS[match["last"]]
    return f"{first} {spoken} {last}" + _period_if_final(match)


def _month_day(match: re.Match[str]) -> str:
    year_value = int(match["year"]) if match["year"] else None
    return say.date(_month_number(match["month"]), int(match["day"]), year_value)


def _day_month(match: re.Match[str]) -> str:
    month = say.MONTHS[_month_number(match["month"]) - 1]
    words = f"{match['the'] or 'the'} {say.ordinal(int(match['day']))} of {month}"
    if match["year"]:
        return f"{words} {say.year(int(match['year']))}"
    return words + _period_if_final(match)


def _month_year(match: re.Match[str]) -> str:
    return f"{say.MONTHS[_month_number(match['month']) - 1]} {say.year(int(match['year']))}"


def dates(text: str) -> str:
    """2024-03-05, 3/5/2024 (US order), 2024/03/05, 31/12/2024 and 25.12.2024 (the day
    first), March 3rd, 3 March 2024, March 2024, Dec 1-5, Mon-Fri -> words.

    "due 12/25" -> "due December twenty-fifth": a month and day alone only after a word
    that asks for a date.

    Runs before ranges ("2024-03" is not a range), fractions ("3/5") and ordinals ("3rd").
    """
    text = _ISO_DATETIME.sub(_iso_datetime, text)
    text = _ISO_DATE.sub(_numeric_date, text)
    text = _YEAR_FIRST_SLASHED.sub(_numeric_date, text)
    text = _DAY_FIRST.sub(_day_first_date, text)
    text = _MONTH_FIRST_DASHED.sub(_numeric_date, text)
    text = _US_DATE.sub(_numeric_date, text)
    text = _SHORT_DATE.sub(_short_date, text)
    text = _WEEKDAY_RANGE.sub(_weekday_range, text)
    text = _MONDAY_TO_FRIDAY.sub("Monday to Friday", text)
    text = _WEEKDAY_BEFORE_TIME.sub(lambda m: _WEEKDAYS[m["day"]], text)
    text = _MONTH_DAY_RANGE.sub(_month_day_range, text)
    text = _MONTH_DAY.sub(_month_day, text)
    text = _DAY_MONTH.sub(_day_month, text)
    text = _MONTH_YEAR.sub(_month_year, text)
    return _LONE_MONTH.sub(_lone_month, text)


_CLOCK_TIME = re.compile(
    r"(?<![\d:.])(?P<h>[01]?\d|2[0-4]):(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d))?(?![\d:])"
    r"(?:\s?(?P<mer>[ap])\.?m\b(?P<dot>\.)?)?",
    re.IGNORECASE,
)
_HOUR_TIME = re.compile(
    r"(?<![\d:.,])(?P<h>1[0-2]|0?[1-9])\s?(?P<mer>[ap])\.?m\b(?P<dot>\.)?", re.IGNORECASE
)
# A time as British English writes it, with a dot: "9.30am", "9.30 p.m.". Only with am
# or pm: "9.30" alone is a decimal, and so are "v9.30", "$9.30" and "9.30 kg".
_DOTTED_TIME = re.compile(
    rf"(?<![\w.,{CURRENCY_SIGNS}])(?P<h>1[0-2]|0?[1-9])\.(?P<m>[0-5]\d)\s?(?P<mer>[ap])\.?m\b(?P<dot>\.)?",
    re.IGNORECASE,
)


# Words after which "1:02:03" is how long something took, not when it happened.
# Not "is", "was" or "for" alone: "the time is 10:30:15", "an alarm for 06:30:00".
_DURATION_BEFORE = re.compile(
    r"\b(?i:in|elapsed|timer|time of|"
    r"(?:took|takes|ran|runs|lasted|lasts|clocked|finished)(?: for| in| after)?|"
    r"(?:duration|runtime|length|record)(?: is| was| of)?)\s$"
)


def _seconds_said(seconds: int) -> str:
    return f"{say.cardinal(seconds)} second{'' if seconds == 1 else 's'}"


def _counted(*counts: tuple[int, str]) -> list[str]:
    return [f"{say.cardinal(n)} {unit}{'' if n == 1 else 's'}" for n, unit in counts if n]


def _listed(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _duration(hours: int, minutes: int, seconds: int) -> str:
    """(1, 2, 3) -> "one hour, two minutes and three seconds"; zero parts are left out."""
    parts = _counted((hours, "hour"), (minutes, "minute"), (seconds, "second"))
    return _listed(parts or ["zero seconds"])


# A lap or split time, to fractions of a second ("1:23.456", "1:02:03.5"): a duration.
_STOPWATCH = re.compile(
    r"(?<![\d:.])(?:(?P<h>\d{1,2}):(?=\d\d:))?(?P<m>\d{1,2}):(?P<s>[0-5]\d)\.(?P<frac>\d{1,3})"
    r"(?![\d:])"
)


def _stopwatch(match: re.Match[str]) -> str:
    """ "1:23.456" -> "one minute and twenty-three point four five six seconds"."""
    seconds = say.decimal(match["s"].lstrip("0") or "0", match["frac"])
    parts = _counted((int(match["h"] or 0), "hour"), (int(match["m"]), "minute"))
    return _listed([*parts, f"{seconds} seconds"])


def _with_seconds(match: re.Match[str], hour: int, minute: int, meridiem: str) -> str:
    """ "10:30:15" -> "ten thirty and fifteen seconds" as a time of day, or, after "in",
    "took", "ran" and the like, "ten hours, thirty minutes and fifteen seconds"."""
    seconds = int(match["s"])
    before = match.string[max(0, match.start() - 24) : match.start()]
    if not meridiem and _DURATION_BEFORE.search(before):
        return _duration(hour, minute, seconds)
    spoken = say.time_of_day(hour, minute, meridiem)
    return f"{spoken} and {_seconds_said(seconds)}" if seconds else spoken


def _clock_time(match: re.Match[str]) -> str:
    minute = int(match["m"]) if match.groupdict().get("m") else 0
    meridiem = (match["mer"] + "m") if match["mer"] else ""
    hour = int(match["h"])
    if match.groupdict().get("s"):
        spoken = _with_seconds(match, hour, minute, meridiem)
    else:
        spoken = say.time_of_day(hour, minute, meridiem)
    if time_zone_follows(match.string, match.end()):
        return spoken  # "5 p.m. ET": the period abbreviates, it ends nothing
    return spoken + _period_if_final(match)


# The dash between two times of day with am/pm ("9am-5pm", "1:30 pm–3:00 pm"), which
# the range rule does not see (am/pm sits between the numbers): said "to".
_TIME_RANGE_DASH = re.compile(
    r"(?:(?<=[ap]m)|(?<=[ap]\.m\.))\s?[-–]\s?(?=(?:1[0-2]|0?[1-9])(?:[:.][0-5]\d)?\s?[ap]\.?m\b)",
    re.IGNORECASE,
)


def times(text: str) -> str:
    """10:30 am -> "ten thirty AM", 7:05 -> "seven oh five", 5 p.m. -> "five PM",
    9am-5pm -> "nine AM to five PM", 9.30am -> "nine thirty AM".

    Runs after ranges (9:00-17:00) and before plain numbers and the colon is lost.
    """
    text = _TIME_RANGE_DASH.sub(" to ", text)
    text = _STOPWATCH.sub(_stopwatch, text)
    text = _CLOCK_TIME.sub(_clock_time, text)
    text = _DOTTED_TIME.sub(_clock_time, text)
    return _HOUR_TIME.sub(_clock_time, text)
