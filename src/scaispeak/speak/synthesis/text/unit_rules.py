"""Numbers with units: "5 km", "1 kg", "20°C", "50%", heights (5'10"), spans ("24h
support"). A rule of ``normalize.py``'s order, like those in ``numeric_rules.py``.
"""

from __future__ import annotations

import re

from scaispeak.speak.synthesis.text.numeric_rules import INTEGER

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
    # Rates of data: bytes with "B/s", bits with "bps" (or "b/s").
    "TB/s": ("terabyte per second", "terabytes per second"),
    "GB/s": ("gigabyte per second", "gigabytes per second"),
    "MB/s": ("megabyte per second", "megabytes per second"),
    "KB/s": ("kilobyte per second", "kilobytes per second"),
    "kB/s": ("kilobyte per second", "kilobytes per second"),
    "Gbps": ("gigabit per second", "gigabits per second"),
    "Gb/s": ("gigabit per second", "gigabits per second"),
    "Mbps": ("megabit per second", "megabits per second"),
    "Mb/s": ("megabit per second", "megabits per second"),
    "kbps": ("kilobit per second", "kilobits per second"),
    "Kbps": ("kilobit per second", "kilobits per second"),
    "kb/s": ("kilobit per second", "kilobits per second"),
    "GHz": ("gigahertz", "gigahertz"),
    "MHz": ("megahertz", "megahertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "Hz": ("hertz", "hertz"),
    "kW": ("kilowatt", "kilowatts"),
    "ms": ("millisecond", "milliseconds"),
    "secs": ("second", "seconds"),
    "sec": ("second", "seconds"),
    "mins": ("minute", "minutes"),
    "min": ("minute", "minutes"),
    "hrs": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "h": ("hour", "hours"),
    "yrs": ("year", "years"),
    "yr": ("year", "years"),
    "wks": ("week", "weeks"),
    "wk": ("week", "weeks"),
    # Kitchens and homes: espeak spelled these ("T S P", "S Q F T").
    "tsp": ("teaspoon", "teaspoons"),
    "tbsp": ("tablespoon", "tablespoons"),
    "fl oz": ("fluid ounce", "fluid ounces"),
    "sq ft": ("square foot", "square feet"),
    "sqft": ("square foot", "square feet"),
    "m²": ("square meter", "square meters"),
    "km²": ("square kilometer", "square kilometers"),
    "ft²": ("square foot", "square feet"),
    "cm²": ("square centimeter", "square centimeters"),
    "yds": ("yard", "yards"),
    "yd": ("yard", "yards"),
    "gal": ("gallon", "gallons"),
    "mpg": ("mile per gallon", "miles per gallon"),
    "μg": ("microgram", "micrograms"),
    "µg": ("microgram", "micrograms"),  # the micro sign, not the Greek letter
    "mcg": ("microgram", "micrograms"),
    "kcal": ("kilocalorie", "kilocalories"),
    "mAh": ("milliamp hour", "milliamp hours"),
    "MW": ("megawatt", "megawatts"),
    # Science and electronics in answers ("9.81 m/s²", "200 nm", "12 V"): spelled too.
    "m/s²": ("meter per second squared", "meters per second squared"),
    "m/s": ("meter per second", "meters per second"),
    "km/s": ("kilometer per second", "kilometers per second"),
    "mg/kg": ("milligram per kilogram", "milligrams per kilogram"),
    "nm": ("nanometer", "nanometers"),
    "μm": ("micrometer", "micrometers"),
    "µm": ("micrometer", "micrometers"),
    "μs": ("microsecond", "microseconds"),
    "µs": ("microsecond", "microseconds"),
    "ns": ("nanosecond", "nanoseconds"),
    "s": ("second", "seconds"),
    "V": ("volt", "volts"),
    "mV": ("millivolt", "millivolts"),
    "kV": ("kilovolt", "kilovolts"),
    "W": ("watt", "watts"),
    "mW": ("milliwatt", "milliwatts"),
    "mA": ("milliamp", "milliamps"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
    "dL": ("deciliter", "deciliters"),
    "mmHg": ("millimeter of mercury", "millimeters of mercury"),
}
_UNIT_NAMES = "|".join(re.escape(unit) for unit in sorted(_UNITS, key=len, reverse=True))
# A unit per another, or per a span or a dose: "4 g/day", "5 mL/kg", "100 mg/dL",
# "250mg/5mL" (per five milliliters). Only "mg/kg" and "km/h" were read (helper-96).
_PER_SPANS = {"day": "day", "d": "day", "wk": "week", "week": "week", "hr": "hour"}
_PER_SPANS |= {"h": "hour", "min": "minute", "dose": "dose", "month": "month", "year": "year"}
_PER_NAMES = "|".join(  # longest first, in a fixed order (a set's changes with each run)
    sorted({*_PER_SPANS, *(re.escape(unit) for unit in _UNITS)}, key=lambda n: (-len(n), n))
)
_QUANTITY = re.compile(
    rf"(?<![\w.,])(?P<num>-?(?:{INTEGER})(?:\.\d+)?)\s?(?P<unit>{_UNIT_NAMES})"
    rf"(?:/(?P<per_n>\d+(?:\.\d+)?)?\s?(?P<per>{_PER_NAMES}))?(?![\w/])"
    r"(?:\.(?=[^\S\n]+[a-z]))?"  # "3 tbsp. water": the abbreviation's period goes too
)
# Blood pressure: "120/80 mmHg" is "one hundred twenty over eighty".
_PRESSURE = re.compile(r"(?<![\w/.,])(?P<s>\d{2,3})/(?P<d>\d{2,3})(?=\s?mmHg\b)")
_PERCENT = re.compile(r"\s?%")
# Heights and screens: 5'10" -> "5 foot 10", a 27" monitor -> "27 inch monitor".
_FEET_INCHES = re.compile(r"(?<![\w.,])(?P<ft>\d)\s?['’′]\s?(?P<inch>\d{1,2})\s?[\"”″]")
# Feet alone: "6′", or "6' tall" (an apostrophe is a feet mark only before a measure).
_FEET = re.compile(
    r"(?<![\w.,'‘’])(?P<ft>\d{1,2})\s?(?:′|['’](?=\s+(?:tall|high|long|wide|deep)\b))"
)
_INCHES_BEFORE_NOUN = re.compile(r"(?<![\w.,\"“])(?P<n>\d{1,3}(?:\.\d)?)[\"”″](?=\s+[a-z])")
# "2h 30m": after hours, "m" is minutes, not meters.
_HOURS_MINUTES = re.compile(r"(?<![\w.,])(?P<h>\d+)\s?h\s?(?P<m>\d{1,2})\s?m\b")
# "24h support", "a 30 min call": a span before what it describes is an adjective, said
# in the singular ("twenty-four hour support"). Only before nouns that such a span
# describes and that are not also verbs: "in 24h", "24h later", "in 2h call me" keep
# their plural.
_SPAN_BEFORE_NOUN = re.compile(
    r"(?<![\w.,])(?P<n>\d{1,3})\s?(?P<unit>h|hrs?|mins?)(?=\s+(?:support|service|helpline"
    r"|hotline|access|coverage|care|delivery|shipping|turnaround|response|news|clock|format"
    r"|fasting|shift|window|period|cycle|notice|forecast|session|meeting|flight|journey"
    r"|trip|hike|class|course|workshop|webinar|lecture|nap|workout|layover|commute|timer"
    r"|deadline|trial|pharmacy|store|shop|gym|diner|video|podcast|episode|movie|film)s?\b)"
)
# "a 3 yr warranty", "a 5 yr old", "a 2 wk course": the same, for years and weeks
# written in the singular ("25 yrs old" keeps its plural).
_LONG_SPAN_BEFORE_NOUN = re.compile(
    r"(?<![\w.,])(?P<n>\d{1,3})\s?(?P<unit>yr|wk)(?=[\s-]+(?:old|warranty|guarantee"
    r"|contract|lease|plan|subscription|term|loan|program|programme|course|degree"
    r"|anniversary|period|membership|license|licence|mortgage|bond|note|history)\b)"
)
UNIT_SYMBOLS = frozenset(_UNITS)
"""The units written after a number ("kg", "ms", "GB"): what follows a range, not a
phone number (phone_rules.py)."""
_SPAN_UNITS = {"h": "hour", "hr": "hour", "hrs": "hour", "min": "minute", "mins": "minute"}
_SPAN_UNITS |= {"yr": "year", "yrs": "year", "wk": "week", "wks": "week"}


# Letters that are units only after a space: "1990s", "80s" are decades and ages.
_SPACED_ONLY = frozenset({"s", "V", "W"})


def _quantity(match: re.Match[str]) -> str:
    if match["unit"] in _SPACED_ONLY and not match[0][len(match["num"]) :].startswith(" "):
        return match[0]
    singular, many = _UNITS[match["unit"]]
    said = f"{match['num']} {singular if match['num'].lstrip('-') == '1' else many}"
    if match["per"] is None:
        return said
    if match["per_n"] is not None:  # "per 5 mL"
        per_singular, per_many = _UNITS.get(match["per"], (match["per"], match["per"]))
        return f"{said} per {match['per_n']} {per_singular if match['per_n'] == '1' else per_many}"
    per = _PER_SPANS.get(match["per"]) or _UNITS[match["per"]][0]
    return f"{said} per {per}"


# "100s of people", "10s of thousands": round numbers in the plural, before "of" (else
# "rest 10s" may be seconds); "ran 9.58s": a decimal before "s" is seconds. Both were
# read with a lone "S" (helper-96).
_ROUND_PLURAL = re.compile(r"(?<![\w.,$])(?P<n>10|100|1,?000|10,000|100,000)s(?=\s+of\b)")
_ROUND_PLURALS = {"10": "tens", "100": "hundreds", "1000": "thousands", "1,000": "thousands"}
_ROUND_PLURALS |= {"10,000": "tens of thousands", "100,000": "hundreds of thousands"}
# Not a release's plural: "version 1.5s" (helper-97).
_DECIMAL_SECONDS = re.compile(r"(?<![\w.,])(?<!(?i:version) )(?P<n>\d+\.\d+)s\b")


# A temperature written without its degree sign ("Roast at 220C/200C fan", "it was 72
# F outside"). "14C" is also a seat, a flat or a floor ("Your seat is 14C", "move to
# 22F"; helper-97), so: after a word only a temperature follows (high, around, preheat
# to...), a slash after another temperature, or before a slash or "fan"; after is, was,
# at or to only as two or three digits, a space, and the letter.
_TEMPERATURE = re.compile(
    r"(?:(?P<ctx>\b(?i:reach(?:es|ed)?|hits?|highs?|lows?|around|about|below|above|under"
    r"|over|temperature|temp|(?:pre)?heat(?:\s+the\s+oven)?\s+to|(?:roast|bake|cook)\s+at)\s"
    r"|(?<=[CF])/)(?P<n>-?\d{1,3}(?:\.\d)?)\s?(?P<unit>[CF])"
    r"|(?P<weak>\b(?i:is|was|be|at|to)\s)(?P<n2>\d{2,3}) (?P<unit2>[CF])"
    r"|(?P<ctx3>\b(?i:at|to)\s)(?P<n3>\d{2,3})(?P<unit3>[CF])(?=/\d|\s?fan\b))"
    r"\b(?![-'’&]\w)"
)
_DEGREES = {"C": "°C", "F": "°F"}


def _temperature(match: re.Match[str]) -> str:
    context = match["ctx"] or match["weak"] or match["ctx3"]
    context = " or " if context == "/" else context  # "220C/200C fan"
    number = match["n"] or match["n2"] or match["n3"]
    unit = match["unit"] or match["unit2"] or match["unit3"]
    return f"{context}{number}{_DEGREES[unit]}"


def units_and_percent(text: str) -> str:
    """5 km -> "5 kilometers", 1 kg -> "1 kilogram", 20°C, 50% -> "50 percent".

    Only after a number, so "m" or "g" in words is untouched; runs after money and before
    cardinals (it needs the literal "1" to choose the singular).
    """
    text = _FEET_INCHES.sub(r"\g<ft> foot \g<inch>", text)
    text = _FEET.sub(lambda m: f"{m['ft']} {'foot' if m['ft'] == '1' else 'feet'}", text)
    text = _INCHES_BEFORE_NOUN.sub(r"\g<n> inch", text)
    text = _HOURS_MINUTES.sub(r"\g<h>h \g<m>min", text)
    for span in (_SPAN_BEFORE_NOUN, _LONG_SPAN_BEFORE_NOUN):
        text = span.sub(lambda m: f"{m['n']} {_SPAN_UNITS[m['unit']]}", text)
    text = _TEMPERATURE.sub(_temperature, text)
    text = _PRESSURE.sub(r"\g<s> over \g<d>", text)
    text = _ROUND_PLURAL.sub(lambda m: _ROUND_PLURALS[m["n"]], text)
    text = _DECIMAL_SECONDS.sub(r"\g<n> seconds", text)
    text = _QUANTITY.sub(_quantity, text)
    return _PERCENT.sub(" percent", text)
