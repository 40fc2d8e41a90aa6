"""The stand-ins of lessons 10 and 11: the upstream services, played in the notebook, and the service's log lines, kept.

The notebook has no network, and the prices and stock services of lessons 10–11 do not exist:
`Upstreams` answers for them. While it is active, every request an `httpx.AsyncClient` of this
process sends (the learner's service makes its calls with one) reaches it instead of the
network, whatever the URL; it answers as its plan says, in real time (short delays), and
notes each request. Requests of a plain `httpx.Client` (the notebook's own) still go out.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

import httpx

BODIES = {"prices": {"amount": 12.5, "currency": "EUR"}, "stock": {"available": 7}}
NEVER = 6.0  #: seconds a request without a timeout waits for an upstream that "never" answers


@dataclass(frozen=True)
class Plan:
    """How one upstream answers: `status` after `after` seconds, or never (`never=True`)."""

    after: float = 0.1
    status: int = 200
    never: bool = False


class Upstreams:
    """The prices and stock services, answering every httpx.AsyncClient request of this process.

    `Upstreams(stock=Plan(never=True))`: prices answers 200 after 0.1 s, stock never does.
    A request whose timeout ends first fails with `httpx.ReadTimeout`, as it would for real."""

    def __init__(self, prices: Plan = Plan(), stock: Plan = Plan()):
        self.plans = {"prices": prices, "stock": stock}
        self.requests: list[dict] = []
        self._original = None

    def api_of(self, url: httpx.URL) -> str | None:
        host = url.host.lower()
        return next((api for api in self.plans if api.rstrip("s") in host), None)

    async def answer(self, request: httpx.Request) -> httpx.Response:
        api = self.api_of(request.url)
        self.requests.append({"api": api, "url": str(request.url), "traceparent": request.headers.get("traceparent")})
        if api is None:
            return httpx.Response(404, json={"title": "Not Found", "status": 404}, request=request)
        plan, timeout = self.plans[api], request.extensions.get("timeout", {}).get("read")
        wait = NEVER if plan.never else plan.after
        if timeout is not None and timeout < wait:
            await asyncio.sleep(timeout)
            raise httpx.ReadTimeout(f"{api} did not answer within {timeout:g} s", request=request)
        await asyncio.sleep(wait)
        if plan.never:
            raise httpx.ReadTimeout(f"{api} never answered (the stand-in gave up after {NEVER:g} s)", request=request)
        if plan.status != 200:
            body = {"title": "Service Unavailable", "status": plan.status}
            return httpx.Response(plan.status, json=body, headers={"Retry-After": "30"}, request=request)
        return httpx.Response(200, json=BODIES[api], request=request)

    def __enter__(self) -> Upstreams:
        upstreams = self
        self._original = httpx.AsyncHTTPTransport.handle_async_request

        async def handle(_transport, request):
            return await upstreams.answer(request)

        httpx.AsyncHTTPTransport.handle_async_request = handle
        return self

    def __exit__(self, *exc_info) -> None:
        httpx.AsyncHTTPTransport.handle_async_request = self._original

    def __repr__(self) -> str:
        return "\n".join(f"{r['api'] or '?'}: GET {r['url']}  traceparent: {r['traceparent']}" for r in self.requests) \
            or "no upstream requests"


class ShortTraceback(logging.Formatter):
    """A log line whose traceback is cut to its last line (the notebook shows what matters)."""

    def formatException(self, exc_info) -> str:  # noqa: N802 - logging's name
        text = super().formatException(exc_info).splitlines()
        return f"    ... a traceback of {len(text)} lines, ending: {text[-1]}"


class LogLines(logging.Handler):
    """Keep the formatted lines of one logger (`%(trace_id)s` shows "-" on a record without one)."""

    FORMAT = "%(levelname)-7s trace_id=%(trace_id)s  %(message)s"

    def __init__(self, logger: str = "services_api"):
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.setFormatter(ShortTraceback(self.FORMAT, defaults={"trace_id": "-"}))
        target = logging.getLogger(logger)
        for old in [h for h in target.handlers if isinstance(h, LogLines)]:
            target.removeHandler(old)
        target.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def __repr__(self) -> str:
        return "\n".join(self.lines[-12:]) or "no log lines yet"


def show_json(response: httpx.Response) -> str:
    return json.dumps(response.json(), indent=2)
