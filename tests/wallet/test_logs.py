"""No PAN or secret reaches a log, whatever the request did."""

import io
import logging

from tests.wallet.conftest import AMEX, MASTERCARD, VISA, api_for, rt
from wallet.cards import contains_pan
from wallet.logs import JsonFormatter, RedactPans, configure, event


def test_logs_never_hold_a_pan(app, caplog):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    caplog.set_level(logging.DEBUG)
    try:
        api = api_for(app)
        wallet = api.wallet()
        card = api.card(VISA)
        assert (
            api.post(
                "/v1/cards", {"pan": VISA, "expiry_month": 1, "expiry_year": 2099, "holder": "x"}
            ).status_code
            == 409
        )
        api.card(MASTERCARD)
        api.post(
            "/v1/cards", {"pan": "4111111111111112", "expiry_month": 1, "expiry_year": 2099, "holder": "x"}
        )
        api.post(
            "/v1/cards", {"pan": AMEX, "expiry_month": 1, "expiry_year": 2099, "holder": "x", "cvv": "123"}
        )
        api.post("/v1/cards", {"pan": AMEX, "expiry_month": 13, "expiry_year": 2099, "holder": "x"})
        api.topup(wallet["id"], "3.00", card["id"])
        api.client.get(f"/v1/wallets/{VISA}", headers=api.headers())
        api.client.get(f"/v1/nowhere/{AMEX}")
        logging.getLogger("wallet").warning("caller supplied %s", MASTERCARD)  # code that forgot the rule
    finally:
        root.removeHandler(handler)
    captured = stream.getvalue() + "\n".join(r.getMessage() for r in caplog.records)
    assert "request" in captured and len(caplog.records) > 5
    assert not contains_pan(captured)
    assert api.creds.client_secret not in captured and api.token not in captured


def test_formatter_and_filter():
    record = logging.LogRecord("wallet", logging.ERROR, __file__, 1, "pan %s", (VISA,), None)
    assert RedactPans().filter(record) and VISA not in record.getMessage()
    try:
        raise ValueError(f"boom {AMEX}")
    except ValueError as exc:
        failing = logging.LogRecord(
            "wallet", logging.ERROR, __file__, 1, "failed", (), (ValueError, exc, None)
        )
    line = JsonFormatter().format(failing)
    assert '"error": "ValueError"' in line and AMEX not in line


def test_configure_is_idempotent(app):
    logger = configure(rt(app).config.log_level)
    handlers, filters = len(logger.handlers), len(logger.filters)
    configure()
    assert (len(logger.handlers), len(logger.filters)) == (handlers, filters)
    event("test-event", answer=42)
