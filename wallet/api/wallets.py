"""Wallets and their transaction history."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy import select

from wallet.api import paging, views
from wallet.app import requires
from wallet.db import run_in_transaction
from wallet.models import Movement, Posting, Wallet
from wallet.money import AmountError, check_currency
from wallet.problems import not_found
from wallet.validation import invalid, json_body, text

bp = Blueprint("wallets", __name__, url_prefix="/v1/wallets")


def customer_wallet(wallet_id: str) -> Wallet:
    wallet = g.db.get(Wallet, wallet_id)
    if wallet is None or wallet.kind != "customer":
        raise not_found("wallet")
    return wallet


@bp.post("")
@requires("wallets:write")
def create() -> tuple[Response, int]:
    body = json_body(request, {"owner_ref": str, "currency": str})
    try:
        currency = check_currency(body["currency"])
    except AmountError as exc:
        raise invalid(str(exc), fields=["currency"]) from None
    wallet = Wallet(
        owner_ref=text(body["owner_ref"], "owner_ref"), currency=currency, kind="customer", balance_minor=0
    )

    def work(s):  # type: ignore[no-untyped-def]
        s.add(wallet)
        s.flush()

    run_in_transaction(g.db, work)
    return jsonify(views.wallet(wallet)), 201


@bp.get("/<wallet_id>")
@requires("wallets:read")
def show(wallet_id: str) -> Response:
    return jsonify(views.wallet(customer_wallet(wallet_id)))


@bp.get("")
@requires("wallets:read")
def index() -> Response:
    limit, after = paging.args()
    query = select(Wallet).where(Wallet.kind == "customer").order_by(Wallet.id).limit(limit + 1)
    if owner := request.args.get("owner_ref"):
        query = query.where(Wallet.owner_ref == owner)
    if after is not None:
        query = query.where(Wallet.id > after)
    rows = [views.wallet(w) for w in g.db.scalars(query)]
    return jsonify(paging.page(rows, limit, lambda w: w["id"]))


@bp.get("/<wallet_id>/transactions")
@requires("wallets:read")
def transactions(wallet_id: str) -> Response:
    customer_wallet(wallet_id)
    limit, before = paging.args()
    query = (
        select(Posting, Movement)
        .join(Movement, Movement.id == Posting.movement_id)
        .where(Posting.wallet_id == wallet_id)
        .order_by(Posting.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        # The cursor is the last posting's public id; its internal key, found within this wallet (and,
        # through the session, this tenant), orders the page without ever being shown.
        position = g.db.scalar(
            select(Posting.id).where(Posting.public_id == before, Posting.wallet_id == wallet_id)
        )
        if position is None:
            raise invalid("cursor is not one this API returned", fields=["cursor"])
        query = query.where(Posting.id < position)
    rows = [views.posting(p, m) for p, m in g.db.execute(query)]
    return jsonify(paging.page(rows, limit, lambda r: r["id"]))
