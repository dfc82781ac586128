"""A deliberately broken little API: every flaw `comply scan web` should find, on known operations.

- served over plain HTTP, with no security headers, and werkzeug's versioned Server header;
- GET /cards/{card_id}: declared secured, answers anyone, and returns the whole PAN;
- GET /cards: a tenant's cards (auth enforced, tenant-scoped listing), masked too little;
- GET /accounts/{account_id}: auth enforced, but a non-numeric id gives a traceback (500);
- GET /search: auth enforced, a quote in `q` gives an SQL error page (500);
- POST /oauth/token: never throttled, never accepts anyone;
- GET /slow: sleeps longer than the test's timeout;
- GET /health: public, and fine.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

TOKENS = {"token-a": "tenant-a", "token-b": "tenant-b"}
CARDS = {
    "card_a1": {"tenant": "tenant-a", "pan": "4111111111111111"},
    "card_b1": {"tenant": "tenant-b", "pan": "5555555555554444"},
}
SLOW_SECONDS = 2.0


def _secured(path_params: list[str] | None = None, query: list[str] | None = None) -> dict[str, Any]:
    params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
              for n in path_params or []]
    params += [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
               for n in query or []]
    return {"responses": {"200": {"description": "ok"}}, "parameters": params}


DOCUMENT = {
    "openapi": "3.0.3",
    "info": {"title": "broken", "version": "0.0.1"},
    "security": [{"bearer": []}],
    "components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"},
        "oauth": {"type": "oauth2",
                  "flows": {"clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {}}}},
    }},
    "paths": {
        "/health": {"get": {"security": [], "responses": {"200": {"description": "ok"}}}},
        "/cards": {"get": _secured()},
        "/cards/{card_id}": {"get": _secured(["card_id"])},
        "/accounts/{account_id}": {"get": _secured(["account_id"])},
        "/search": {"get": _secured(query=["q"])},
        "/slow": {"get": {"security": [], "responses": {"200": {"description": "ok"}}}},
        "/oauth/token": {"post": {"security": [], "responses": {"200": {"description": "ok"}}}},
    },
}


def create_broken_app() -> Flask:
    app = Flask("broken")

    def tenant() -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return TOKENS.get(token) if scheme == "Bearer" else None

    def unauthorized() -> Response:
        return Response('{"error": "unauthorized"}', 401, mimetype="application/json")

    @app.get("/openapi.json")
    def openapi() -> Response:
        return jsonify(DOCUMENT)

    @app.get("/health")
    def health() -> Response:
        return jsonify(status="ok")

    @app.get("/cards")
    def cards() -> Response:
        who = tenant()
        if who is None:
            return unauthorized()
        mine = [{"id": cid, "display": card["pan"][:12] + "**" + card["pan"][-2:]}
                for cid, card in CARDS.items() if card["tenant"] == who]
        return jsonify(data=mine)

    @app.get("/cards/<card_id>")
    def card(card_id: str) -> Response:  # flaw: no authentication, no tenant check, whole PAN
        found = CARDS.get(card_id)
        if found is None:
            return Response('{"error": "not found"}', 404, mimetype="application/json")
        return jsonify(id=card_id, pan=found["pan"])

    @app.get("/accounts/<account_id>")
    def account(account_id: str) -> Response:
        if tenant() is None:
            return unauthorized()
        try:
            number = int(account_id)
        except ValueError:  # flaw: the traceback goes to the client
            return Response(traceback.format_exc(), 500, mimetype="text/plain")
        return Response(f'{{"error": "account {number} not found"}}', 404, mimetype="application/json")

    @app.get("/search")
    def search() -> Response:
        if tenant() is None:
            return unauthorized()
        q = request.args.get("q", "")
        if "'" in q:  # flaw: the database error goes to the client
            return Response(f"sqlite3.OperationalError: unrecognized token: \"'{q}'\"", 500)
        return jsonify(data=[])

    @app.get("/slow")
    def slow() -> Response:
        time.sleep(SLOW_SECONDS)
        return jsonify(status="late")

    @app.post("/oauth/token")
    def token() -> Response:  # flaw: refuses, but never throttles
        return Response('{"error": "invalid_client"}', 401, mimetype="application/json")

    @app.after_request
    def permissive_cors(response: Response) -> Response:  # flaw: any origin, with credentials
        if origin := request.headers.get("Origin"):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
        return response

    return app


@contextmanager
def serve_broken() -> Iterator[str]:
    """The broken app on a free loopback port over plain HTTP, in a thread."""
    server = make_server("127.0.0.1", 0, create_broken_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
