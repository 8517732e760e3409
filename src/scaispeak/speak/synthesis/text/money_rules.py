"""Amounts of money: "$42.50", "€3.5m", "20 €", "CA$5", "USD 5", "a $5 bill", "2 x $5.99".

Runs after ranges ("$5-10") and negatives ("-$5"), and before units, percentages and
plain numbers, which would split "$3.5 million" (``normalize.py``).
"""

from __future__ import annotations

import re

from scaispeak.speak.synthesis.text import verbalize as say
from scaispeak.speak.synthesis.text.numeric_rules import DOLLAR_COUNTRY, INTEGER, SCALES
from scaispeak.speak.synthesis.text.verbalize import CURRENCY_SIGNS

# The dollars of other countries, as written before the "$": "CA$5", "A$5", "HK$5".
_DOLLAR_COUNTRIES = {
    "CA": "Canadian",
    "C": "Canadian",
    "AU": "Australian",
    "A": "Australian",
    "NZ": "New Zealand",
    "HK": "Hong Kong",
    "SG": "Singapore",
    "S": "Singapore",
    "NT": "New Taiwan",
}
_DOLLAR_COUNTRIES |= {f"{code}D": name for code, name in _DOLLAR_COUNTRIES.items() if code[1:]}
# "R$5" is Brazil's real and "MX$5" Mexico's peso. A symbol glued to any other letters
# is not an amount of its own: "XYZ$5" was "XYZfive dollars".
_SYMBOL = (
    rf"(?:(?<![\w$])(?P<country>{DOLLAR_COUNTRY})(?=\$)|(?<![\w$])(?P<other>R|MX)(?=\$)"
    rf"|(?<![A-Za-z]))(?P<sym>[{CURRENCY_SIGNS}])"
)
# "$5 dollars", "₽500 rubles": a currency's name written after the amount as well is
# said once, not "five hundred rubles rubles" (helper-97).
_SIGNS = [*CURRENCY_SIGNS, "R$", "MX$"]
_NAMES = {name.split()[-1] for sign in _SIGNS for name in say.currency_names(sign)}
_NAME = "|".join(sorted(_NAMES, key=lambda name: (-len(name), name)))
_MONEY = re.compile(
    rf"{_SYMBOL}\s?(?P<int>{INTEGER})(?:\.(?P<frac>\d+))?"
    r"(?:\s(?P<scale>thousand|million|billion|trillion|crores?|lakhs?)\b"
    r"|(?P<abbr>[kKmMbB]|mn|bn|tn|T(?![-\s]?[Ss]hirt))\b"  # not "$5T-shirt"
    r"|\s(?P<spaced>[MB]|bn|mn)\b(?![&'’-]))?"  # "$1.5 M", "$2 bn"; not "$5 M&Ms"
    rf"(?:\s(?P<named>(?i:{_NAME}))\b)?"
)
_SIGNS_WRITTEN_AFTER = CURRENCY_SIGNS.replace("$", "")  # "20 €", never "20 $"
_MONEY_AFTER = re.compile(
    rf"(?<![\w.,])(?P<int>{INTEGER})(?:\.(?P<frac>\d+))?\s?(?P<sym>[{_SIGNS_WRITTEN_AFTER}])"
)


# "a $5 bill", "an $8 million deal", "a $10-an-hour job": after "a" and before the thing
# it prices, an amount is an adjective, said in the singular. Not before a word that goes
# on with the price ("a $5 a month plan", "a $5 or $10 tip") or a pronoun.
_ARTICLE_BEFORE = re.compile(r"(?<![\w'’])(?i:a|an)\s$")
_PRICED_THING_AFTER = re.compile(
    r"-[a-z]|\s(?!(?i:a|an|the|per|each|and|or|to|in|for|of|from|at|on|with|by|than|plus"
    r"|minus|is|was|I)\b)[A-Za-z]"
)


def _prices_a_thing(match: re.Match[str]) -> bool:
    article = _ARTICLE_BEFORE.search(match.string, max(0, match.start() - 4), match.start())
    return article is not None and _PRICED_THING_AFTER.match(match.string, match.end()) is not None


def _money(match: re.Match[str]) -> str:
    groups = match.groupdict()
    abbreviation = groups.get("abbr") or groups.get("spaced") or ""
    # "₹3 crores" is said "three crore rupees", as "three million dollars" is.
    scale = (groups.get("scale") or SCALES.get(abbreviation.lower(), "")).removesuffix("s")
    integer = groups.get("int") or "0"  # "$.50"
    symbol = (groups.get("other") or "") + match["sym"]
    named = _written_name(groups.get("named"), symbol)
    # The singular after a larger amount is an adjective: "£5 pound coin", "a $5 dollar
    # bill" are "a five-pound coin", "a five-dollar bill" (helper-101).
    adjective = _prices_a_thing(match) or (
        named == "singular"
        and not _is_one(integer, match)
        and _PRICED_THING_AFTER.match(match.string, match.end()) is not None
    )
    country = _DOLLAR_COUNTRIES.get(groups.get("country") or "", "")
    spoken = say.money(
        symbol, integer, match["frac"] or "", scale, adjective=adjective, country=country
    )
    if named == "other":
        spoken += f" {groups['named']}"  # "$5 euros": not ours to correct
    if match.string[match.end() : match.end() + 1].isalpha():
        spoken += " "  # "$5T shirt" was "five dollarsT shirt" (helper-97)
    return spoken


def _written_name(named: str | None, symbol: str) -> str:
    """Whether the currency's name written after the amount ("$5 dollars") is its
    "singular", its "plural", "other" (another currency's) or "" (none)."""
    if not named:
        return ""
    singular, plural = (name.split()[-1] for name in say.currency_names(symbol))
    if named.lower() == plural:
        return "plural"
    return "singular" if named.lower() == singular else "other"


def _is_one(integer: str, match: re.Match[str]) -> bool:
    return integer.replace(",", "") == "1" and not (match["frac"] or "").strip("0")


_COUNTRY_BEFORE_DOLLAR = re.compile(r"\b(?:US|USD)\s?(?=\$\d)")
# ISO codes (and "Rs.") written for the symbol: "USD 5.99", "EUR 12,50", "Rs. 500",
# "50 GBP". The other dollars' codes (CAD, AUD...) are left as written.
_CODE_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "Rs": "₹"}
_CODE_BEFORE = re.compile(r"(?<![\w$])(?P<code>USD|EUR|GBP|JPY|INR|Rs)\.?\s?(?=\d)")
_CODE_AFTER = re.compile(
    rf"(?<![\w.,{CURRENCY_SIGNS}])(?P<amount>(?:{INTEGER})(?:[.,]\d+)?)\s?(?P<code>USD|EUR|GBP|JPY|INR)\b"
)
# Euros as most of Europe writes them, with a decimal comma: "€12,50", "1,5 €".
_EURO_DECIMAL_COMMA = re.compile(
    r"(?P<before>€\s?)(?P<int>\d+),(?P<frac>\d{1,2})(?![\d,])"
    r"|(?<![\w.,])(?P<int2>\d+),(?P<frac2>\d{1,2})(?=\s?€)"
)
# ...and with a thousands dot: "1.234,56 €", "€1.000". A dot before three digits is also
# how a fuel price or an exchange rate is written ("€1.899 per litre", "€0.925"), so it
# groups thousands only before a decimal comma, or in a round thousand.
_EURO_THOUSANDS_DOT = re.compile(
    r"(?P<before>€\s?)(?P<int>[1-9]\d{0,2})\.(?P<thousands>\d{3})(?:,(?P<frac>\d{1,2}))?(?![\d.,])"
    r"|(?<![\w.,])(?P<int2>[1-9]\d{0,2})\.(?P<thousands2>\d{3})(?:,(?P<frac2>\d{1,2}))?(?=\s?€)"
)
_AN_AMOUNT_NEXT = rf"(?=(?:(?:{DOLLAR_COUNTRY})(?=\$))?[{CURRENCY_SIGNS}]\.?\d)"
_ABOUT_MONEY = re.compile(rf"~\s?{_AN_AMOUNT_NEXT}")
# "Qty 2 x $5.99": a count times a price. The symbols rule reads "2 x 3" as "times" but
# only between digits, and by then the price is words.
_TIMES_AN_AMOUNT = re.compile(rf"(?<=\d)\s?[xX×*]\s?{_AN_AMOUNT_NEXT}")
_CENTS_ONLY = re.compile(rf"{_SYMBOL}\.(?P<frac>\d\d)\b(?![.,]\d)")


def _thousands_comma(match: re.Match[str]) -> str:
    if match["int"] is not None:
        before, integer, thousands, frac = (
            match["before"],
            match["int"],
            match["thousands"],
            match["frac"],
        )
    else:
        before, integer, thousands, frac = "", match["int2"], match["thousands2"], match["frac2"]
    if not frac and thousands != "000":
        return match[0]  # "€1.899 per litre": a price to the tenth of a cent
    return f"{before}{integer},{thousands}" + (f".{frac}" if frac else "")


def _decimal_point(match: re.Match[str]) -> str:
    if match["int"] is not None:
        return f"{match['before']}{match['int']}.{match['frac']}"
    return f"{match['int2']}.{match['frac2']}"


def money(text: str) -> str:
    """$42.50 -> "forty-two dollars and fifty cents", $1 -> "one dollar", €3.5m, 20 €, $.50.

    "a $5 bill" -> "a five-dollar bill", CA$5 -> "five Canadian dollars". Runs before
    units, percentages and plain numbers, which would split "$3.5 million".
    """
    text = _COUNTRY_BEFORE_DOLLAR.sub("", text)  # "US$20": the dollar is read as such
    # The code after an amount first: "20 USD 3 times" is not "20 three dollars".
    text = _CODE_AFTER.sub(lambda m: _CODE_SYMBOLS[m["code"]] + m["amount"], text)
    text = _CODE_BEFORE.sub(lambda m: _CODE_SYMBOLS[m["code"]], text)
    text = _EURO_THOUSANDS_DOT.sub(_thousands_comma, text)
    text = _EURO_DECIMAL_COMMA.sub(_decimal_point, text)
    text = _ABOUT_MONEY.sub("about ", text)
    text = _TIMES_AN_AMOUNT.sub(" times ", text)
    text = _CENTS_ONLY.sub(_money, text)
    text = _MONEY.sub(_money, text)
    return _MONEY_AFTER.sub(_money, text)
