"""The codec server: decodes (and encodes) payloads for the Temporal Web UI and the ``temporal`` CLI, so operators
who hold its token read workflow inputs and results that Temporal itself only ever stores encrypted.

The protocol is Temporal's: ``POST …/decode`` and ``POST …/encode`` with the JSON form of ``temporal.api.common.v1.
Payloads`` (``{"payloads": [...]}``); only the last path segment matters. The browser, not the Temporal server, calls
it, so it answers CORS for the configured Web UI origins only. Every request needs the token, either as
``Authorization: Bearer <token>`` (the CLI's ``--codec-auth``) or as the path segment before ``decode``/``encode``
(a Web UI endpoint ``https://codec.example/<token>``: the UI cannot add a header of its own). It never logs a payload,
a path or the token: one line per request with the operation, the count of payloads and the status.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence

from aiohttp import web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

log = logging.getLogger("duesflow.codec_server")

OPERATIONS = ("encode", "decode")
ALLOWED_HEADERS = "Content-Type, X-Namespace, Authorization"
MAX_BODY = 4 * 1024 * 1024  # Temporal's own payload limit is 2 MB per payload by default


def make_app(codec: PayloadCodec, *, token: str, origins: Sequence[str]) -> web.Application:
    if len(token) < 16:
        raise ValueError("the codec server's token must be at least 16 characters")
    allowed = frozenset(o.rstrip("/") for o in origins)

    def cors(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is not None and origin in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Vary"] = "Origin"
        return response

    async def handle(request: web.Request) -> web.StreamResponse:
        segments = [s for s in request.path.split("/") if s]
        operation = segments[-1] if segments else ""
        origin = request.headers.get("Origin")
        if origin is not None and origin not in allowed:
            return _refuse(request, 403, "origin not allowed", operation)
        if request.method == "OPTIONS":  # CORS preflight: carries no credentials by design
            response = web.Response(status=204)
            response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = "600"
            return cors(request, response)
        if request.method != "POST" or operation not in OPERATIONS:
            return cors(request, _refuse(request, 404, "POST …/encode or …/decode", operation))
        if not _authorised(request, segments, token):
            return cors(request, _refuse(request, 401, "a valid token is required", operation))
        try:
            payloads = json_format.Parse(await request.text(), Payloads())
        except (json_format.ParseError, UnicodeDecodeError):
            return cors(
                request, _refuse(request, 400, "the body must be JSON of temporal.api.common.v1.Payloads", operation)
            )
        try:
            done = await (codec.encode if operation == "encode" else codec.decode)(list(payloads.payloads))
        except Exception as exc:  # e.g. a key this server does not have: the message names the key id, not data
            log.warning("codec server: %s of %d payload(s) failed: %s", operation, len(payloads.payloads), exc)
            return cors(request, web.json_response({"error": str(exc)}, status=422))
        log.info("codec server: %s of %d payload(s)", operation, len(done))
        body = json_format.MessageToJson(Payloads(payloads=done))
        return cors(request, web.Response(text=body, content_type="application/json"))

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def _authorised(request: web.Request, segments: list[str], token: str) -> bool:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and hmac.compare_digest(header.removeprefix("Bearer ").encode(), token.encode()):
        return True
    return len(segments) >= 2 and hmac.compare_digest(segments[-2].encode(), token.encode())


def _refuse(request: web.Request, status: int, why: str, operation: str) -> web.Response:
    log.warning("codec server: refused %s %s: %s", request.method, operation if operation in OPERATIONS else "?", why)
    return web.json_response({"error": why}, status=status)


async def serve(codec: PayloadCodec, *, host: str, port: int, token: str, origins: Sequence[str]) -> web.AppRunner:
    """Start serving; the caller keeps the runner and calls ``await runner.cleanup()`` to stop."""
    runner = web.AppRunner(make_app(codec, token=token, origins=origins), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
