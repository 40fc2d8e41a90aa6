"""Lessons 10 and 11: a service that calls services (see 10-Services-Calling-Services.ipynb
and 11-Parallel-Calls-With-Deadlines.ipynb).

GET /products/{productId}/summary asks the prices and the stock services at
once and answers what it could get before its deadline. Every request carries
a W3C Trace Context trace through the service, its upstream calls, its log
lines and its answer; an unexpected error becomes a 500 problem with the
request's `trace_id` and nothing of the exception.

`configure(app)` is called with the connexion app after `add_api`: by the
lesson's runner, by `connexion run`'s stand-in in the notebook, and by the
checker.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import yaml
from connexion import problem
from connexion.middleware import MiddlewarePosition

HERE = Path(__file__).resolve().parent
#: each upstream's OpenAPI description, as its team publishes it
UPSTREAMS = {name: yaml.safe_load((HERE / f"upstream-{name}.yaml").read_text()) for name in ("prices", "stock")}
TIMEOUTS = {"prices": 1.0, "stock": 4.0}  #: seconds each upstream may take
DEADLINE = 2.5  #: seconds the whole summary may take
RETRY_AFTER = 5  #: seconds a client should wait after a 503

log = logging.getLogger("services_api")
log.setLevel(logging.INFO)


# -- correlation: W3C Trace Context ---------------------------------------------------------

TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


@dataclass(frozen=True)
class Trace:
    """The trace a request belongs to, and this service's own span id in it."""

    trace_id: str
    span_id: str
    flags: str = "00"

    def traceparent(self) -> str:
        """The header for a call this service makes (and for its `traceresponse`): our span is the parent."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


def start_trace(traceparent: str | None) -> Trace:
    """Join the caller's trace if its traceparent is valid; otherwise start a new one."""
    match = TRACEPARENT.fullmatch(traceparent or "")
    if match and match[1] != "0" * 32 and match[2] != "0" * 16:
        return Trace(match[1], secrets.token_hex(8), match[3])
    return Trace(secrets.token_hex(16), secrets.token_hex(8), "00")


CURRENT: contextvars.ContextVar[Trace] = contextvars.ContextVar("trace")


def current_trace() -> Trace:
    """The trace of the request being served (a new one outside any request)."""
    trace = CURRENT.get(None)
    if trace is None:
        trace = start_trace(None)
        CURRENT.set(trace)
    return trace


class TraceMiddleware:
    """Starts each request's trace before connexion handles it, and answers with `traceresponse`."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        trace = start_trace(headers.get("traceparent"))
        CURRENT.set(trace)

        async def send_with_trace(message):
            if message["type"] == "http.response.start":
                extra = [(b"traceresponse", trace.traceparent().encode())]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_trace)


class TraceIdFilter(logging.Filter):
    """Give every record the current request's trace id, so each log line says which request it is about."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = current_trace().trace_id
        return True


log.addFilter(TraceIdFilter())


# -- one error format -------------------------------------------------------------------------

def unexpected_error(request, error: Exception):
    """Any exception nothing else handled: the details go to the log, the client gets a 500 problem."""
    trace = current_trace()
    log.error("unexpected %s in %s %s", type(error).__name__, request.method, request.url.path, exc_info=error)
    return problem(500, "Internal Server Error",
                   "Something went wrong on our side. Quote the trace_id when you report it.",
                   ext={"trace_id": trace.trace_id})


def configure(app) -> None:
    """Set up what every request needs: its trace first, then one format for unexpected errors."""
    app.add_middleware(TraceMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_error_handler(Exception, unexpected_error)


# -- calling upstream services through their OpenAPI descriptions -----------------------------

def find_operation(spec: dict, operation_id: str) -> tuple[str, str]:
    """(method, path template) of the operation with this operationId."""
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return method.upper(), path
    raise LookupError(f"no operationId {operation_id!r} in {spec.get('info', {}).get('title')}")


async def call_operation(client: httpx.AsyncClient, api: str, operation_id: str, *, timeout: float,
                         **params) -> httpx.Response:
    """Call `operation_id` of upstream `api`: its address and path come from its description."""
    spec = UPSTREAMS[api]
    method, template = find_operation(spec, operation_id)
    path = template.format(**{name: quote(str(value), safe="") for name, value in params.items()})
    url = spec["servers"][0]["url"].rstrip("/") + path
    return await client.request(method, url, headers={"traceparent": current_trace().traceparent()},
                                timeout=timeout)


async def fetch(client: httpx.AsyncClient, api: str, operation_id: str, product_id: str):
    """One upstream's JSON answer within its own timeout, or None: never raised, never retried."""
    try:
        response = await call_operation(client, api, operation_id, timeout=TIMEOUTS[api], productId=product_id)
    except httpx.HTTPError as error:
        log.warning("%s did not answer: %s", api, type(error).__name__)
        return None
    if response.status_code != 200:
        log.warning("%s answered %s", api, response.status_code)
        return None
    log.info("%s answered 200", api)
    return response.json()


async def get_summary(productId: str):
    """Ask both upstreams at once; answer what came before the deadline."""
    async with httpx.AsyncClient() as client:
        tasks = {"prices": asyncio.create_task(fetch(client, "prices", "getPrice", productId)),
                 "stock": asyncio.create_task(fetch(client, "stock", "getStock", productId))}
        await asyncio.wait(tasks.values(), timeout=DEADLINE)
        for task in tasks.values():
            task.cancel()  # a no-op for the finished ones
        got = {api: task.result() if task.done() and not task.cancelled() else None for api, task in tasks.items()}
    missing = [api for api, body in got.items() if body is None]
    log.info("summary of %s, missing: %s", productId, ", ".join(missing) or "nothing")
    if len(missing) == len(got):
        return problem(503, "Service Unavailable", "Neither the prices nor the stock service answered in time.",
                       headers={"Retry-After": str(RETRY_AFTER)}, ext={"trace_id": current_trace().trace_id})
    summary = {"productId": productId, "price": got["prices"], "stock": got["stock"], "missing": missing}
    return summary, 200, {"Content-Type": "application/json"}  # the spec has problem+json answers too: say which


def get_broken(productId: str):
    """A bug planted on purpose: an error nobody expected."""
    settings = {"currency": "EUR"}
    return {"productId": productId, "discount": settings["discount"]}
