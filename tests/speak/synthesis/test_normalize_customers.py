"""Customer texts a listener heard read wrongly: an amount, a dose, a number changed
(helper-96, who put realistic texts through normalisation and Whisper)."""

from __future__ import annotations

import pytest

from scaispeak.speak.synthesis.text import IncrementalSegmenter, normalize_text, split_segments


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A fraction sign after a word kept the space meant for a whole number: "Take1/2".
        ("Take ½ tablet twice daily.", "Take one half tablet twice daily."),
        ("Add ¼ cup milk", "Add one quarter cup milk"),
        ("Use ⅓ of it", "Use one third of it"),
        ("2 ½ cups", "two and a half cups"),
    ],
)
def test_a_fraction_sign_after_a_word_is_a_fraction(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Assets of $1.2T", "Assets of one point two trillion dollars"),
        ("a T-shirt for $5", "a T-shirt for five dollars"),
        ("₹2.5 crore", "two point five crore rupees"),
        ("₹50 lakh", "fifty lakh rupees"),
        ("₹3 crores", "three crore rupees"),
        # espeak says nothing for these signs (heard "Prices from 500 and 350").
        (
            "Prices from ₱500 and ฿350.",
            "Prices from five hundred pesos and three hundred fifty baht.",
        ),
        ("₽99.50", "ninety-nine rubles and fifty kopeks"),
        ("₩10,000", "ten thousand won"),
        ("a ₪20 note", "a twenty-shekel note"),
        (
            "Net loss was $(1,234).",
            "Net loss was minus one thousand two hundred thirty-four dollars.",
        ),
        ("The Nasdaq fell –1.2% today.", "The Nasdaq fell minus one point two percent today."),
    ],
)
def test_amounts_keep_their_scale_currency_and_sign(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("In an emergency, call 999.", "In an emergency, call nine nine nine."),
        ("call 112 now", "call one one two now"),
        ("call 112 customers", "call one hundred twelve customers"),
        ("400 W. 59th St.", "four hundred West fifty-ninth Street."),
        ("123 N Main St, Springfield", "one twenty-three North Main Street, Springfield"),
        ("a 400 W amplifier", "a four hundred watts amplifier"),
        ("my 2nd Dr appointment", "my second Dr appointment"),
    ],
)
def test_emergency_numbers_and_street_directions(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Lakers won 110 - 98.", "The Lakers won one hundred ten to ninety-eight."),
        ("Arsenal 2 - 1 Chelsea", "Arsenal two to one Chelsea"),
        ("10 - 5 = 5", "ten minus five equals five"),
        # Without "=", a spaced dash is still a minus (helper-97): a score needs a word
        # that gives one, or names on both sides.
        ("What is 12 - 7?", "What is twelve minus seven?"),
        ("10 - 5 is 5.", "ten minus five is five."),
        ("Score: 3 - 3", "Score: three to three"),
        ("2 + 3 - 1", "two plus three minus one"),
        ("x - 3", "x minus three"),
        (
            "WASHINGTON (Reuters) - U.S. prices rose",
            "WASHINGTON (Reuters) - U S prices rose",
        ),
    ],
)
def test_a_spaced_dash_is_a_minus_except_in_a_score(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Your verification code is 482 913.",
            "Your verification code is four eight two, nine one three.",
        ),
        (
            "account number is 4001 2345 6789",
            "account number is four zero zero one, two three four five, six seven eight nine",
        ),
        (
            "pay with 4111 1111 1111 1111 today",
            "pay with four one one one, one one one one, one one one one, one one one one today",
        ),
        ("card 5 of 7", "card five of seven"),
        ("order #1234 100 units", "order number one two three four one hundred units"),
        ("order 12345 shipped", "order one two three four five shipped"),
    ],
)
def test_digits_grouped_by_spaces_in_a_code_or_card_are_read_digit_by_digit(
    text: str, expected: str
) -> None:
    assert normalize_text(text) == expected


def test_four_years_in_a_row_are_not_a_card_number() -> None:
    assert "one one" not in normalize_text("in 2019 2020 2021 2022")
    assert "nineteen" in normalize_text("in 2019 2020 2021 2022")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Add 3-4 tbsp. water and 8 oz. cream cheese.",
            "Add three to four tablespoons water and eight ounces cream cheese.",
        ),
        ("He is 6 ft. tall", "He is six feet tall"),
        ("It costs 5 lb. The next", "It costs five pounds. The next"),
    ],
)
def test_a_units_abbreviation_period_before_a_lowercase_word_is_not_a_full_stop(
    text: str, expected: str
) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Add 3-4 tbsp. water and then 8 oz. cream cheese.",
        "Bake 25-30 min. or until golden.",
        "Smith et al. found it first.",
        "Seen in Jan. and again in Feb. of that year.",
    ],
)
def test_an_abbreviation_before_a_lowercase_word_does_not_end_the_sentence(text: str) -> None:
    """Each was cut in two after the abbreviation: "tablespoons. | water" (helper-96)."""
    assert [s.text for s in split_segments(text)] == [text]
    segmenter = IncrementalSegmenter()
    pieces = [text[i : i + 4] for i in range(0, len(text), 4)]
    streamed = [s.text for piece in pieces for s in segmenter.feed(piece)] + [
        s.text for s in segmenter.flush()
    ]
    assert streamed == [text]


def test_an_abbreviation_before_a_capital_still_ends_a_sentence() -> None:
    assert len(split_segments("The bag weighs 5 lb. The box weighs more than that.")) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Brown v. Board of Education (1954)",
            "Brown versus Board of Education (nineteen fifty-four)",
        ),
        ("c. 1850", "circa eighteen fifty"),
        ("Published 2019. Revised 2021.", "Published twenty nineteen. Revised twenty twenty-one."),
        ("the total (1500 units)", "the total (one thousand five hundred units)"),
        ("There were 100s of people", "There were hundreds of people"),
        ("10s of thousands", "tens of thousands"),
        ("ran the 100m in 9.58s", "ran the one hundred meters in nine point five eight seconds"),
    ],
)
def test_years_in_brackets_round_plurals_and_seconds(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the 2015/16 campaign", "the twenty fifteen to twenty sixteen campaign"),
        ("2020/25", "two thousand twenty/twenty-five"),
        ("Call (03) 9123 4567.", "Call zero three, nine one two three, four five six seven."),
        (
            "Call us on 1300 123 456.",
            "Call us on one three zero zero, one two three, four five six.",
        ),
        (
            "Roast at 220C/200C fan",
            "Roast at two hundred twenty degrees Celsius or two hundred degrees Celsius fan",
        ),
        ("It is 72 F outside", "It is seventy-two degrees Fahrenheit outside"),
        ("seat 12C", "seat twelve C"),
        ("a grade of 5 C in maths", "a grade of five C in maths"),
    ],
)
def test_seasons_australian_phones_and_temperatures_without_a_degree_sign(
    text: str, expected: str
) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("**Benefits**\nIt is fast.", "Benefits. It is fast."),
        (
            "Name: John Smith\nPhone: 555-0100",
            "Name: John Smith. Phone: five five five, zero one zero zero",
        ),
        ("Thanks for writing about\nthe order.", "Thanks for writing about the order."),
    ],
)
def test_a_bold_line_or_a_label_line_ends_its_sentence(text: str, expected: str) -> None:
    """Both ran on into the next line ("Benefits It is fast.", helper-96): a segment's
    line breaks were collapsed before normalisation saw them."""
    assert " ".join(normalize_text(s.text) for s in split_segments(text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Take 4 g/day.", "Take four grams per day."),
        ("250mg/5mL", "two hundred fifty milligrams per five milliliters"),
        ("5 mL/kg", "five milliliters per kilogram"),
        ("100 mg/dL", "one hundred milligrams per deciliter"),
        ("120/80 mmHg", "one hundred twenty over eighty millimeters of mercury"),
        ("60 km/h", "sixty kilometers per hour"),
    ],
)
def test_doses_and_rates_are_read_per_unit(text: str, expected: str) -> None:
    """A dose's units around a slash were left as written ("four g per day", "mg/five
    milliliters"): espeak says "gee" and "slash" (helper-96)."""
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("unchanged from Oct.", "unchanged from October."),
        ("in Jan. and Feb. of that year", "in January and February of that year"),
        ("I met Jan.", "I met Jan."),
        ("Open Mon 9-5", "Open Monday nine to five"),
        ("Sat 10-4", "Saturday ten to four"),
        ("Tue., June 4", "Tuesday, June fourth"),
        ("Sun in June", "Sun in June"),
    ],
)
def test_month_and_weekday_abbreviations_without_a_date(text: str, expected: str) -> None:
    """espeak said "ocked" for "Oct.", and "Sat 10-4" was "sat ten-four" (helper-96)."""
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Price drop from $99 ➡️ $49!",
            "Price drop from ninety-nine dollars to forty-nine dollars!",
        ),
        ("x → y", "x to y"),
        ("Click ➡️", "Click"),
        ("Copyright © 2024", "copyright twenty twenty-four"),
        ("§§ 2.1", "sections two point one"),
        ("Ratings 5/5 would buy again!", "Ratings five out of five would buy again!"),
    ],
)
def test_arrows_section_signs_copyright_and_ratings(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Seats, flats and floors are not temperatures.
        ("Your seat is 14C.", "Your seat is fourteen C."),
        ("Please move to 22F.", "Please move to twenty-two F."),
        ("Preheat the oven to 180C.", "Preheat the oven to one hundred eighty degrees Celsius."),
        # An option letter is not circa; a gift card's amount is an amount.
        ("Vitamin C. 1200 mg daily.", "Vitamin C. one thousand two hundred milligrams daily."),
        ("Gift card: 500 dollars", "Gift card: five hundred dollars"),
        (
            "We sold 1000 2000 3000 4000 units",
            "We sold one thousand two thousand three thousand four thousand units",
        ),
        ("updated 1905 records", "updated one thousand nine hundred five records"),
        ("I had to call 101 people.", "I had to call one hundred one people."),
        ("The Sun May Rise Again", "The Sun May Rise Again"),
        # espeak reads these capitals in their small form; they were dropped.
        ("Əliyev won in Baku.", "əliyev won in Baku."),
        ("ℹ️ Info", "ℹ Info"),
    ],
)
def test_what_the_first_versions_of_these_rules_misread(text: str, expected: str) -> None:
    """False positives of this session's rules, found by review (helper-97)."""
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    "text", ['Please come in. "Thanks," she said.', "Please log in. 2FA is required."]
)
def test_a_units_period_before_a_quote_or_digit_still_ends_the_sentence(text: str) -> None:
    assert len(split_segments(text)) == 2


def test_a_t_shirts_price_is_no_trillion() -> None:
    """ "$5T shirt" was "five trillion dollars shirt" (helper-97)."""
    assert "trillion" not in normalize_text("a $5T shirt")
    assert "dollarsT" not in normalize_text("a $5T shirt")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It costs ₽500 rubles.", "It costs five hundred rubles."),
        ("It was $5 dollars.", "It was five dollars."),
        ("That's €10 Euros.", "That's ten euros."),
        ("A $5 dollar bill.", "A five-dollar bill."),
        ("CA$5 dollars", "five Canadian dollars"),
        ("$3 million dollars", "three million dollars"),
        ("$5 euros", "five dollars euros"),  # not ours to correct
    ],
)
def test_a_currencys_name_written_after_its_amount_is_said_once(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Liverpool won 3-2.", "Liverpool won three to two."),
        ("It passed 52-48 in the Senate.", "It passed fifty-two to forty-eight in the Senate."),
        ("Hours: M-F 9-6", "Hours: Monday to Friday nine to six"),
        ("Open M–F.", "Open Monday to Friday."),
        ("the M-F ratio", "the M-F ratio"),
        ("10-5", "ten-five"),
    ],
)
def test_falling_pairs_after_a_score_word_and_weekday_letters(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("See p. 5 and pp. 10-12.", "See page five and pages ten to twelve."),
        ("(10 - 5) * 2 = 10", "(ten minus five) times two equals ten"),
        ("2 * (3 + 4)", "two times (three plus four)"),
        ("(see note) *important*", "(see note) important"),
        ("Super Bowl LVIII was great.", "Super Bowl fifty-eight was great."),
        ("Chapter XLII begins.", "Chapter forty-two begins."),
        ("Psalm CXIX", "Psalm one hundred nineteen"),
        ("Part CD is here.", "Part CD is here."),
        ("Size XL shirts", "Size XL shirts"),
        ("a 60/40 portfolio", "a sixty forty portfolio"),
        ("a 60/50 split", "a sixty/fifty split"),
        ("Sales rose 5% y/y", "Sales rose five percent year over year"),
        (
            "up 3% YoY, down 2% m/m",
            "up three percent year over year, down two percent month over month",
        ),
        ("I/O errors", "I/O errors"),
        # An arrow that points is dropped; one between two things is still "to".
        ("Click ➡️ now.", "Click now."),
        ("Details → here", "Details here"),
        ("Paris → London", "Paris to London"),
        # "Jan." is January only after a word that goes before a time: else a name.
        ("I met Jan. and Bob.", "I met Jan. and Bob."),
        ("in Jan. and Feb.", "in January and February."),
        ("mid-Jan. or so", "mid-January or so"),
        # A house number before a street, in pairs.
        ("I live at 1600 Pennsylvania Ave.", "I live at sixteen hundred Pennsylvania Avenue."),
        ("Meet at 405 Main St.", "Meet at four oh five Main Street."),
        ("400 W. 59th St.", "four hundred West fifty-ninth Street."),
        ("350 5th Ave", "three fifty fifth Avenue"),
    ],
)
def test_pages_products_numerals_past_thirty_nine_shares_and_growth(
    text: str, expected: str
) -> None:
    """What helper-96 left for later: each was read with its symbols or letter by letter."""
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The bill passed on 12-10", "The bill passed on twelve-ten"),
        ("final exam is in room 12-3", "final exam is in room twelve-three"),
        ("The vote was 218-214.", "The vote was two hundred eighteen to two hundred fourteen."),
        ("Revenue (2023)* 15% growth", "Revenue (twenty twenty-three) fifteen percent growth"),
        ("(1+2)*3", "(one plus two) times three"),
        ("2 * 3 = 6", "two times three equals six"),
        ("Book MIX tapes", "Book MIX tapes"),
        ("Volume DIV", "Volume DIV"),
        ("£5 pound coin", "five-pound coin"),
        ("a $3 dollar store", "a three-dollar store"),
        ("$1 dollar", "one dollar"),
        ("¥500 yen coin", "five hundred yen coin"),
        ("M-F 52%", "M-F fifty-two percent"),
        ("Use version 1.5s today.", "Use version one point fives today."),
        # ...and what the second review found in the narrowed versions (helper-102).
        ("It costs $10 dollar per month.", "It costs ten dollars per month."),
        ("That's £3 pound.", "That's three pounds."),
        ("x = (a+b) * 2", "x equals (a plus b) times two"),
        ("beat the Heat 110-98", "beat the Heat one hundred ten to ninety-eight"),
        ("The final score: 3-1", "The final score: three to one"),
        ("Sales for Jan. rose", "Sales for January rose"),
        ("Bob and Jan. went home", "Bob and Jan. went home"),
        ("2019 → now", "two thousand nineteen to now"),
        ("Over 250 Elm Street residents", "Over two hundred fifty Elm Street residents"),
        ("ran 9.58s", "ran nine point five eight seconds"),
    ],
)
def test_what_the_first_versions_of_todays_rules_misread(text: str, expected: str) -> None:
    """False positives of this session's rules, found by review (helper-101)."""
    assert normalize_text(text) == expected
