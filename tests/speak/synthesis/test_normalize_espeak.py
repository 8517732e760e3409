"""How espeak says what the normaliser writes for model numbers, dates, ratios and money.

The voices read through espeak, so a reading is only right if espeak says it so.
"""

from __future__ import annotations

import pytest

from scaispeak.speak.engines.kokoro_phonemes import espeak_clauses
from scaispeak.speak.synthesis.text import normalize_text


@pytest.mark.parametrize(
    ("written", "said"),
    [
        pytest.param("It flies an A380 today.", "ˈeɪθɹ", id="airbus_letter_not_article"),
        pytest.param("Due Mon 3/4 sharp.", "mˈʌndeɪ mˈɑːɹtʃ fˈɔːɹθ", id="weekday_and_date"),
        pytest.param("Stream 1080p now.", "tˈɛn ˈeɪɾi pˈiː", id="video_lines"),
        pytest.param("Pay with a $5 bill.", "dˈɑːlɚ bˈɪl", id="money_adjective_singular"),
        pytest.param("A 16:9 screen.", "sˈɪkstiːn tə nˈaɪn", id="ratio_not_colon"),
        pytest.param("An RTX 4090 card.", "fˈɔːɹɾi nˈaɪnti", id="model_number"),
        pytest.param("At 60fps it runs.", "ˌɛfpˌiː", id="frame_rate_letters"),
        pytest.param("Print on A4 paper.", "ˈeɪfˈɔːɹ", id="paper_size_letter"),
        pytest.param("Vitamin A deficiency.", "vˈaɪɾəmɪn ˈeɪ", id="letter_a_named_thing"),
        pytest.param("Is it A or B?", "ˈeɪ ɔːɹ", id="letter_a_in_pair"),
        pytest.param("The F-150 truck.", "wˈʌn fˈɪfti", id="letters_dash_model"),
    ],
)
def test_reading_is_said_by_espeak(written: str, said: str) -> None:
    # A lone "A" is the article ("uh"), "Mon" is "mahn", a colon between digits is
    # "colon" and "fps" could have been a word: each is checked as espeak says it.
    phonemes = "".join(espeak_clauses(normalize_text(written)))
    assert said in phonemes, phonemes
