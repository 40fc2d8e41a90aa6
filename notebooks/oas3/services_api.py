"""Lessons 10 and 11: a service that calls services (see 10-Services-Calling-Services.ipynb
and 11-Parallel-Calls-With-Deadlines.ipynb). The starter.

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
import secrets
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from connexion import problem  # noqa: F401 - for your error handler and the 503
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
    """Join the caller's trace, or start a new one.

    TODO (exercise correlation-id): this trusts any four dash-separated fields. Accept only a
    valid version-00 traceparent; start a new trace for anything else."""
    fields = (traceparent or "").split("-")
    if len(fields) == 4:
        return Trace(fields[1], secrets.token_hex(8), fields[3])
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


# TODO (exercise correlation-id): give every record of `log` the attribute `trace_id`.


# -- one error format -------------------------------------------------------------------------

# TODO (exercise error-formatter): write unexpected_error(request, error).


def configure(app) -> None:
    """Set up what every request needs: its trace first, then one format for unexpected errors."""
    app.add_middleware(TraceMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION)
    # TODO (exercise error-formatter): register unexpected_error for every Exception.


# -- calling upstream services ----------------------------------------------------------------

# TODO (exercise fan-out-deadline): call the upstreams through UPSTREAMS, by operationId.
PRICES_URL = "http://prices.internal:8080/v1/prices/{productId}"
STOCK_URL = "http://stock.internal:8080/v1/stock/{productId}"


async def get_summary(productId: str):
    """Ask the prices service, then the stock service; answer both.

    TODO (exercise fan-out-deadline): both at once, each within its own timeout, all within
    DEADLINE; answer what came, marking what is missing."""
    async with httpx.AsyncClient() as client:
        price = await client.get(PRICES_URL.format(productId=productId))
        log.info("prices answered %s", price.status_code)
        stock = await client.get(STOCK_URL.format(productId=productId))
        log.info("stock answered %s", stock.status_code)
    summary = {"productId": productId, "price": price.json(), "stock": stock.json(), "missing": []}
    return summary, 200, {"Content-Type": "application/json"}  # the spec has problem+json answers too: say which


def get_broken(productId: str):
    """A bug planted on purpose: an error nobody expected."""
    settings = {"currency": "EUR"}
    return {"productId": productId, "discount": settings["discount"]}
