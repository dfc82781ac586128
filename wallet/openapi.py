"""The OpenAPI 3.1 description of the API, built from small pieces so each operation reads on one screen."""

from __future__ import annotations

from functools import cache
from typing import Any

from wallet import __version__
from wallet.auth import SCOPES
from wallet.money import MINOR_UNITS

# ASCII digits spelt out: "\\d" in a pattern matches every script's digits in most regex engines, and the
# wallet accepts ASCII digits only.
_AMOUNT = {"type": "string", "pattern": r"^(0|[1-9][0-9]{0,17})(\.[0-9]{1,3})?$", "examples": ["12.50"]}
_CURRENCY = {"type": "string", "enum": sorted(MINOR_UNITS)}
_ID = {"type": "string"}


def _obj(props: dict[str, Any], required: list[str] | None = None, closed: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required is not None:
        out["required"] = required
    if closed:
        out["additionalProperties"] = False
    return out


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _problems(*codes: int) -> dict[str, Any]:
    body = {"content": {"application/problem+json": {"schema": _ref("Problem")}}}
    return {str(c): {"description": _REASONS[c], **body} for c in codes}


_REASONS = {
    400: "Malformed request",
    401: "Missing, invalid or expired token",
    402: "Card declined",
    403: "Token lacks the scope",
    404: "Not found (also for another tenant's objects)",
    409: "Conflict",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Validation failed",
    429: "Rate limited",
    502: "The acquirer failed before charging; nothing was charged",
}
_COMMON = (400, 401, 403, 413, 429)  # 400: a bad Host or a NUL in the path or query


def _op(
    summary: str,
    scope: str | None,
    ok: str,
    schema: dict[str, Any] | None,
    *errors: int,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {ok: {"description": "Success", **(_json(schema) if schema else {})}},
    }
    if scope:
        op["security"] = [{"oauth2": [scope]}]
        op["responses"].update(_problems(*_COMMON, *errors))
    if body:
        op["requestBody"] = {"required": True, **_json(body)}
    if params:
        op["parameters"] = params
    return op


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": _ID}


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


_PAGE = [
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
    _query("cursor", {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,100}$"}),
]
_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{8,100}$"},
}


def _list_of(name: str) -> dict[str, Any]:
    return _obj(
        {"data": {"type": "array", "items": _ref(name)}, "next_cursor": {"type": ["string", "null"]}},
        ["data", "next_cursor"],
    )


@cache
def document() -> dict[str, Any]:
    schemas = {
        "Problem": _obj(
            {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
            },
            ["title", "status"],
            closed=False,
        ),
        "Wallet": _obj(
            {
                "id": _ID,
                "owner_ref": {"type": "string"},
                "currency": {"type": "string"},
                "balance": _AMOUNT,
                "created_at": {"type": "string", "format": "date-time"},
            }
        ),
        "Card": _obj(
            {
                "id": _ID,
                "token": {"type": "string"},
                "brand": {"type": "string"},
                "last4": {"type": "string"},
                "expiry_month": {"type": "integer"},
                "expiry_year": {"type": "integer"},
            }
        ),
        "Transfer": _obj(
            {
                "id": _ID,
                "status": {"type": "string"},
                "from_wallet": _ID,
                "to_wallet": _ID,
                "amount": _AMOUNT,
                "currency": {"type": "string"},
                "created_at": {"type": "string"},
            }
        ),
        "Topup": _obj(
            {
                "id": _ID,
                "status": {"type": "string"},
                "wallet_id": _ID,
                "card_id": _ID,
                "amount": _AMOUNT,
                "currency": {"type": "string"},
                "acquirer_ref": {"type": ["string", "null"]},
                "created_at": {"type": "string"},
            }
        ),
        "Posting": _obj(
            {
                "id": {"type": "string", "pattern": "^pst_[0-9a-f]{32}$"},
                "movement_id": _ID,
                "kind": {"type": "string"},
                "amount": {"type": "string"},
                "balance_after": _AMOUNT,
                "currency": {"type": "string"},
                "created_at": {"type": "string"},
            }
        ),
    }
    token_body = _obj(
        {"grant_type": {"const": "client_credentials"}, "scope": {"type": "string"}}, ["grant_type"]
    )
    paths = {
        "/oauth/token": {
            "post": {
                "summary": "Exchange client credentials (HTTP Basic) for an access token",
                "security": [{"basic": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/x-www-form-urlencoded": {"schema": token_body}},
                },
                "responses": {
                    "200": {
                        "description": "Token",
                        **_json(
                            _obj(
                                {
                                    "access_token": {"type": "string"},
                                    "token_type": {"const": "Bearer"},
                                    "expires_in": {"type": "integer", "maximum": 900},
                                    "scope": {"type": "string"},
                                }
                            )
                        ),
                    },
                    **_problems(400, 401, 429),
                },
            }
        },
        "/v1/wallets": {
            "post": _op(
                "Create a wallet",
                "wallets:write",
                "201",
                _ref("Wallet"),
                400,
                415,
                422,
                body=_obj(
                    {
                        "owner_ref": {"type": "string", "minLength": 1, "maxLength": 100},
                        "currency": _CURRENCY,
                    },
                    ["owner_ref", "currency"],
                ),
            ),
            "get": _op(
                "List wallets, optionally by owner",
                "wallets:read",
                "200",
                _list_of("Wallet"),
                422,
                params=[_query("owner_ref", {"type": "string"}), *_PAGE],
            ),
        },
        "/v1/wallets/{wallet_id}": {
            "get": _op(
                "Read a wallet", "wallets:read", "200", _ref("Wallet"), 404, params=[_path_param("wallet_id")]
            )
        },
        "/v1/wallets/{wallet_id}/transactions": {
            "get": _op(
                "A wallet's postings, newest first",
                "wallets:read",
                "200",
                _list_of("Posting"),
                404,
                422,
                params=[_path_param("wallet_id"), *_PAGE],
            )
        },
        "/v1/wallets/{wallet_id}/topups": {
            "post": _op(
                "Top up a wallet by charging a stored card",
                "payments:write",
                "201",
                _ref("Topup"),
                400,
                402,
                404,
                409,
                415,
                422,
                502,
                body=_obj({"amount": _AMOUNT, "card_id": _ID}, ["amount", "card_id"]),
                params=[_path_param("wallet_id"), {**_IDEMPOTENCY, "required": False}],
            )
        },
        "/v1/topups/{topup_id}": {
            "get": _op(
                "A top-up and its status (pending, completed, declined or failed)",
                "wallets:read",
                "200",
                _ref("Topup"),
                404,
                params=[_path_param("topup_id")],
            )
        },
        "/v1/cards": {
            "post": _op(
                "Store a card (the PAN is encrypted and never returned; security codes are refused)",
                "cards:write",
                "201",
                _ref("Card"),
                400,
                409,
                415,
                422,
                body=_obj(
                    {
                        "pan": {"type": "string", "pattern": r"^[0-9]{12,19}$"},
                        "expiry_month": {"type": "integer", "minimum": 1, "maximum": 12},
                        "expiry_year": {"type": "integer", "minimum": 2000, "maximum": 2100},
                        "holder": {"type": "string", "minLength": 1, "maxLength": 26},
                    },
                    ["pan", "expiry_month", "expiry_year", "holder"],
                ),
            )
        },
        "/v1/transfers": {
            "post": _op(
                "Move money between two wallets of the same currency",
                "payments:write",
                "201",
                _ref("Transfer"),
                400,
                404,
                409,
                415,
                422,
                body=_obj(
                    {"from_wallet": _ID, "to_wallet": _ID, "amount": _AMOUNT, "currency": _CURRENCY},
                    ["from_wallet", "to_wallet", "amount", "currency"],
                ),
                params=[{**_IDEMPOTENCY, "required": True}],
            )
        },
        "/openapi.json": {"get": _op("This document", None, "200", {"type": "object"})},
        "/healthz": {"get": _op("Liveness", None, "200", {"type": "object"})},
    }
    paths["/v1/wallets/{wallet_id}/topups"]["post"]["responses"]["202"] = {
        "description": "Pending: the acquirer's answer is unknown; retry with the key or poll the top-up",
        **_json(_ref("Topup")),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "wallet",
            "version": __version__,
            "description": "Multi-tenant digital wallet. Amounts are decimal strings in the currency's "
            "minor-unit precision; errors are RFC 7807 problem documents.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "oauth2": {
                    "type": "oauth2",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": "/oauth/token",
                            "scopes": {s: s.replace(":", " ") for s in SCOPES},
                        }
                    },
                },
            },
        },
    }
