"""Money movements: top-ups from a stored card and transfers between wallets."""

from __future__ import annotations

import re

from flask import Blueprint, Response, g, jsonify, request

from wallet import ledger
from wallet.api import views
from wallet.api.wallets import customer_wallet
from wallet.app import requires, runtime
from wallet.cards import has_card_number, reveal_pan
from wallet.models import Card
from wallet.money import AmountError, check_currency, parse_amount
from wallet.problems import ApiError, not_found
from wallet.validation import invalid, json_body

bp = Blueprint("payments", __name__, url_prefix="/v1")
_KEY = re.compile(r"[A-Za-z0-9_.:-]{8,100}", re.ASCII)


def idempotency_key(required: bool) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None and not required:
        return None
    if key is None or not _KEY.fullmatch(key):
        raise ApiError(
            400, "Bad request", "an Idempotency-Key header of 8 to 100 characters [A-Za-z0-9_.:-] is required"
        )
    if has_card_number(key):
        raise ApiError(400, "Bad request", "the Idempotency-Key must not contain a card number")
    return key


def amount_of(body: dict[str, object], currency: str) -> int:
    try:
        return parse_amount(body["amount"], currency)
    except AmountError as exc:
        raise invalid(str(exc), fields=["amount"]) from None


def created(body: dict[str, object], replayed: bool) -> tuple[Response, int]:
    response = jsonify(body)
    response.headers["Idempotent-Replayed"] = "true" if replayed else "false"
    return response, 201


@bp.post("/transfers")
@requires("payments:write")
def transfer() -> tuple[Response, int]:
    key = idempotency_key(required=True)
    body = json_body(request, {"from_wallet": str, "to_wallet": str, "amount": str, "currency": str})
    try:
        currency = check_currency(body["currency"])
    except AmountError as exc:
        raise invalid(str(exc), fields=["currency"]) from None
    result = ledger.transfer(
        g.db,
        tenant_id=g.principal.tenant_id,
        actor=g.principal.client_id,
        from_wallet=body["from_wallet"],
        to_wallet=body["to_wallet"],
        amount_minor=amount_of(body, currency),
        currency=currency,
        idempotency_key=key,
        digest=ledger.request_hash(body),
    )
    return created(views.transfer(result.movement), result.replayed)


@bp.post("/wallets/<wallet_id>/topups")
@requires("payments:write")
def topup(wallet_id: str) -> tuple[Response, int]:
    key = idempotency_key(required=False)
    body = json_body(request, {"amount": str, "card_id": str})
    digest = ledger.request_hash({"wallet_id": wallet_id, **body})
    wallet = customer_wallet(wallet_id)
    minor = amount_of(body, wallet.currency)
    card = g.db.get(Card, body["card_id"])
    if card is None:
        raise not_found("card")
    if (replay := ledger.find_replay(g.db, key, digest)) is not None:
        return created(views.topup(replay.movement), True)
    rt = runtime()
    charge = rt.acquirer.charge(
        reveal_pan(rt.kek, card), card.expiry_month, card.expiry_year, minor, wallet.currency
    )
    if not charge.approved:
        raise ledger.Declined(charge.reason)
    result = ledger.topup(
        g.db,
        tenant_id=g.principal.tenant_id,
        actor=g.principal.client_id,
        wallet_id=wallet_id,
        card_id=card.id,
        amount_minor=minor,
        acquirer_ref=charge.reference,
        idempotency_key=key,
        digest=digest,
    )
    return created(views.topup(result.movement), result.replayed)
