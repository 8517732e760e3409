"""Rewrite rules for written numbers: phone numbers, ranges, money, units, ordinals, numbers.

Each rule is a ``str -> str`` function built on a regex compiled once at import. The order
in which they run is decided (and explained) in ``normalize.py``; the docstring of each
rule says what it must run before or after.
"""

from __future__ import annotations

import re

from scaispeak.speak.synthesis.text import verbalize as say

_INT = r"\d{1,3}(?:,\d{3})+|\d+"  # an integer, with or without thousands separators
_SCALES = {
    "k": "thousand",
    "m": "million",
    "mn": "million",
    "b": "billion",
    "bn": "billion",
    "tn": "trillion",
}


_PHONE_NANP = re.compile(
    r"(?<![\w+])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w-])"
)
_PHONE_INTERNATIONAL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[\s.-]?\(?\d{1,5}\)?){2,6}(?![\w-])")
_LONG_DIGIT_RUN = re.compile(r"(?<![\w.,])\d{10,}(?![\w]|[.,]\d)")


def _speak_digit_groups(match: re.Match[str]) -> str:
    groups = re.findall(r"\+?\d+", match.group())
    spoken = [("plus " if g.startswith("+") else "") + say.digits(g) for g in groups]
    return ", ".join(spoken)


def phone_numbers(text: str) -> str:
    """(555) 123-4567, +44 20 7946 0958, 5551234567 -> digit by digit, groups split by commas.

    Runs before dates and ranges, which would otherwise read "555-123" as a range.
    """
    text = _PHONE_NANP.sub(_speak_digit_groups, text)
    text = _PHONE_INTERNATIONAL.sub(_speak_digit_groups, text)
    return _LONG_DIGIT_RUN.sub(_speak_digit_groups, text)


_RANGE_END = r"\d{1,2}:\d{2}|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_RANGE = re.compile(
    rf"(?<![\w.,:/-])(?P<s1>[$€£]?)(?P<a>{_RANGE_END})\s?[-–]\s?"
    rf"(?P<s2>[$€£]?)(?P<b>{_RANGE_END})(?![\d:-]|[.,]\d)"
)


def _range(match: re.Match[str]) -> str:
    first, second = match["a"], match["b"]
    symbol = match["s1"] or match["s2"]
    if symbol or ":" in first + second:
        return f"{symbol}{first} to {symbol}{second}"
    low, high = float(first.replace(",", "")), float(second.replace(",", ""))
    if low >= high:  # "10 - 5" is a subtraction, "3-2" a score: not a range
        return match.group()
    if all(len(part) == 4 and 1100 <= int(part) <= 2099 for part in (first, second)):
        return f"{say.year(int(first))} to {say.year(int(second))}"
    return f"{first} to {second}"


def ranges(text: str) -> str:
    """5-10 -> "5 to 10", $5-10 -> "$5 to $10", 1990-1995 -> years; digits stay for later rules.

    Runs after phone numbers and dates (which own their dashes) and before negative numbers.
    """
    return _RANGE.sub(_range, text)


_NEGATIVE = re.compile(r"(?<![^\s(\[=:])[-−](?=[$€£]?\.?\d)")
_SUBTRACTION = re.compile(r"(?<=\d)\s[-−]\s(?=[$€£]?\d)")


def negative_numbers(text: str) -> str:
    """-5 -> "minus 5", "10 - 5" -> "10 minus 5"; "COVID-19" is left alone.

    Runs after ranges (which consume "5-10") and before money ("-$5").
    """
    text = _SUBTRACTION.sub(" minus ", text)
    return _NEGATIVE.sub("minus ", text)


_MONEY = re.compile(
    rf"(?P<sym>[$€£])\s?(?P<int>{_INT})(?:\.(?P<frac>\d+))?"
    r"(?:\s(?P<scale>thousand|million|billion|trillion)\b|(?P<abbr>[kKmMbB]|mn|bn|tn)\b)?"
)
_MONEY_AFTER = re.compile(rf"(?<![\w.,])(?P<int>{_INT})(?:\.(?P<frac>\d+))?\s?(?P<sym>[€£])")


def _money(match: re.Match[str]) -> str:
    groups = match.groupdict()
    scale = groups.get("scale") or _SCALES.get((groups.get("abbr") or "").lower(), "")
    return say.money(match["sym"], match["int"], match["frac"] or "", scale)


def money(text: str) -> str:
    """$42.50 -> "forty-two dollars and fifty cents", $1 -> "one dollar", €3.5m, 20 €.

    Runs before units, percentages and plain numbers, which would split "$3.5 million".
    """
    text = _MONEY.sub(_money, text)
    return _MONEY_AFTER.sub(_money, text)


_UNITS: dict[str, tuple[str, str]] = {
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "km": ("kilometer", "kilometers"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "m": ("meter", "meters"),
    "mi": ("mile", "miles"),
    "ft": ("foot", "feet"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "g": ("gram", "grams"),
    "lbs": ("pound", "pounds"),
    "lb": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "L": ("liter", "liters"),
    "TB": ("terabyte", "terabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "MB": ("megabyte", "megabytes"),
    "KB": ("kilobyte", "kilobytes"),
    "kB": ("kilobyte", "kilobytes"),
    "GHz": ("gigahertz", "gigahertz"),
    "MHz": ("megahertz", "megahertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "Hz": ("hertz", "hertz"),
    "kW": ("kilowatt", "kilowatts"),
    "ms": ("millisecond", "milliseconds"),
    "sec": ("second", "seconds"),
    "min": ("minute", "minutes"),
    "hrs": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
}
_UNIT_NAMES = "|".join(re.escape(unit) for unit in sorted(_UNITS, key=len, reverse=True))
_QUANTITY = re.compile(
    rf"(?<![\w.,])(?P<num>-?(?:{_INT})(?:\.\d+)?)\s?(?P<unit>{_UNIT_NAMES})(?![\w/])"
)
_PERCENT = re.compile(r"\s?%")


def _quantity(match: re.Match[str]) -> str:
    singular, many = _UNITS[match["unit"]]
    return f"{match['num']} {singular if match['num'].lstrip('-') == '1' else many}"


def units_and_percent(text: str) -> str:
    """5 km -> "5 kilometers", 1 kg -> "1 kilogram", 20°C, 50% -> "50 percent".

    Only after a number, so "m" or "g" in words is untouched; runs after money and before
    cardinals (it needs the literal "1" to choose the singular).
    """
    text = _QUANTITY.sub(_quantity, text)
    return _PERCENT.sub(" percent", text)


_ORDINAL = re.compile(rf"\b(?P<n>{_INT})(?:st|nd|rd|th)\b")
_FRACTION = re.compile(r"(?<![\w/.,])(?P<n>[1-9])/(?P<d>[2-9]|10)(?![\w/]|[.,]\d)")


def ordinals_and_fractions(text: str) -> str:
    """21st -> "twenty-first", 3/4 -> "three quarters" (proper fractions only).

    Runs after dates ("March 3rd", "3/5/2024") and before cardinals.
    """
    text = _ORDINAL.sub(lambda m: say.ordinal_text(m["n"]), text)
    return _FRACTION.sub(
        lambda m: say.fraction(int(m["n"]), int(m["d"])) if int(m["n"]) < int(m["d"]) else m[0],
        text,
    )


_DOTTED_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+){2,}(?!\d)")
_BARE_DECIMAL = re.compile(r"(?<![\w.,])\.(?P<frac>\d+)\b")
_NUMBER = re.compile(rf"(?P<int>{_INT})(?:\.(?P<frac>\d+))?")


def _number(match: re.Match[str]) -> str:
    integer, fraction = match["int"], match["frac"] or ""
    plain = integer.isdigit()
    if plain and len(integer) > 1 and (integer.startswith("0") or len(integer) >= 10):
        words = say.digits(integer)  # "007", zip codes, IDs
        if fraction:
            words += " point " + say.digits(fraction)
    else:
        words = say.decimal(integer, fraction)
    before = match.string[match.start() - 1 : match.start()]
    after = match.string[match.end() : match.end() + 1]
    return (" " if before.isalpha() else "") + words + (" " if after.isalpha() else "")


def cardinal_numbers(text: str) -> str:
    """1,250 -> "one thousand two hundred fifty", 3.14, .5, 1.2.3 (versions, IPs), MP3.

    Runs last among the number rules: whatever digits are left are plain quantities.
    """
    text = _DOTTED_NUMBER.sub(
        lambda m: " dot ".join(say.cardinal_text(part) for part in m.group().split(".")), text
    )
    text = _BARE_DECIMAL.sub(lambda m: "point " + say.digits(m["frac"]), text)
    return _NUMBER.sub(_number, text)
