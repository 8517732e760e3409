"""Setting the price map replaces it: a backend left out keeps its default price rather
than becoming free, and a negative or unknown entry stops the process at start."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from scaispeak.settings import Settings

PRICES = "SCAISPEAK_ACCOUNTING__PRICES_MICROS_PER_CHAR"


def test_a_backend_left_out_of_the_prices_keeps_its_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PRICES, '{"relay": 40}')
    assert Settings().accounting.prices_micros_per_char == {"selfhosted": 15, "relay": 40}
    monkeypatch.setenv(PRICES, '{"selfhosted": 0}')  # free, on purpose
    assert Settings().accounting.prices_micros_per_char["selfhosted"] == 0


@pytest.mark.parametrize("prices", ['{"selfhosted": -5}', '{"selfhostd": 10}'])
def test_a_negative_or_unknown_price_is_refused(
    monkeypatch: pytest.MonkeyPatch, prices: str
) -> None:
    monkeypatch.setenv(PRICES, prices)
    with pytest.raises(ValidationError):
        Settings()
