"""JSON shapes of the API's objects."""

from __future__ import annotations

from typing import Any

from wallet.models import Card, Movement, MovementRecord, Posting, Wallet
from wallet.money import format_amount


def wallet(w: Wallet) -> dict[str, Any]:
    return {
        "id": w.id,
        "owner_ref": w.owner_ref,
        "currency": w.currency,
        "balance": format_amount(w.balance_minor, w.currency),
        "created_at": w.created_at.isoformat(),
    }


def card(c: Card) -> dict[str, Any]:
    return {
        "id": c.id,
        "token": c.token,
        "brand": c.brand,
        "last4": c.last4,
        "expiry_month": c.expiry_month,
        "expiry_year": c.expiry_year,
    }


def transfer(m: Movement | MovementRecord) -> dict[str, Any]:
    return {
        "id": m.id,
        "status": m.status,
        "from_wallet": m.from_wallet,
        "to_wallet": m.to_wallet,
        "amount": format_amount(m.amount_minor, m.currency),
        "currency": m.currency,
        "created_at": m.created_at.isoformat(),
    }


def topup(m: Movement) -> dict[str, Any]:
    return {
        "id": m.id,
        "status": m.status,
        "wallet_id": m.to_wallet,
        "card_id": m.card_id,
        "amount": format_amount(m.amount_minor, m.currency),
        "currency": m.currency,
        "acquirer_ref": m.acquirer_ref,
        "created_at": m.created_at.isoformat(),
    }


def posting(p: Posting, m: Movement) -> dict[str, Any]:
    return {
        "id": p.public_id,
        "movement_id": m.id,
        "kind": m.kind,
        "amount": format_amount(p.amount_minor, m.currency),
        "balance_after": format_amount(p.balance_after, m.currency),
        "currency": m.currency,
        "created_at": p.created_at.isoformat(),
    }
