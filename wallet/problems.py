"""RFC 7807 problem responses: a status, a short title, a detail a client can act on, nothing internal."""

from __future__ import annotations

from typing import Any

from flask import Response, json


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail
        self.headers, self.extensions = headers or {}, extensions

    def response(self) -> Response:
        return problem(self.status, self.title, self.detail, headers=self.headers, **self.extensions)


def problem(
    status: int, title: str, detail: str = "", headers: dict[str, str] | None = None, **extensions: Any
) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extensions)
    return Response(json.dumps(body), status=status, mimetype="application/problem+json", headers=headers)


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, "Not found", f"{what} not found")


def unauthorized(detail: str, scheme: str = "Bearer", **extensions: Any) -> ApiError:
    return ApiError(
        401, "Unauthorized", detail, headers={"WWW-Authenticate": f'{scheme} realm="wallet"'}, **extensions
    )
