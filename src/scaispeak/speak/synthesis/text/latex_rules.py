"""Mathematics written in LaTeX, as chat models answer it: "$x^2$", "$$\\frac{a}{b}$$",
"\\(\\alpha \\geq \\beta\\)". espeak read the markup itself ("dollar backslash frac...").

The delimiters go and the commands become words; what is left (digits, ``^``, ``=``, a
minus) is read by the later rules of ``normalize.py``, as any other text. A ``$`` pair
is mathematics only where it cannot be money: the first ``$`` is followed by no digit
and no space, the closing one by no digit ("$5 and $10" stays money).
"""

from __future__ import annotations

import re

# Each body stops at the next opening delimiter: a text of many "\[" with no "\]" was
# scanned 2,000 characters from each (seconds, holding the interpreter).
_DISPLAY = re.compile(
    r"\$\$(?P<math>[^$]{1,2000}?)\$\$|\\\[(?P<bracketed>(?:(?!\\\[)[^\0]){1,2000}?)\\\]"
)
_INLINE = re.compile(
    r"\\\((?P<paren>(?:(?!\\\()[^\n]){1,500}?)\\\)"
    r"|(?<![\w$])\$(?P<math>[^\s$\d][^$\n]{0,500}?(?<=\S))\$(?!\d)"
)
_GREEK = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "pi",
    "varpi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
]
_WORDS = {
    "pm": " plus or minus ",
    "mp": " minus or plus ",
    "times": " times ",
    "cdot": " times ",
    "div": " divided by ",
    "leq": " less than or equal to ",
    "le": " less than or equal to ",
    "geq": " greater than or equal to ",
    "ge": " greater than or equal to ",
    "neq": " not equal to ",
    "ne": " not equal to ",
    "approx": " approximately ",
    "infty": " infinity ",
    "sum": " the sum of ",
    "prod": " the product of ",
    "int": " the integral of ",
    "partial": " partial ",
    "to": " to ",
    "rightarrow": " to ",
    "in": " in ",
    "ldots": " and so on ",
    "cdots": " and so on ",
} | {name: f" {name.removeprefix('var')} " for name in _GREEK}
_FRACTION = re.compile(r"\\[dt]?frac\s*\{(?P<num>[^{}]*)\}\s*\{(?P<den>[^{}]*)\}")
_ROOT = re.compile(r"\\sqrt\s*\{(?P<body>[^{}]*)\}")
_TEXT = re.compile(r"\\(?:text|mathrm|mathbf|mathit|operatorname)\s*\{(?P<body>[^{}]*)\}")
_BOUNDED = re.compile(r"\\(?P<op>sum|prod|int)_\{?(?P<low>[^{}\s]*)\}?\^\{?(?P<high>[^{}\s]*)\}?")
_BOUNDED_NAMES = {"sum": "the sum", "prod": "the product", "int": "the integral"}
_MINUS_BEFORE_A_NAME = re.compile(r"(?<![\w)])-(?=\s*[A-Za-z\\])")
_SUBSCRIPT = re.compile(r"_\{?(?P<sub>\w{1,6})\}?")
_POWER_BRACES = re.compile(r"\^\{(?P<power>[^{}]*)\}")
_COMMAND = re.compile(r"\\(?P<name>[A-Za-z]+)|\\[,;:! ]")
_SPACING = re.compile(r"\\(?:left|right|displaystyle|quad|qquad)\b")


def _command(match: re.Match[str]) -> str:
    name = match["name"]
    if name is None:
        return " "  # \, \; spacing
    return _WORDS.get(name, f" {name} ")


def _spoken_math(math: str) -> str:
    """The words of one formula: commands named, braces gone, powers as ``^`` for the
    exponent rule ("x^{2}" -> "x^2")."""
    math = _SPACING.sub(" ", math)
    math = _BOUNDED.sub(
        lambda m: f" {_BOUNDED_NAMES[m['op']]} from {m['low']} to {m['high']} of ", math
    )
    math = _MINUS_BEFORE_A_NAME.sub(" minus ", math)
    for _ in range(3):  # nested fractions and roots, innermost first
        math = _TEXT.sub(lambda m: f" {m['body']} ", math)
        math = _FRACTION.sub(lambda m: f" {m['num']} over {m['den']} ", math)
        math = _ROOT.sub(lambda m: f" the square root of {m['body']} ", math)
    math = _POWER_BRACES.sub(lambda m: "^" + m["power"].replace(" ", ""), math)
    math = _SUBSCRIPT.sub(lambda m: f" sub {m['sub']} ", math)
    math = _COMMAND.sub(_command, math)
    return " " + " ".join(math.replace("{", " ").replace("}", " ").split()) + " "


def latex(text: str) -> str:
    """ "$$x = \\frac{-b \\pm \\sqrt{D}}{2a}$$" -> "x = -b plus or minus the square root of
    D over 2a"; "$\\alpha \\geq \\beta$" -> "alpha greater than or equal to beta"."""
    if "$" not in text and "\\" not in text:
        return text
    text = _DISPLAY.sub(lambda m: _spoken_math(m["math"] or m["bracketed"]), text)
    return _INLINE.sub(lambda m: _spoken_math(m["math"] or m["paren"]), text)
