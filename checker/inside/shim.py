"""The only checker code that runs beside learner code: it obeys the parent and reports raw answers.

Started by `checker.sandbox` inside the OS sandbox as `python shim.py CONFIG`,
one per learner, as a zygote: it imports connexion and httpx once, runs no
learner code itself, and forks a process per task when the parent sends, on
its control socket, that task's two pipes and output file. In the task's
process commands arrive on one pipe, one JSON object per line; answers go
back on the other. It judges nothing and imports nothing of the checker: the
parent chooses every request, every clock reading and every sleep's fate, and
decides what passed from the raw answers. Learner code shares this process and
may tamper with it; then it answers the parent's questions itself, which is no
easier than answering them correctly.

Commands (`{"op": ..., ...}`); the answer is `{"done": value}` or `{"failed": summary}`,
preceded by any `{"item": ...}` (one per request of a batch) and `{"ask": ...}`
(a callback the parent answers with `{"reply": ...}`):

* `preload` {modules}: import libraries before the learner's module, so their time is ours;
* `import` {module}: import `folder/module.py`;
* `load-spec` {spec}: load a spec as `connexion run` would, without learner code;
* `build-app` {specs, module, options_from, clock, catch_errors}: a connexion app from the first spec that
  builds, its operationIds resolved into the learner's module; `clock` swaps the module's
  `clock` for one the parent sets per request;
* `request` {method, path, headers, body, count, now}: send requests through the app;
* `call` {function, policy, url, clock}: `function(url, policy=RetryPolicy(**policy), client=, sleep=[, clock=])`
  with an httpx client whose every request, and a sleep whose every call, asks the parent;
* `jitter`, `sample` {policy, retry, count}: the default policy's jitter; backoff_delay draws;
* `breaker` {threshold, cooldown}, `breaker-call` {url}: a CircuitBreaker on the parent's clock;
* `request-during` {module, hook, during, method, path, headers, body, now}: one request, each of its calls of
  the module's `hook` asking the parent first; the first sends `during` through the app and waits for its
  answer (lesson 9);
* `jobs-call` {base_url, url, deadline}: jobs_client.submit_and_wait() with the parent answering its requests
  (and their Idempotency-Key), sleeps and clock (lesson 9);
* `build-service` {spec, module}: the AsyncApp of lessons 10–11, then the learner's `configure(app)`;
* `service-request` {method, path, headers, now}: one request on a loop whose time is the parent's,
  every upstream call answered by the parent; the answer with the request's log records
  (these two, and the virtual-time loop they need, live in `virtual_time.py`).
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import importlib.util
import json
import math
import os
import signal
import sys
import time
import traceback
from pathlib import Path

import virtual_time  # lessons 10–11: the ops build-service and service-request
from asgi import exchange, flask_in_threads, run_flask_inline, start

BODY_LIMIT = 2000  #: characters of each body sent back
HEADER_LIMIT = 8192  #: characters of each header value sent back (the first 100 headers)
CALL_LIMIT = 1.0  #: real seconds one learner call may take (with the fakes it takes about a millisecond)
SAMPLING_LIMIT = 2.0  #: real seconds for one batch of backoff_delay draws
ATTEMPT_HEADER = "X-Checker-Attempt"  #: the parent numbers every answer of its flaky server


# -- talking to the parent ---------------------------------------------------------------

class Channel:
    """One JSON object per line in each direction, on pipes only this process was given."""

    def __init__(self, read_fd: int, write_fd: int):
        self._in = os.fdopen(read_fd, "r", encoding="utf-8")
        self._out = os.fdopen(write_fd, "w", buffering=1, encoding="utf-8")

    def send(self, **message) -> None:
        self._out.write(json.dumps(message, default=str) + "\n")
        self._out.flush()

    def receive(self) -> dict:
        line = self._in.readline()
        if not line:
            os._exit(0)  # the parent is gone: nobody is left to answer
        return json.loads(line)

    def ask(self, **question):
        """A callback: the parent answers it before anything else happens here.

        The time-limit alarm is held off meanwhile, so a question is never left without
        its reply read (which would then be taken for the next command), and paused, so
        a learner call's time limit counts its own time, not the parent's answering."""
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        left = signal.setitimer(signal.ITIMER_REAL, 0)[0]
        try:
            self.send(ask=question)
            return self.receive()["reply"]
        finally:
            if left:
                signal.setitimer(signal.ITIMER_REAL, left)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})


CHANNEL: Channel = None  # type: ignore[assignment]  # set by main(), before any command
STATE: dict = {}


class Stop(BaseException):
    """The parent said stop (too many requests or sleeps); a BaseException so `except Exception` misses it."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


class CallTimedOut(BaseException):
    """A learner call ran past its real-time limit."""


# -- describing learner errors -------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def inside(filename: str) -> bool:
    """Whether a code file is the learner's (cached: every sleep and error walks the stack, and resolving
    a path costs a system call per folder on its way)."""
    try:
        return Path(filename).resolve().parent == STATE["folder"]
    except (OSError, ValueError):
        return False


def learner_frame(error: BaseException) -> dict:
    """An exception as JSON, placed at the deepest frame in the learner's folder."""
    try:
        text = str(error)[:500]
    except Exception:  # noqa: BLE001 - a learner exception whose str() fails
        text = "(the exception could not be shown)"
    summary = {"type": type(error).__name__, "text": text}
    if isinstance(error, SyntaxError) and error.filename:
        summary.update(file=Path(error.filename).name, line=error.lineno, column=error.offset,
                       code=(error.text or "").strip()[:200])
        return summary
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if inside(frame.filename):
            summary.update(file=Path(frame.filename).name, line=frame.lineno, code=(frame.line or "")[:200])
            break
    return summary


def where() -> dict:
    """The innermost stack frame running a file of the learner's folder."""
    import linecache

    frame = sys._getframe(1)
    while frame is not None:
        if inside(frame.f_code.co_filename):
            line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
            return {"file": Path(frame.f_code.co_filename).name, "line": frame.f_lineno, "code": line[:200]}
        frame = frame.f_back
    return {}


def safe_repr(value) -> str:
    try:
        return repr(value)[:120]
    except Exception:  # noqa: BLE001 - learner objects may have a broken __repr__
        return f"<{type(value).__name__}>"


def public_names(module) -> list[str]:
    return sorted(name for name, value in vars(module).items() if callable(value) and not name.startswith("_"))


def own_functions(module) -> list[str]:
    """The functions the module itself defines (not those it imported, like connexion's `problem`)."""
    return [name for name in public_names(module) if getattr(vars(module)[name], "__module__", None) == module.__name__]


# -- importing and serving ------------------------------------------------------------------

def op_preload(modules: list[str]) -> None:
    for name in modules:
        importlib.import_module(name)
    if "connexion" in modules:
        sandbox_templates()
        run_flask_inline()
    if "httpx" in modules:
        one_tls_context()


def one_tls_context() -> None:
    """httpx builds a TLS context for every client it makes, reading certifi's CA certificates (about 25 ms): a
    learner who opens a client per request, as lesson 10's services may, paid that on each. No request leaves the
    sandbox (the parent answers them all), so clients with the default settings share one context, built here
    once, as httpx's own docs advise (`verify=ctx`); any other `verify` or `cert` gets a context of its own."""
    from httpx import _config
    from httpx._transports import default

    made = _config.create_ssl_context
    shared = made()

    def create_ssl_context(verify=True, cert=None, trust_env=True):
        return shared if verify is True and not cert else made(verify=verify, cert=cert, trust_env=trust_env)

    default.create_ssl_context = create_ssl_context


def sandbox_templates() -> None:
    """Connexion renders every spec as a Jinja2 template; render it in Jinja2's own sandbox instead,
    so a template in a spec cannot run code (the parent refuses template syntax in learner specs too)."""
    import connexion.spec
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    environment = SandboxedEnvironment(undefined=jinja2.StrictUndefined)

    class SandboxedJinja:
        Template = staticmethod(environment.from_string)

        def __getattr__(self, name):
            return getattr(jinja2, name)

    connexion.spec.jinja2 = SandboxedJinja()


def op_import(module: str) -> dict:
    folder = STATE["folder"]
    path = folder / f"{module}.py"
    if not path.exists():
        return {"error": {"type": "FileNotFoundError", "text": f"{path.name} is missing"}}
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(module, path)
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[module] = loaded
    try:
        spec.loader.exec_module(loaded)
    except BaseException as error:  # noqa: BLE001 - SystemExit at import is learner input too
        return {"error": learner_frame(error)}
    STATE["modules"][module] = loaded
    return {"defines": public_names(loaded)}


def op_load_spec(spec: str) -> dict:
    """Load the spec as `connexion run` does, importing no learner code: report the operationIds
    connexion resolves (the parent checks them against the learner's modules without running them)."""
    import connexion
    from connexion.resolver import Resolver

    asked: list[str] = []

    def placeholder():
        return None

    def record(operation_id: str):
        asked.append(operation_id)
        return placeholder

    path = Path(spec)
    try:
        app = connexion.FlaskApp(__name__, specification_dir=str(path.parent))
        app.add_api(path.name, resolver=Resolver(function_resolver=record))
        failures = STATE["loop"].run_until_complete(start(app))
    except BaseException as error:  # noqa: BLE001 - connexion raises many kinds
        return {"error": {"type": type(error).__name__, "text": str(error)[:1500]}}
    if failures:
        return {"error": {"type": "StartupError", "text": failures[0][:1500]}}
    return {"operation_ids": asked[:200]}


class OperationMissing(LookupError):
    """An operationId names a function the learner's module does not define."""


class LearnerCallError(RuntimeError):
    """A learner's handler raised; connexion turns this into a 500 as it would any error."""


def watched(function, last_error: dict):
    """Wrap a learner handler so its exception is summarised by the learner's own line."""
    from connexion.exceptions import ProblemException
    from werkzeug.exceptions import HTTPException

    @functools.wraps(function)
    def handler(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (ProblemException, HTTPException):
            raise  # the documented ways to answer with an error
        except BaseException as error:  # noqa: BLE001 - sys.exit() in a handler too
            last_error["error"] = learner_frame(error)
            raise LearnerCallError(str(error)) from None

    return handler


def build(spec: Path, module, last_error: dict, options: dict, catch_errors: bool):
    import connexion
    from connexion.exceptions import InternalServerError
    from connexion.resolver import Resolver

    def resolve(operation_id: str):
        module_name, _, function_name = operation_id.rpartition(".")
        if module_name != module.__name__:
            raise LookupError(f"operationId {operation_id!r} does not point into {module.__name__}.py")
        function = getattr(module, function_name, None)
        if not callable(function):
            names = own_functions(module)
            raise OperationMissing(f"operationId `{operation_id}`: {module.__name__}.py has no function "
                                   f"`{function_name}` (it defines {', '.join(f'`{n}`' for n in names) or 'none'})")
        return watched(function, last_error)

    def unexpected(_request, error: Exception):
        """Answer 500 as connexion would, remembering where learner code raised."""
        if not isinstance(error, LearnerCallError):
            last_error.setdefault("error", learner_frame(error))
        return InternalServerError().to_problem()

    run_flask_inline()
    app = connexion.FlaskApp(__name__, specification_dir=str(spec.parent))
    app.add_api(spec.name, resolver=Resolver(function_resolver=resolve), **options)
    if catch_errors:
        app.add_error_handler(Exception, unexpected)
    failures = STATE["loop"].run_until_complete(start(app))  # resolves every operationId now, as `connexion run` does
    if failures:
        raise OperationMissing(failures[0]) if "operationId `" in failures[0] else RuntimeError(failures[0])
    return app


def op_build_app(specs: list[str], module: str, options_from: dict | None = None, clock: bool = False,
                 catch_errors: bool = False) -> dict:
    """Build from the first spec connexion accepts; report every attempt.

    `catch_errors`: also place an exception raised outside an operation (in a learner's
    validator, say) at the learner's line, answering 500 as connexion would."""
    learner = STATE["modules"][module]
    report: dict = {"failures": [], "options": []}
    options = {}
    for option, attribute in (options_from or {}).items():
        value = getattr(learner, attribute, None)
        if value is not None:
            options[option] = value
            body = value.get("body") if isinstance(value, dict) else None
            report["options"].append({"option": option, "attribute": attribute, "kind": type(value).__name__,
                                      "body_kind": type(body).__name__})
    if clock:
        found = getattr(learner, "clock", None)
        report["clock"] = {"found": callable(found), "kind": type(found).__name__ if hasattr(learner, "clock") else None}
        if callable(found):
            learner.clock = STATE["clock"]
    last_error: dict = {}
    for spec in specs:
        try:
            STATE["app"] = build(Path(spec), learner, last_error, options, catch_errors)
        except BaseException as error:  # noqa: BLE001 - connexion (and learner options) raise many kinds
            report["failures"].append({"spec": spec, "error": {"type": type(error).__name__, "text": str(error)[:1500]}})
            continue
        STATE["last_error"] = last_error
        report["ready"] = spec
        report["base_path"] = base_path(spec)
        break
    return report


def cut(value: str) -> str:
    """A header value, or its start marked as cut (so no check mistakes a cut value for the whole)."""
    return value if len(value) <= HEADER_LIMIT else f"{value[:HEADER_LIMIT]}…[{len(value):,} characters in all]"


def base_path(spec: str) -> str:
    """Where connexion serves the spec's paths: the path of its first `servers` URL ("" if none)."""
    from connexion.spec import Specification

    try:
        return Specification.load(spec).base_path or ""
    except Exception:  # noqa: BLE001 - the app was built, so this cannot fail in a way worth reporting
        return ""


class SetClock:
    """The learner module's `clock` while the app is served: the time the parent set for this request."""

    def __init__(self):
        self.now, self.calls = 0.0, 0

    def __call__(self) -> float:
        self.calls += 1
        return self.now


def op_request(method: str = "GET", path: str = "/", headers: dict | None = None, body: str = "",
               count: int = 1, now: float | None = None) -> None:
    """Send `count` requests; each answer goes back as an item as soon as it is known."""
    app, last_error, loop = STATE["app"], STATE["last_error"], STATE["loop"]
    for _ in range(count):
        last_error.clear()
        if now is not None:
            STATE["clock"].now = now
        try:
            status, pairs, received = loop.run_until_complete(exchange(app, method, path, body.encode(), headers))
        except Exception as error:  # noqa: BLE001 - connexion itself raised: reported, so we live to say so
            CHANNEL.send(item={"crashed": learner_frame(error)})
            return
        answer = {"status": status, "headers": [[name[:100], cut(value)] for name, value in pairs[:100]],
                  "body": received[: BODY_LIMIT * 4].decode("utf-8", "replace")[:BODY_LIMIT],
                  "clock_reads": STATE["clock"].calls}
        if "error" in last_error:
            answer["error"] = last_error["error"]
        CHANNEL.send(item=answer)


# -- learner clients: every request, sleep and clock reading asks the parent --------------

def as_seconds(value) -> float:
    """Check a delay the way time.sleep does, raising the same errors."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if hasattr(value, "__float__") and not isinstance(value, (str, bytes)):
            value = float(value)  # numpy floats, Decimal, ...
        else:
            raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
    if math.isnan(value):
        raise ValueError("Invalid value NaN (not a number)")
    if value < 0:
        raise ValueError("sleep length must be non-negative")
    if math.isinf(value):
        raise OverflowError("sleep length is too large")
    return float(value)


def shown(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value if math.isfinite(value) else repr(value)
    try:
        return float(value) if hasattr(value, "__float__") and not isinstance(value, (str, bytes)) else safe_repr(value)[:60]
    except Exception:  # noqa: BLE001
        return safe_repr(value)[:60]


def sleep_asking(seconds=None, *_extra, real: bool = False) -> None:
    reply = CHANNEL.ask(kind="sleep", seconds=shown(seconds), real=real, where=where())
    if reply.get("stop"):
        raise Stop(reply["stop"])
    as_seconds(seconds)  # a delay real time.sleep would refuse is refused here too


def injected_sleep(seconds=None, *extra) -> None:
    sleep_asking(seconds, *extra)


def clock_asking() -> float:
    return CHANNEL.ask(kind="clock")["now"]


class Tripwire:
    """Stands in for time.sleep: a real sleep is reported to the parent, and does not wait.

    `noted`: keep the first few real sleeps here instead of asking the parent about each one
    (backoff_delay is drawn thousands of times, and a sleep there only earns a message)."""

    def __init__(self, module, noted: list | None = None):
        self.module, self.original, self.noted = module, time.sleep, noted

    def __enter__(self):
        time.sleep = self
        self.aliases = [name for name, value in vars(self.module).items() if value is self.original]
        for name in self.aliases:  # `from time import sleep`
            setattr(self.module, name, self)
        return self

    def __exit__(self, *exc_info) -> None:
        time.sleep = self.original
        for name in self.aliases:
            setattr(self.module, name, self.original)

    def __call__(self, seconds=None, *extra) -> None:
        if self.noted is None:
            sleep_asking(seconds, *extra, real=True)
            return
        if len(self.noted) < 3:
            self.noted.append({"seconds": shown(seconds), "real": True, "where": where()})
        as_seconds(seconds)


def transport():
    """An httpx transport whose every request is answered by the parent."""
    import httpx

    def handle(request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {}).get("read")
        reply = CHANNEL.ask(kind="http", method=request.method, url=str(request.url),
                            timeout=None if timeout is None else shown(timeout))
        if reply.get("stop"):
            raise Stop(reply["stop"])
        if reply.get("refuse"):
            raise httpx.ConnectError("connection refused (the checker's server is down)", request=request)
        if reply.get("timeout"):
            raise httpx.ReadTimeout("no answer within the request's timeout (the checker's server is slow)",
                                    request=request)
        return httpx.Response(reply["status"], headers=reply["headers"], content=reply["body"].encode())

    return httpx.MockTransport(handle)


def _alarm(signum, frame):  # pragma: no cover - runs on SIGALRM
    raise CallTimedOut()


def guarded(call, limit: float = CALL_LIMIT) -> dict:
    """Run a learner call under a real-time alarm; describe what it did, whatever it did."""
    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, _alarm)
    outcome: dict = {}
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, limit)
            value = call()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    except CallTimedOut:
        outcome = {"kind": "timeout"}
    except Stop as stop:
        outcome = {"kind": stop.kind}
    except BaseException as error:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are learner input too
        outcome = {"kind": "raised", "error": describe_error(error)}
    else:
        outcome = {"kind": "returned", "response": describe_response(value)}
        if outcome["response"] is None:
            outcome["value"] = {"type": type(value).__name__, "repr": safe_repr(value)}
        STATE["value"] = value
    outcome["seconds"] = round(time.monotonic() - started, 4)
    return outcome


def describe_response(value) -> dict | None:
    """Status and attempt number of an httpx.Response the parent's server gave; None for anything else."""
    import httpx

    if not isinstance(value, httpx.Response):
        return None
    try:
        attempt = int(value.headers.get(ATTEMPT_HEADER, "0"))
    except ValueError:
        attempt = 0
    return {"status": value.status_code, "attempt": attempt}


def chains_transport_error(error: BaseException | None) -> bool:
    """True if the error is, or was raised from, an httpx transport error (a refused connection)."""
    import httpx

    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, httpx.TransportError):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def describe_error(error: BaseException) -> dict:
    summary = learner_frame(error)
    try:
        carried = getattr(error, "response", None)
    except Exception:  # noqa: BLE001 - httpx raises RuntimeError for an unset .response
        carried = None
    summary["response"] = describe_response(carried)
    summary["transport_error"] = chains_transport_error(error)
    circuit_open = getattr(STATE["modules"].get("client"), "CircuitOpen", None)
    summary["circuit_open"] = isinstance(circuit_open, type) and isinstance(error, circuit_open)
    return summary


def client_module():
    return STATE["modules"]["client"]


def op_missing(names: list[str], kind: str = "callable") -> dict:
    module = client_module()
    test = (lambda v: isinstance(v, type)) if kind == "class" else callable
    return {"missing": [n for n in names if not test(getattr(module, n, None))], "defines": public_names(module)}


def make_policy(fields: dict) -> dict:
    module = client_module()
    return guarded(lambda: module.RetryPolicy(**fields))


def op_call(function: str, policy: dict, url: str, clock: bool = False) -> dict:
    module = client_module()
    made = make_policy(policy)
    if made["kind"] != "returned":
        return {"policy_failed": made}
    chosen = STATE.pop("value")
    extra = {"clock": clock_asking} if clock else {}
    import httpx

    # timeout=None: the client itself sets no timeout, so each request's is the one the learner's code chose
    with Tripwire(module), httpx.Client(transport=transport(), timeout=None) as client:
        return guarded(lambda: getattr(module, function)(url, policy=chosen, client=client, sleep=injected_sleep,
                                                         **extra))


def op_jitter() -> dict:
    module = client_module()
    made = guarded(lambda: module.RetryPolicy().jitter)
    if made["kind"] == "returned":
        value = STATE.pop("value")
        return {"jitter": value if isinstance(value, str) else safe_repr(value)[:60]}
    return {"jitter": None, "outcome": made}


def number(value) -> float | None:
    """The value as a float if it is a finite real number (numpy's too), else None."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return seconds if math.isfinite(seconds) else None


def op_sample(policy: dict, retry: int, count: int) -> dict:
    module = client_module()
    made = make_policy(policy)
    if made["kind"] != "returned":
        return {"policy_failed": made}
    chosen, function, noted = STATE.pop("value"), module.backoff_delay, []
    with Tripwire(module, noted):
        outcome = guarded(lambda: [function(retry, chosen) for _ in range(count)], limit=SAMPLING_LIMIT)
    if outcome["kind"] != "returned":
        return {"outcome": outcome, "sleeps": noted}
    values = STATE.pop("value")
    numbers_ = [number(v) for v in values]
    if any(v is None for v in numbers_):
        bad = next(v for v, n in zip(values, numbers_) if n is None)
        return {"not_a_number": {"type": type(bad).__name__, "repr": safe_repr(bad)}, "sleeps": noted}
    return {"values": numbers_, "sleeps": noted}


def op_breaker(threshold: int, cooldown: float) -> dict:
    module = client_module()
    made = guarded(lambda: module.CircuitBreaker(failure_threshold=threshold, cooldown=cooldown, clock=clock_asking))
    if made["kind"] == "returned":
        STATE["breaker"] = STATE.pop("value")
        return {}
    return {"breaker_failed": made}


def op_breaker_call(url: str) -> dict:
    import httpx

    breaker = STATE["breaker"]
    with Tripwire(client_module()), httpx.Client(transport=transport()) as client:
        return guarded(lambda: breaker.call(client.get, url))


# -- lessons 8 and 9: jobs --

HOLD_LIMIT = 1.0  #: real seconds the request sent during a hook may take before the hook goes on without it


def answer_of(status: int, pairs, received: bytes) -> dict:
    return {"status": status, "headers": [[name[:100], cut(value)] for name, value in pairs[:100]],
            "body": received[: BODY_LIMIT * 4].decode("utf-8", "replace")[:BODY_LIMIT]}


def op_request_during(module: str, hook: str, during: dict | None = None, method: str = "POST", path: str = "/",
                      headers: dict | None = None, body: str = "", now: float | None = None) -> dict:
    """Send one request; every call it makes of the module's function `hook` is first a question to the
    parent (which counts them). If `during` is given, the first such call sends that request through the
    app, from the handler's own thread, and waits for its answer, so it is served while the first is still
    being processed."""
    import concurrent.futures

    learner, app, loop = STATE["modules"][module], STATE["app"], STATE["loop"]
    original = getattr(learner, hook, None)
    seen: dict = {"calls": 0}
    if not callable(original):
        return {"hook": None}

    def held(*args, **kwargs):
        seen["calls"] += 1
        if CHANNEL.ask(kind=hook).get("stop"):
            raise Stop("flooded")
        if during is not None and seen["calls"] == 1:
            future = asyncio.run_coroutine_threadsafe(exchange(app, during.get("method", "POST"), during["path"],
                                                                during.get("body", "").encode(), during.get("headers")), loop)
            try:
                seen["during"] = answer_of(*future.result(timeout=HOLD_LIMIT))
            except concurrent.futures.TimeoutError:
                seen["during"], seen["future"] = {"held": True}, future
            except Exception as error:  # noqa: BLE001 - connexion itself raised
                seen["during"] = {"crashed": learner_frame(error)}
        return original(*args, **kwargs)

    setattr(learner, hook, held)
    STATE["last_error"].clear()
    if now is not None:
        STATE["clock"].now = now
    try:
        with flask_in_threads():  # the handler waits in its thread while the loop serves `during`
            answer = answer_of(*loop.run_until_complete(exchange(app, method, path, body.encode(), headers)))
    except Exception as error:  # noqa: BLE001 - connexion itself raised: reported, so we live to say so
        return {"hook": seen["calls"], "crashed": learner_frame(error), "during": seen.get("during")}
    finally:
        if "future" in seen:  # let a held request end now, so none of its questions comes after this command's answer
            loop.run_until_complete(asyncio.wait([asyncio.wrap_future(seen["future"], loop=loop)], timeout=HOLD_LIMIT))
        setattr(learner, hook, original)
    if "error" in STATE["last_error"]:
        answer["error"] = STATE["last_error"]["error"]
    return {"hook": seen["calls"], "answer": answer, "during": seen.get("during")}


def jobs_transport():
    """An httpx transport whose every request, with its Idempotency-Key and body, is answered by the parent;
    the parent may also lose the answer: a timeout, or a connection dropped before any answer came."""
    import httpx

    def handle(request: httpx.Request) -> httpx.Response:
        reply = CHANNEL.ask(kind="http", method=request.method, url=str(request.url),
                            keys=[cut(v) for v in request.headers.get_list("idempotency-key")[:5]],
                            body=request.read()[:2000].decode("utf-8", "replace"))
        if reply.get("stop"):
            raise Stop(reply["stop"])
        if reply.get("lost") == "timeout":
            raise httpx.ReadTimeout("no answer within the request's timeout (the checker's server is slow)",
                                    request=request)
        if reply.get("lost"):
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        return httpx.Response(reply["status"], headers=reply["headers"], content=reply["body"].encode())

    return httpx.MockTransport(handle)


def op_jobs_call(base_url: str, url: str, deadline: float) -> dict:
    """`submit_and_wait(base_url, url, client=, sleep=, clock=, deadline=)` of jobs_client.py, every request,
    sleep and clock reading asking the parent; says whether an exception raised is a TimeoutError."""
    import httpx

    module, raised = STATE["modules"]["jobs_client"], []
    if not callable(getattr(module, "submit_and_wait", None)):
        return {"missing": ["submit_and_wait"], "defines": public_names(module)}

    def call(client):
        try:
            return module.submit_and_wait(base_url, url, client=client, sleep=injected_sleep, clock=clock_asking,
                                          deadline=deadline)
        except TimeoutError:
            raised.append(True)
            raise

    with Tripwire(module), httpx.Client(transport=jobs_transport(), timeout=None) as client:
        outcome = guarded(lambda: call(client))
    if outcome["kind"] == "raised":
        outcome["error"]["timeout_error"] = bool(raised)
    return outcome


OPS = {
    "preload": op_preload, "import": op_import, "load-spec": op_load_spec, "build-app": op_build_app,
    "request": op_request, "missing": op_missing, "call": op_call, "jitter": op_jitter, "sample": op_sample,
    "breaker": op_breaker, "breaker-call": op_breaker_call,
    "request-during": op_request_during, "jobs-call": op_jobs_call,
    "build-service": virtual_time.op_build_service, "service-request": virtual_time.op_service_request,
}


def confine(rules: dict) -> None:
    """Landlock, where bubblewrap could not run: read-only where told, read-write only in the scratch folder.

    Applied before any learner code runs, and irrevocable for this process and all it starts."""
    from landlock import FSAccess, Ruleset

    read_file = FSAccess.READ_FILE | FSAccess.EXECUTE
    ruleset = Ruleset()
    for path in rules["read"]:
        if os.path.exists(path):
            ruleset.allow(path, rules=read_file | FSAccess.READ_DIR if os.path.isdir(path) else read_file)
    for path in rules["devices"]:
        if os.path.exists(path):
            ruleset.allow(path, rules=FSAccess.READ_FILE | FSAccess.WRITE_FILE)
    for path in rules["write"]:
        ruleset.allow(path, rules=FSAccess.all())
    ruleset.apply()


def serve_commands(read_fd: int, write_fd: int, folder: str) -> None:
    """Answer the parent's commands on these pipes until it closes them (then the process ends)."""
    global CHANNEL
    CHANNEL = Channel(read_fd, write_fd)
    STATE.clear()
    STATE.update(folder=Path(folder).resolve(), modules={}, clock=SetClock(), loop=asyncio.new_event_loop())
    CHANNEL.send(ready=True)
    while True:
        command = CHANNEL.receive()
        op = command.pop("op")
        try:
            CHANNEL.send(done=OPS[op](**command))
        except BaseException as error:  # noqa: BLE001 - whatever learner code raised: say so, go on
            CHANNEL.send(failed=learner_frame(error))


def not_dumpable() -> None:
    """No process of this sandbox may read another's memory or open its pipes through /proc (same uid or not)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0


def zygote(control_fd: int, folder: str, preload: list[str]) -> None:
    """Import the libraries once, then fork one process per task (see checker.sandbox.Zygote).

    Runs no learner code itself: a task's process gets its own pipes, output file and
    session, imports the learner's module and answers commands as `serve_commands`."""
    import socket

    control = socket.socket(fileno=control_fd)
    op_preload(preload)
    not_dumpable()  # inherited by every task's process
    while True:
        try:
            message, fds, _flags, _address = socket.recv_fds(control, 4096, 5)
        except OSError:
            os._exit(0)
        if not message:
            os._exit(0)  # the parent is gone
        request = json.loads(message)
        if request.get("op") == "fork" and len(fds) >= 3:  # pipes, output, then the task's cgroups (if any)
            try:
                pid = os.fork()
            except OSError as error:  # out of processes (a fork bomb of an earlier task?): this task cannot run
                for fd in fds:
                    os.close(fd)
                control.send(json.dumps({"error": str(error)}).encode())
                continue
            if pid == 0:  # pragma: no cover - the task's process
                try:
                    control.close()
                    for entry in fds[3:]:  # into the task's own cgroups, before any learner code
                        try:
                            os.write(entry, b"0")
                        except OSError:
                            pass
                        os.close(entry)
                    os.setsid()
                    os.dup2(fds[2], 1)
                    os.dup2(fds[2], 2)
                    serve_commands(fds[0], fds[1], folder)
                finally:
                    os._exit(0)
            for fd in fds:
                os.close(fd)
            control.send(json.dumps({"pid": pid}).encode())
        elif request.get("op") == "end":
            control.send(json.dumps({"code": end_task(int(request["pid"]), float(request.get("grace", 0)))}).encode())
        else:
            for fd in fds:
                os.close(fd)
            control.send(b"{}")


def end_task(pid: int, grace: float) -> int | None:
    """Let a task's process end by itself within `grace` seconds, else kill its session; its exit code, or
    None if it had to be killed."""
    until = time.monotonic() + grace
    code = None
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            break
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() >= until:
            break
        time.sleep(0.01)
    try:
        os.killpg(pid, signal.SIGKILL)  # whatever it started in its session goes too
    except (ProcessLookupError, PermissionError):
        pass
    if code is None:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    return code


def main() -> None:
    config = json.loads(sys.argv[1])
    if config.get("landlock"):
        confine(config["landlock"])
    if config.get("max_processes"):  # counted per user namespace or fresh uid: only this sandbox's count
        import resource

        try:
            resource.setrlimit(resource.RLIMIT_NPROC, (config["max_processes"], config["max_processes"]))
        except (ValueError, OSError):
            pass
    # Jupyter pulls in rfc3987-syntax, which compiles a grammar for 0.9 s whenever
    # jsonschema is imported. Nothing here validates URI formats, so skip it.
    sys.modules.setdefault("rfc3987_syntax", None)
    zygote(config["control_fd"], config["folder"], config.get("preload", []))


if __name__ == "__main__":
    main()
