"""Money movements: top-ups from a stored card and transfers between wallets."""

from __future__ import annotations

import re

from flask import Blueprint, Response, g, jsonify, request

from wallet import ledger, topups
from wallet.acquirer import CardData
from wallet.api import views
from wallet.api.wallets import customer_wallet
from wallet.app import requires, runtime
from wallet.cards import has_card_number, reveal_pan
from wallet.models import Card, Movement
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
    """201 credited; 202 pending (the acquirer's answer is unknown: retry with the same key, or poll
    GET /v1/topups/{id}); 402 declined; 502 failed without a charge."""
    key = idempotency_key(required=False)
    body = json_body(request, {"amount": str, "card_id": str})
    digest = ledger.request_hash({"wallet_id": wallet_id, **body})
    wallet = customer_wallet(wallet_id)
    minor = amount_of(body, wallet.currency)
    card = g.db.get(Card, body["card_id"])
    if card is None:
        raise not_found("card")
    rt = runtime()
    data = CardData(reveal_pan(rt.kek, card), card.expiry_month, card.expiry_year)
    outcome = topups.request(
        rt.acquirer,
        g.db,
        tenant_id=g.principal.tenant_id,
        actor=g.principal.client_id,
        wallet=wallet,
        card_id=card.id,
        card=data,
        amount_minor=minor,
        key=key,
        digest=digest,
    )
    return topup_answer(outcome.movement, outcome.replayed)


def topup_answer(movement: Movement, replayed: bool) -> tuple[Response, int]:
    if movement.status == topups.COMPLETED:
        return created(views.topup(movement), replayed)
    if movement.status == "declined":
        reason = topups.decline_reason(g.db, movement)
        raise ledger.Declined(reason or "the acquirer declined the charge")
    if movement.status == topups.FAILED:
        raise ApiError(
            502,
            "Acquirer unavailable",
            f"top-up {movement.id} failed before the card was charged; nothing was charged",
        )
    response = jsonify(views.topup(movement))
    response.headers["Idempotent-Replayed"] = "true" if replayed else "false"
    response.headers["Location"] = f"/v1/topups/{movement.id}"
    return response, 202


@bp.get("/topups/<topup_id>")
@requires("wallets:read")
def get_topup(topup_id: str) -> tuple[Response, int]:
    movement = topups.find(g.db, g.principal.tenant_id, topup_id)
    if movement is None:
        raise not_found("top-up")
    return jsonify(views.topup(movement)), 200
