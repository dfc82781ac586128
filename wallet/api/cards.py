"""POST /v1/cards: store a card; the number goes in encrypted and never comes out."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy.exc import IntegrityError

from wallet import audit
from wallet.api import views
from wallet.app import requires, runtime
from wallet.cards import CardError, CardInput, DuplicateCard, store_card, validate_expiry, validate_pan
from wallet.db import run_in_transaction
from wallet.problems import ApiError
from wallet.validation import invalid, json_body, text

bp = Blueprint("cards", __name__, url_prefix="/v1/cards")


@bp.post("")
@requires("cards:write")
def create() -> tuple[Response, int]:
    body = json_body(request, {"pan": str, "expiry_month": int, "expiry_year": int, "holder": str})
    try:
        brand = validate_pan(body["pan"])
        month, year = validate_expiry(body["expiry_month"], body["expiry_year"])
    except CardError as exc:
        raise invalid(str(exc)) from None
    card = CardInput(body["pan"], brand, month, year, text(body["holder"], "holder", 26))
    principal = g.principal

    def work(s):  # type: ignore[no-untyped-def]
        row = store_card(s, runtime().kek, principal.tenant_id, card)
        audit.record(
            s,
            action="card.store",
            actor=principal.client_id,
            subject=row.id,
            tenant_id=principal.tenant_id,
            brand=row.brand,
            key_source=row.key_source,
        )
        return row

    # Two identical cards stored at once both pass the duplicate lookup; the unique fingerprint (or, on
    # a tenant's very first card, the fingerprint key's name) stops the second at its insert. Running
    # the work again then finds the winner's rows and answers 409 like any other duplicate.
    for attempt in range(3):
        try:
            row = run_in_transaction(g.db, work)
            break
        except DuplicateCard as dup:
            raise ApiError(409, "Conflict", "this card is already stored", card_id=dup.card_id) from None
        except IntegrityError:
            if attempt == 2:
                raise
    return jsonify(views.card(row)), 201
