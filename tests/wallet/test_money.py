from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet.money import MAX_MINOR, MINOR_UNITS, AmountError, check_currency, format_amount, parse_amount


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12.50", "USD", 1250),
        ("12.5", "USD", 1250),
        ("12", "USD", 1200),
        ("0.01", "USD", 1),
        ("1000", "JPY", 1000),
        ("1.234", "KWD", 1234),
    ],
)
def test_parse(text, currency, minor):
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        (12.5, "USD"),
        ("1.001", "USD"),
        ("1.5", "JPY"),
        ("-1.00", "USD"),
        ("0", "USD"),
        ("0.00", "USD"),
        ("01.00", "USD"),
        ("1e3", "USD"),
        (" 1", "USD"),
        ("1,00", "USD"),
        ("NaN", "USD"),
        (str(MAX_MINOR), "JPY"),
    ],
)
def test_parse_refuses(text, currency):
    with pytest.raises(AmountError):
        parse_amount(text, currency)


def test_currency():
    assert check_currency("EUR") == "EUR"
    for bad in ("usd", "XXX", 840, None):
        with pytest.raises(AmountError):
            check_currency(bad)


@given(st.integers(min_value=1, max_value=MAX_MINOR - 1), st.sampled_from(sorted(MINOR_UNITS)))
def test_format_parse_round_trip(minor, currency):
    text = format_amount(minor, currency)
    assert parse_amount(text, currency) == minor
    assert Decimal(text).as_tuple().exponent == -MINOR_UNITS[currency]


def test_format_zero():
    assert format_amount(0, "USD") == "0.00"
    assert format_amount(0, "JPY") == "0"
    assert format_amount(-150, "USD") == "-1.50"
