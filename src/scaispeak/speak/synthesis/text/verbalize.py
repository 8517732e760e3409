"""Spell numbers, money, dates and times the way an American English speaker says them.

These functions take already-parsed values (the regex rules in ``numeric_rules`` do the
parsing) and return plain words. They wrap ``num2words`` and undo its British habits
("one thousand, two hundred and fifty"): the commas would be read as pauses and the
"and" sounds wrong in en-US.
"""

from __future__ import annotations

from num2words import num2words

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

# symbol -> (singular major, plural major, singular minor, plural minor)
_CURRENCIES: dict[str, tuple[str, str, str, str]] = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "sen", "sen"),
    "₹": ("rupee", "rupees", "paisa", "paise"),
    # espeak says nothing for these signs: "from ₱500" was heard "from 500" (helper-96).
    "₩": ("won", "won", "jeon", "jeon"),
    "₽": ("ruble", "rubles", "kopek", "kopeks"),
    "₺": ("lira", "lira", "kurus", "kurus"),
    "₦": ("naira", "naira", "kobo", "kobo"),
    "₱": ("peso", "pesos", "centavo", "centavos"),
    "฿": ("baht", "baht", "satang", "satang"),
    "₪": ("shekel", "shekels", "agora", "agorot"),
    "₫": ("dong", "dong", "xu", "xu"),
    "₴": ("hryvnia", "hryvnias", "kopiyka", "kopiykas"),
    "R$": ("real", "reais", "centavo", "centavos"),
    "MX$": ("Mexican peso", "Mexican pesos", "centavo", "centavos"),
}
CURRENCY_SIGNS = "".join(sign for sign in _CURRENCIES if len(sign) == 1)
"""The signs an amount is written with ("$€£¥₹..."), for a regex class: one list for
every rule that must tell money from a bare number."""

_FRACTION_NAMES = {2: ("half", "halves"), 4: ("quarter", "quarters")}


def _en_us(words: object) -> str:
    """Drop the commas and the British "and" that num2words puts inside numbers."""
    return str(words).replace(",", "").replace(" and ", " ")


def digits(text: str) -> str:
    """Read every digit in ``text`` on its own: "0451" -> "zero four five one"."""
    return " ".join(_DIGIT_WORDS[int(ch)] for ch in text if ch.isdecimal())


# num2words names nothing past the vigintillions (10**66); longer runs are read digit by
# digit before they are parsed, since Python refuses to parse more than 4,300 digits.
_MOST_NAMED_DIGITS = 66


def _parsed(integer_text: str) -> int | None:
    """ "1,250" -> 1250; None for a run of digits too long to name."""
    plain = integer_text.replace(",", "") or "0"
    return int(plain) if len(plain) <= _MOST_NAMED_DIGITS else None


def cardinal_text(integer_text: str) -> str:
    """ "1,250" -> "one thousand two hundred fifty"; any length of digits is safe."""
    value = _parsed(integer_text)
    return digits(integer_text) if value is None else cardinal(value)


def ordinal_text(integer_text: str) -> str:
    """ "1,021" -> "one thousand twenty-first"; any length of digits is safe."""
    value = _parsed(integer_text)
    return digits(integer_text) if value is None else ordinal(value)


def cardinal(value: int) -> str:
    """1250 -> "one thousand two hundred fifty"; too large for num2words -> digit by digit."""
    try:
        return _en_us(num2words(value, lang="en"))
    except (OverflowError, IndexError):
        return digits(str(value))


def ordinal(value: int) -> str:
    """21 -> "twenty-first"."""
    try:
        return _en_us(num2words(value, lang="en", to="ordinal"))
    except (OverflowError, IndexError):
        return digits(str(value))


def decimal(integer_part: str, fraction_part: str = "") -> str:
    """("3", "14") -> "three point one four"; thousands separators in the integer are ignored."""
    words = cardinal_text(integer_part)
    if fraction_part:
        words += " point " + digits(fraction_part)
    return words


def year(value: int) -> str:
    """1999 -> "nineteen ninety-nine", 2005 -> "two thousand five", 1905 -> "nineteen oh five"."""
    if not 1000 <= value <= 9999:
        return cardinal(value)
    return _en_us(num2words(value, lang="en", to="year")).replace("oh-", "oh ")


def model_number(value: int) -> str:
    """A product's number, said in pairs of digits as a year is: 4090 -> "forty ninety".

    747 -> "seven forty-seven", 707 -> "seven oh seven", 7900 -> "seventy-nine hundred",
    4004 -> "forty oh four"; a round thousand stays a number ("two thousand").
    """
    if not 100 <= value <= 9999 or value % 1000 == 0:
        return cardinal(value)
    head, tail = divmod(value, 100)
    if tail == 0:
        return f"{cardinal(head)} hundred"
    if tail < 10:
        return f"{cardinal(head)} oh {cardinal(tail)}"
    return f"{cardinal(head)} {cardinal(tail)}"


def plural(words: str) -> str:
    """Pluralise the last word of a spelled number: "nineteen ninety" -> "nineteen nineties"."""
    if words.endswith("y"):
        return words[:-1] + "ies"
    if words.endswith("x"):
        return words + "es"
    return words + "s"


def fraction(numerator: int, denominator: int) -> str:
    """(3, 4) -> "three quarters", (1, 2) -> "one half", (2, 5) -> "two fifths"."""
    singular, many = _FRACTION_NAMES.get(
        denominator, (ordinal(denominator), plural(ordinal(denominator)))
    )
    return f"{cardinal(numerator)} {singular if numerator == 1 else many}"


def currency_names(symbol: str) -> tuple[str, str]:
    """The singular and plural names of a sign's currency: "$" -> ("dollar", "dollars")."""
    singular, plural, _, _ = _CURRENCIES[symbol]
    return singular, plural


def money(
    symbol: str,
    integer_part: str,
    fraction_part: str = "",
    scale: str = "",
    *,
    adjective: bool = False,
    country: str = "",
) -> str:
    """("$", "42", "50") -> "forty-two dollars and fifty cents"; scale: "$3.5 million".

    ``adjective`` for an amount before what it prices, said in the singular: "a five-dollar
    bill", "a one point five million dollar deal". ``country`` names whose dollars they
    are ("five Canadian dollars"); their cents are just cents.
    """
    major, majors, minor, minors = _CURRENCIES[symbol]
    if country:
        major, majors = f"{country} {major}", f"{country} {majors}"
        if adjective:
            major = major.replace(" ", "-")  # "a five-Canadian-dollar bill"
    if adjective:
        majors, minors = major, minor
    whole = _parsed(integer_part)
    if scale:
        return f"{decimal(integer_part, fraction_part)} {scale} {majors}"
    if len(fraction_part) > 2:
        return f"{decimal(integer_part, fraction_part)} {majors}"
    joint = "-" if adjective else " "  # "five-dollar", as the compound is written
    cents = int(fraction_part.ljust(2, "0")) if fraction_part else 0
    major_words = f"{cardinal_text(integer_part)}{joint}{major if whole == 1 else majors}"
    if cents == 0:
        return major_words
    minor_words = f"{cardinal(cents)}{joint}{minor if cents == 1 else minors}"
    return minor_words if whole == 0 else f"{major_words} and {minor_words}"


def time_of_day(hour: int, minute: int, meridiem: str = "") -> str:
    """(10, 30, "am") -> "ten thirty AM"; (7, 5) -> "seven oh five"; (7, 0) -> "seven o'clock".

    "AM" as one word: espeak reads it "ay em", but "A M" as "uh em" (the article "a").
    """
    spoken_meridiem = meridiem.upper()
    words = cardinal(hour)
    if minute == 0:
        if not spoken_meridiem:
            return f"{words} hundred" if hour > 12 or hour == 0 else f"{words} o'clock"
    elif minute < 10:
        words += " oh " + cardinal(minute)
    else:
        words += " " + cardinal(minute)
    return f"{words} {spoken_meridiem}".strip()


def date(month: int, day: int, year_value: int | None = None) -> str:
    """(3, 5, 2024) -> "March fifth, twenty twenty-four"; (3, 3, None) -> "March third"."""
    words = f"{MONTHS[month - 1]} {ordinal(day)}"
    if year_value is not None:
        words += ", " + year(year_value)
    return words
