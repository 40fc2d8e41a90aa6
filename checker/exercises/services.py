"""What the three exercises of lessons 10 and 11 share: starting the service probe, and the "your code runs" check.

The service is the learner's `services_api.py` behind the checker's own copy of its spec
(`checker/reference/services.oas3.yaml`), so only the code is graded; the upstream services
are played by the parent (`checker.drivers.services`).
"""

from __future__ import annotations

import json
import re

from checker.drivers import services as driver
from checker.exercises.runs import describe_import_failure, header_values, indent_tail, out_of_time
from checker.results import ExerciseResult
from checker.submission import Submission
from checker.worker import STALL_LIMITS, WorkerRun

LESSON = "10-Services-Calling-Services.ipynb"  #: the lesson that builds the service
MODULE = "services_api"
PROBE = "checker.drivers.services:run"
PRELOAD = ("connexion", "httpx", "yaml")
SUMMARY = "/products/{product}/summary"
CRASH, CRASH_ASYNC = "/checker/crash", "/checker/crash-async"
BODY_LIMIT = 2000  #: characters of a body the shim sends back (checker.inside.shim.BODY_LIMIT)
TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")

RUNS = "services_api.py imports, configure(app) runs, and every request is answered"
NO_CONFIGURE = ("services_api.py defines no `configure(app)`. The runner of lessons 10 and 11 and the checker "
                "build the connexion app, then call `configure(app)`: define it, and register your error handler "
                "there with `app.add_error_handler(Exception, unexpected_error)`.")
CONFIGURE_FAILED = "configure(app) raised {type}: {text}{where}"
SERVICE_FAILED = "connexion could not build the service from the checker's copy of the spec: {text}"
REQUEST_ENDED = {
    "timeout": "{what} did not answer within {seconds:g} s of real time: does your code loop, or block in time.sleep()?",
    "raised": "{what} ended without an answer: {error}. An exception raised in a middleware, or in your error "
              "handler itself, escapes connexion's error handling.",
    "crashed": "{what}: the process running your code ended (does it call os._exit() or sys.exit()?)",
    "flooded": "{what}: your code sent more than {most} requests to the upstream services, or waited more than "
               "{waits} times, so the checker stopped it",
}
HUNG = "the process running your code stopped answering while it was {doing}."


def scenario(name: str, path: str = SUMMARY, headers: dict | None = None, plan: dict | None = None, **extra) -> dict:
    return {"name": name, "path": path, "headers": headers or {}, "plan": plan or {}, **extra}


def probe_args(scenarios: list[dict]) -> dict:
    return {"module": MODULE, "probe": PROBE, "preload": PRELOAD, "scenarios": scenarios}


def start(submission: Submission, key: str, scenarios: list[dict]) -> None:
    """Stage the checker's upstream descriptions in place of the learner's, then start the probe."""
    if not submission.staged.folder_refused:
        driver.stage_upstreams(submission.staged.folder)
    submission.start_probe(key, **probe_args(scenarios))


def run_of(submission: Submission, key: str, scenarios: list[dict]) -> WorkerRun:
    start(submission, key, scenarios)
    return submission.probe_run(key, **probe_args(scenarios))


def located(error: dict) -> str:
    if error.get("file") and error.get("line"):
        return f" (oas3/{error['file']}:{error['line']}: `{error.get('code', '')}`)"
    return ""


def error_text(error: dict | None) -> str:
    if not error:
        return "no answer"
    return f"{error.get('type', 'Error')}: {error.get('text', '')}{located(error)}"


def report(run: WorkerRun, result: ExerciseResult, hint: str) -> list[dict]:
    """Add the "your code runs" check; return the exchanges that got an answer."""
    problems = []
    failed_import = run.first("import-failed")
    if failed_import:
        problems.append(describe_import_failure(failed_import["error"], MODULE))
    if run.first("no-configure"):
        problems.append(NO_CONFIGURE)
    configure = run.first("configure-failed")
    if configure:
        error = configure["error"]
        problems.append(CONFIGURE_FAILED.format(type=error["type"], text=error["text"], where=located(error)))
    service = run.first("service-failed")
    if service:
        problems.append(SERVICE_FAILED.format(text=service["error"]["text"].strip().split("\n\n")[0]))
    exchanges = run.of("exchange")
    for exchange in exchanges:
        ended = exchange.get("ended")
        if ended in REQUEST_ENDED:
            problems.append(REQUEST_ENDED[ended].format(
                what=f"GET {exchange['name']}", seconds=driver.SERVICE_LIMIT, error=error_text(exchange.get("error")),
                most=driver.MAX_UPSTREAM_REQUESTS, waits=driver.MAX_IDLE))
            break
    if run.ended in ("hung", "crashed", "flooded") and not problems:
        doing = {"importing": "importing services_api.py"}.get(run.hung_while, "serving a request")
        if run.out_of_time:
            problems.append(out_of_time(run, doing))
        elif run.ended == "hung":
            problems.append(HUNG.format(doing=doing))
        else:
            problems.append(f"the process running your code {'ended' if run.ended == 'crashed' else 'flooded the checker'}"
                            f" ({run.flood or f'exit code {run.exit_code}'}).")
    if problems and run.output.strip() and run.ended != "finished":
        problems.append("What your code printed last:\n" + indent_tail(run.output))
    result.add(RUNS, not problems, "\n".join(problems) + " " + hint)
    return [exchange for exchange in exchanges if "status" in exchange]


def nothing_to_check(run: WorkerRun, names: list[str]) -> str:
    """Why a check has no answer to judge."""
    if any(run.first(kind) for kind in ("import-failed", "configure-failed", "service-failed")):
        return "the service did not start, so nothing could be checked (see above)."
    return f"{' and '.join(f'GET {name}' for name in names)} got no answer to check (see above)."


def cut(exchange: dict) -> bool:
    """True if the body is longer than the shim sends back (checker.inside.shim.BODY_LIMIT)."""
    return len(exchange.get("body", "")) >= BODY_LIMIT


CUT = ("the body is longer than the {limit} characters the checker reads, so it could not be read as a problem: "
       "a problem is a few short members")


def body_of(exchange: dict):
    try:
        return json.loads(exchange.get("body", ""))
    except ValueError:
        return None


def media_type(exchange: dict) -> str:
    types = header_values(exchange, "content-type")
    return types[0].split(";")[0].strip().lower() if types else ""


def shown_body(exchange: dict, most: int = 160) -> str:
    body = exchange.get("body", "")
    return body if len(body) <= most else body[:most] + "…"


def trace_of(value: str | None) -> tuple[str, str, str] | None:
    """(trace-id, parent-id, flags) of a valid version-00 traceparent (or traceresponse), else None."""
    found = TRACEPARENT.fullmatch(value or "")
    if not found or found[1] == "0" * 32 or found[2] == "0" * 16:
        return None
    return found[1], found[2], found[3]


def traceresponse(exchange: dict) -> str | None:
    values = header_values(exchange, "traceresponse")
    return values[0] if len(values) == 1 else None
