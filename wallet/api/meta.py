"""The OpenAPI document and a liveness probe."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from wallet.openapi import document

bp = Blueprint("meta", __name__)


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document())


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")
