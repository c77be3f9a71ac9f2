"""The profile API: a read-only FastAPI app over the current serving snapshot.

Routes (all JSON, errors included):

- `GET /v1/profiles/{key}` (scope `profiles`): the person's profile by e-mail
  (any case, surrounding spaces, URL-encoded) or person_id; an unknown key
  gets the documented fallback (200, `found: false`), or a 404 with
  `?fallback=false`. The body is the snapshot's stored document.
- `GET /v1/audiences/{audience_id}?limit=&cursor=` (scope `audiences`): the
  audience's sendable members in person_id order, keyset pages with an
  opaque cursor (`next_cursor` null on the last page).
- `GET /health` (no key): status and the snapshot's metadata.
- `/openapi.json`, `/docs`: the schema, with every response model.

Every response carries `X-Mailroom-Snapshot` (the snapshot id it was answered
from). Access logging is ours, not uvicorn's (whose lines hold the path, and
so e-mails): one line per request with the method, the route template, the
status, the latency and the API key's name.
"""

# No `from __future__ import annotations`: FastAPI evaluates the routes'
# annotations, which name the local `require(...)` dependencies.
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailroom.serve.auth import ApiKey, find_key, keys_from_env, presented_key
from mailroom.serve.cursor import AudienceCursor, CursorError, decode_cursor, encode_cursor
from mailroom.serve.keys import parse_profile_key
from mailroom.serve.models import (
    AudiencePage,
    ErrorResponse,
    FallbackProfile,
    Health,
    KnownProfile,
)
from mailroom.serve.store import Snapshot, SnapshotStore

SERVING_DIR_ENV = "MAILROOM_SERVING_DIR"
LOG_LEVEL_ENV = "MAILROOM_SERVE_LOG_LEVEL"
SNAPSHOT_HEADER = "X-Mailroom-Snapshot"
MAX_AUDIENCE_LIMIT = 1000
DEFAULT_AUDIENCE_LIMIT = 100

access_log = logging.getLogger("mailroom.serve.access")
log = logging.getLogger("mailroom.serve")


class ApiError(Exception):
    """An error answered as `{"error": {"status", "code", "message"}}`."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_body(status: int, code: str, message: str) -> bytes:
    return json.dumps({"error": {"status": status, "code": code, "message": message}}).encode()


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        error_body(status, code, message),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    410: "gone",
    422: "invalid_request",
}


def route_template(scope: Scope, routes: Sequence[BaseRoute] = ()) -> str:
    """The matched route's template (`/v1/profiles/{key}`), never the raw path.

    API routes leave themselves in `scope["route"]`; FastAPI's own routes
    (/openapi.json, /docs) do not, so they are matched against `routes`.
    """
    template = getattr(scope.get("route"), "path_format", None)
    if template:
        return template
    for route in routes:
        if route.matches(scope)[0] is not Match.NONE:
            return getattr(route, "path_format", None) or "unmatched"
    return "unmatched"


class AccessLogMiddleware:
    """One log line per request without personal data; unhandled errors become a JSON 500.

    Exceptions are caught here rather than left to Starlette's
    ServerErrorMiddleware, which would print the traceback (and whatever the
    exception message holds) to stderr.
    """

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute] = ()) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = []

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:  # answered as a JSON 500, logged without data
            log.error("unhandled %s on %s", type(exc).__name__, route_template(scope, self.routes))
            if not status:
                body = error_body(500, "internal_error", "internal error")
                await send_wrapper(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
        finally:
            state = scope.get("state") or {}
            access_log.info(
                "%s %s %s %.2fms key=%s",
                scope.get("method", "-"),
                route_template(scope, self.routes),
                status[0] if status else "-",
                (time.perf_counter() - started) * 1000,
                state.get("api_key_name", "-"),
            )


def _error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "Invalid cursor.",
        401: "Missing or invalid API key (see `WWW-Authenticate`).",
        403: "The API key lacks the route's scope.",
        404: "Not found.",
        410: "The cursor's snapshot is no longer served: start the walk again.",
        422: "Invalid parameter (e.g. limit out of range).",
    }
    return {s: {"model": ErrorResponse, "description": descriptions[s]} for s in statuses}


SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <key>`"},
    "api_key_header": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "`X-API-Key: <key>`",
    },
}
SECURITY = [{"bearer": []}, {"api_key_header": []}]


PROFILE_PARAMETERS = [
    {
        "name": "key",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "An e-mail (any case, surrounding spaces; URL-encoded) or a person_id.",
    },
    {
        "name": "fallback",
        "in": "query",
        "required": False,
        "schema": {"type": "boolean", "default": True},
        "description": "Answer an unknown key with the fallback profile (false: 404).",
    },
]
TRUE_WORDS = frozenset({"true", "1", "yes", "on", "t", "y"})
FALSE_WORDS = frozenset({"false", "0", "no", "off", "f", "n"})


def parse_flag(value: str | None, name: str, default: bool) -> bool:
    """A boolean query parameter as FastAPI reads one; ApiError 422 for anything else."""
    if value is None:
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ApiError(422, "invalid_request", f"query.{name}: Input should be a valid boolean")


def _openapi_with_security(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the two ways of sending a key."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(serving_dir: Path, api_keys: Sequence[ApiKey]) -> FastAPI:
    """The app over `serving_dir`'s current snapshot; SnapshotError if there is none."""
    if not api_keys:
        raise ValueError("at least one API key is required")
    store = SnapshotStore(serving_dir)
    keys = tuple(api_keys)
    app = FastAPI(
        title="mailroom profile API",
        version="1",
        description=(
            "Read-only personalization profiles and audiences from the warehouse's marts, "
            "served from a snapshot (`mailroom snapshot`). Keys from `MAILROOM_API_KEYS`."
        ),
        redoc_url=None,
    )
    app.state.store = store
    app.openapi = lambda: _openapi_with_security(app)
    app.add_middleware(AccessLogMiddleware, routes=app.routes)

    def authorize(request: Request, scope_name: str) -> ApiKey:
        """The request's API key, which must have `scope_name` (ApiError 401 / 403 otherwise)."""
        headers = request.headers
        secret = presented_key(headers.get("authorization"), headers.get("x-api-key"))
        key = find_key(secret, keys)
        if key is None:
            realm = 'Bearer realm="mailroom"'
            if secret is None:
                raise ApiError(
                    401,
                    "unauthorized",
                    "an API key is required (Authorization: Bearer <key> or X-API-Key)",
                    {"WWW-Authenticate": realm},
                )
            raise ApiError(
                401,
                "unauthorized",
                "the API key is not valid",
                {"WWW-Authenticate": realm + ', error="invalid_token"'},
            )
        request.state.api_key_name = key.name
        if not key.allows(scope_name):
            raise ApiError(403, "forbidden", f"this API key does not have the {scope_name!r} scope")
        return key

    def require(scope_name: str):
        # headers read by `authorize` rather than through fastapi.security dependencies:
        # one dependency per request instead of three (the schemes are documented above)
        async def dependency(request: Request) -> ApiKey:
            return authorize(request, scope_name)

        return dependency

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        message = {404: "no such route", 405: "method not allowed on this route"}.get(
            exc.status_code, str(exc.detail)
        )
        return error_response(exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        # the loc and message of each problem, never the input (it may be personal data)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        )
        return error_response(422, "invalid_request", problems or "invalid request")

    def snapshot_headers(snapshot: Snapshot) -> dict[str, str]:
        return {SNAPSHOT_HEADER: snapshot.snapshot_id, "Cache-Control": "no-store"}

    @app.get(
        "/v1/profiles/{key:path}",
        summary="A person's personalization profile",
        response_model=None,
        openapi_extra={"security": SECURITY, "parameters": PROFILE_PARAMETERS},
        responses={
            200: {
                "model": KnownProfile | FallbackProfile,
                "description": (
                    "The profile (`found: true`), or for a key the snapshot does not hold "
                    "the fallback profile (`found: false`: best sellers, default content, "
                    "the population's send hour; identical for every unknown key)."
                ),
            },
            **_error_responses(401, 403, 404, 422),
        },
    )
    async def get_profile(request: Request) -> Response:
        """By e-mail (holds '@'; trimmed and lower-cased) or person_id.

        The hot path of send-time lookups: its two parameters are read from the
        request, not declared for FastAPI to resolve, which cost about 110 us of
        CPU per request here (a fifth of the whole request); they are documented
        in PROFILE_PARAMETERS.
        """
        authorize(request, "profiles")
        fallback = parse_flag(request.query_params.get("fallback"), "fallback", default=True)
        snapshot = app.state.store.current()
        document = snapshot.profile(parse_profile_key(request.path_params["key"]))
        if document is None:
            if not fallback:
                raise ApiError(404, "profile_not_found", "no profile for this key")
            document = snapshot.fallback_bytes
        return Response(document, media_type="application/json", headers=snapshot_headers(snapshot))

    @app.get(
        "/v1/audiences/{audience_id}",
        summary="A page of an audience's sendable members",
        response_model=AudiencePage,
        openapi_extra={"security": SECURITY},
        responses=_error_responses(400, 401, 403, 404, 410, 422),
    )
    async def get_audience(
        audience_id: str,
        _key: Annotated[ApiKey, Depends(require("audiences"))],
        limit: Annotated[int, Query(ge=1, le=MAX_AUDIENCE_LIMIT)] = DEFAULT_AUDIENCE_LIMIT,
        cursor: Annotated[
            str | None, Query(description="`next_cursor` of the previous page.")
        ] = None,
    ) -> Response:
        """Members in person_id order. A walk stays on the snapshot it started on while it is retained."""
        snapshot = app.state.store.current()
        after = ""
        if cursor is not None:
            try:
                position = decode_cursor(cursor)
            except CursorError as exc:
                raise ApiError(400, "invalid_cursor", str(exc)) from None
            if position.audience_id != audience_id:
                raise ApiError(400, "invalid_cursor", "the cursor belongs to another audience")
            pinned = app.state.store.by_id(position.snapshot_id)
            if pinned is None:
                raise ApiError(
                    410,
                    "cursor_expired",
                    "the snapshot this cursor was issued on is no longer served; start again",
                )
            snapshot, after = pinned, position.after_person_id
        audience = snapshot.audience(audience_id)
        if audience is None:
            raise ApiError(404, "audience_not_found", "no audience with this id")
        rows = snapshot.audience_members(audience_id, after, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = (
            encode_cursor(AudienceCursor(snapshot.snapshot_id, audience_id, rows[-1][0]))
            if more
            else None
        )
        page = {
            "audience_id": audience_id,
            "audience_name": audience.audience_name,
            "as_of_date": snapshot.meta["as_of_date"],
            "snapshot_id": snapshot.snapshot_id,
            "sendable_count": audience.sendable_count,
            "limit": limit,
            "members": [
                {"person_id": p, "email": e, "audience_rank": r, "rank_score": s}
                for p, e, r, s in rows
            ],
            "next_cursor": next_cursor,
        }
        return Response(
            json.dumps(page, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
            media_type="application/json",
            headers=snapshot_headers(snapshot),
        )

    @app.get("/health", summary="Status and the current snapshot", response_model=Health)
    async def health() -> JSONResponse:
        snapshot = app.state.store.current()
        return JSONResponse(
            {"status": "ok", "snapshot": snapshot.info()}, headers=snapshot_headers(snapshot)
        )

    return app


def app_from_env() -> FastAPI:
    """uvicorn's app factory: serving folder from MAILROOM_SERVING_DIR, keys from MAILROOM_API_KEYS."""
    level = logging.getLevelName(os.environ.get(LOG_LEVEL_ENV, "info").upper())
    configure_logging(level if isinstance(level, int) else logging.INFO)
    return create_app(Path(os.environ[SERVING_DIR_ENV]), keys_from_env())


def configure_logging(level: int = logging.INFO) -> None:
    """mailroom.serve logs to stderr (once per process)."""
    logger = logging.getLogger("mailroom.serve")
    if logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
