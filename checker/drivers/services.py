"""Driver: the service of lessons 10 and 11, its upstream services played by the parent on the parent's clock.

The shim builds a connexion AsyncApp from the checker's copy of the service spec
(`reference:services.oas3.yaml`), calls the learner's `configure(app)`, and serves
each request on an event loop whose time is the parent's (see the lessons 10–11 part of
`checker.inside.shim`). Every upstream request the learner's code makes is a
question to `Upstreams` here, which logs it (URL, headers, timeout, the parent's
time) and says when its answer is delivered; the answer is handed over only when
the parent's clock has reached that moment, and the parent's clock moves only
when the service has nothing left to do but wait. So the time an answer took is
the parent's own reading, whatever the sandbox does.

One `exchange` event per scenario: the request, the answer (status, headers,
body, the learner's log records), how it ended, the parent's elapsed time, and
the upstream requests.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

from checker.drivers.fakes import CALL_SLACK, FakeClock
from checker.worker import MAX_VALUE, bounded_error

SPEC = "reference:services.oas3.yaml"
REFERENCE = Path(__file__).resolve().parent.parent / "reference"
#: the checker's copies of the upstream descriptions, staged in place of the learner's files
UPSTREAM_FILES = {"prices": "upstream-prices.yaml", "stock": "upstream-stock.yaml"}
OPERATIONS = {"prices": "getPrice", "stock": "getStock"}
BODIES = {"prices": {"amount": 12.5, "currency": "EUR"}, "stock": {"available": 7}}
T0 = 5000.0  #: the parent's clock when each scenario's request is sent
SERVICE_LIMIT = 2.0  #: real seconds per request (checker.inside.virtual_time.SERVICE_LIMIT)
MAX_UPSTREAM_REQUESTS = 20  #: per scenario; more is a storm, and the learner's code is stopped
MAX_IDLE = 200  #: waits per scenario
LATEST = 600.0  #: seconds of the parent's clock one request may use before it counts as hanging


def checker_copy(api: str) -> Path:
    return REFERENCE / UPSTREAM_FILES[api].replace(".yaml", ".checker.yaml")


def stage_upstreams(folder: Path) -> None:
    """Put the checker's upstream descriptions where the learner's module reads its own."""
    for api, name in UPSTREAM_FILES.items():
        target = folder / name
        if target.is_symlink() or target.exists():
            target.unlink()
        target.write_text(checker_copy(api).read_text())


def routes() -> list[tuple[re.Pattern, str, str, str]]:
    """(URL pattern, api, operationId, method) for every operation of the checker's upstream copies."""
    found = []
    for api in UPSTREAM_FILES:
        spec = yaml.safe_load(checker_copy(api).read_text())
        base = spec["servers"][0]["url"].rstrip("/")
        for path, item in spec["paths"].items():
            for method, operation in item.items():
                pattern = re.escape(base + path).replace(r"\{productId\}", "(?P<productId>[^/?#]+)")
                found.append((re.compile(pattern + r"/?"), api, operation["operationId"], method.upper()))
    return found


ROUTES = routes()


def expected_url(api: str, product: str) -> str:
    spec = yaml.safe_load(checker_copy(api).read_text())
    path = next(p for p, item in spec["paths"].items() if item["get"]["operationId"] == OPERATIONS[api])
    return spec["servers"][0]["url"].rstrip("/") + path.replace("{productId}", product)


def problem_body(status: int, title: str, detail: str) -> str:
    return json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})


class Upstreams:
    """The prices and stock services of one scenario, on the parent's clock.

    `plan[api]`: {"after": seconds, "status": code} (answered that long after the request),
    {"never": True} (no answer ever comes) or {"refuse": True} (connection refused). URLs of the
    checker's copies reach their service; so does any other URL naming "price" or "stock" (its
    request is logged as not `described`, and the other checks still judge the timing); any
    other URL gets a 404."""

    def __init__(self, plan: dict, clock: FakeClock, product: str):
        self.plan, self.clock, self.product = plan, clock, product
        self.requests: list[dict] = []
        self.pending: dict[int, tuple[float, dict]] = {}
        self.idle = 0
        self.stopped = ""

    def route(self, method: str, url: str) -> tuple[str | None, str | None, bool]:
        """(api, operationId, True) for a URL of the checker's copies; (api, its operation, False) for another
        URL naming "price" or "stock" (answered alike, so the other checks still judge the timing); else
        (None, None, False)."""
        plain = url.split("?")[0].split("#")[0]
        for pattern, api, operation, route_method in ROUTES:
            found = pattern.fullmatch(plain)
            if found and method == route_method:
                if operation == OPERATIONS[api] and unquote(found["productId"]) != self.product:
                    return None, None, False
                return api, operation, True
        lowered = urlsplit(url).netloc.lower() + urlsplit(url).path.lower()
        for api in ("prices", "stock"):
            if api.rstrip("s") in lowered:
                return api, OPERATIONS[api], False
        return None, None, False

    def __call__(self, question: dict) -> dict:
        kind = question.get("kind")
        if kind == "idle":
            return self.wait(question.get("seconds"))
        if kind == "http":
            return self.request(question)
        if kind == "body":
            return self.body(question.get("id"))
        return self.stop("flooded")

    def stop(self, why: str) -> dict:
        self.stopped = self.stopped or why
        return {"stop": why}

    def wait(self, seconds) -> dict:
        self.idle += 1
        if self.idle > MAX_IDLE:
            return self.stop("flooded")
        if seconds is None or not isinstance(seconds, (int, float)) or isinstance(seconds, bool) \
                or not math.isfinite(seconds) or seconds < 0:
            return self.stop("waited-forever")
        if self.clock.now + seconds - T0 > LATEST:
            return self.stop("waited-forever")
        self.clock.advance(seconds)
        return {"now": self.clock.now}

    def request(self, question: dict) -> dict:
        number = len(self.requests) + 1
        if number > MAX_UPSTREAM_REQUESTS:
            return self.stop("flooded")
        method, url = str(question.get("method"))[:10], str(question.get("url"))[:300]
        headers = question.get("headers") if isinstance(question.get("headers"), list) else []
        traceparents = [str(pair[1])[:200] for pair in headers[:40]
                        if isinstance(pair, list) and len(pair) == 2 and str(pair[0]).lower() == "traceparent"]
        timeout = question.get("timeout")
        api, operation, described = self.route(method, url)
        self.requests.append({"number": number, "method": method, "url": url, "api": api, "operation": operation,
                              "described": described,
                              "at": round(self.clock.now - T0, 6), "traceparent": traceparents,
                              "timeout": timeout if isinstance(timeout, (int, float)) and not isinstance(timeout, bool)
                              else None})
        if api is None or operation != OPERATIONS.get(api):
            answer = {"status": 404, "headers": {"Content-Type": "application/problem+json"},
                      "body": problem_body(404, "Not Found", f"nothing at {url}")}
            self.pending[number] = (self.clock.now, answer)
            return {"id": number, "at": self.clock.now}
        plan = self.plan.get(api, {"after": 0.0, "status": 200})
        if plan.get("refuse"):
            return {"refuse": True}
        if plan.get("never"):
            return {"id": number, "at": None}
        status = plan.get("status", 200)
        if status == 200:
            answer = {"status": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(BODIES[api])}
        else:
            headers_out = {"Content-Type": "application/problem+json"}
            if status == 503:
                headers_out["Retry-After"] = "30"
            answer = {"status": status, "headers": headers_out,
                      "body": problem_body(status, "Upstream trouble", f"the {api} service answers {status}")}
        at = self.clock.now + float(plan.get("after", 0.0))
        self.pending[number] = (at, answer)
        return {"id": number, "at": at}

    def body(self, number) -> dict:
        if not isinstance(number, int) or number not in self.pending:
            return self.stop("flooded")
        at, answer = self.pending[number]
        if self.clock.now < at:
            return {"early": True}
        return answer


def kept_answer(item: dict) -> dict:
    """An answer cut to what the checks read (the sandbox may send anything)."""
    if not isinstance(item, dict):
        return {"ended": "crashed"}
    kept: dict = {}
    if type(item.get("status")) is int:
        headers = item.get("headers") if isinstance(item.get("headers"), list) else []
        kept["status"] = item["status"]
        kept["headers"] = [[str(p[0])[:100], str(p[1])[:MAX_VALUE]] for p in headers[:100]
                           if isinstance(p, list) and len(p) == 2]
        kept["body"] = str(item.get("body", ""))[:MAX_VALUE]
    else:
        kept["ended"] = str(item.get("ended", "crashed"))[:40]
        if item.get("error"):
            kept["error"] = bounded_error(item["error"])
    if item.get("raised"):
        kept["raised"] = bounded_error(item["raised"])
    logs = item.get("logs") if isinstance(item.get("logs"), list) else []
    kept["logs"] = [{key: (str(record.get(key))[:300] if record.get(key) is not None else None)
                     for key in ("level", "message", "trace_id", "exc")} | {"line": record.get("line")
                                                                           if type(record.get("line")) is int else None}
                    for record in logs[:20] if isinstance(record, dict)]
    return kept


def run(shim, events, module: str, scenarios: list[dict]) -> None:
    """Build the service, then play every scenario (see the module docstring)."""
    report = shim.call("build-service", 20.0, phase="starting", spec=shim.spec(SPEC), module=module)
    if not report.get("configure"):
        events("no-configure")
    if report.get("configure_failed"):
        events("configure-failed", error=bounded_error(report["configure_failed"]))
        return
    if report.get("failed"):
        events("service-failed", error=bounded_error(report["failed"]))
        return
    events("service-ready", async_summary=report.get("async_summary") is True)
    for scenario in scenarios:
        events("scenario-start", name=scenario["name"])
        clock = FakeClock(T0)
        product = scenario.get("product", "teapot-42")
        upstreams = Upstreams(scenario.get("plan", {}), clock, product)
        got: list[dict] = []

        def take(item, clock=clock, got=got) -> None:
            got.append({"item": item, "elapsed": round(clock.now - T0, 6)})

        shim.call("service-request", SERVICE_LIMIT + CALL_SLACK, on_item=take, on_ask=upstreams,
                  total=SERVICE_LIMIT + CALL_SLACK, path=scenario["path"].replace("{product}", product),
                  headers=scenario.get("headers", {}), now=T0)
        answer = kept_answer(got[0]["item"]) if got else {"ended": "crashed"}
        if upstreams.stopped:
            answer = {**answer, "stopped": upstreams.stopped}
        events("exchange", name=scenario["name"], elapsed=got[0]["elapsed"] if got else None,
               requests=upstreams.requests, **answer)
