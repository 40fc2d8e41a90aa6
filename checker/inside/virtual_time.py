"""Lessons 10–11 in the sandbox: a service that calls services, on an event loop whose clock is the parent's.

Why a module of its own: this is the one part of the shim with its own machinery (an event loop, the
upstreams, the log records of a request); the rest of the shim answers one command with one call.
It serves the ops `build-service` and `service-request` (see shim.py's docstring and OPS).

The learner's service is a connexion AsyncApp run on a loop whose time is the parent's: when the loop
would wait, it asks the parent to move ITS clock on (`idle`); an upstream request asks the parent (`http`),
which says when its answer is delivered, and hands the answer over (`body`) only once its own clock has
reached that moment. So the parent alone knows how long the endpoint took.

What it trusts: nothing. It runs beside learner code, which may patch it; like the shim, it only does what
the parent asks and reports what it saw (the answer, where the learner's code raised, its log records),
and the parent judges. It imports nothing of the checker: the shim's channel, state and helpers are read
as `shim.NAME` when used (the shim runs as the script `__main__`; `import shim` would load a second copy,
with no channel).
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import __main__ as shim
from asgi import exchange, start

SERVICE_LIMIT = 2.0  #: real seconds one request to the service may take (it takes milliseconds)
LOG_LIMIT = 20  #: log records kept per request


class VirtualSelector:
    """A selector that never blocks on time: instead of waiting, it asks the parent to move its clock.

    Work handed to a thread (connexion runs a plain `def` handler in one) takes no modelled time: while
    any is in flight, the selector waits for it for real, and time stands still."""

    def __init__(self, real):
        self.real = real

    def __getattr__(self, name):
        return getattr(self.real, name)

    def select(self, timeout=None):
        ready = self.real.select(0)
        if ready or timeout == 0:
            return ready
        if shim.STATE.get("in_threads"):
            return self.real.select(SERVICE_LIMIT)  # a thread's result wakes the loop; the alarm bounds the wait
        reply = shim.CHANNEL.ask(kind="idle", seconds=None if timeout is None else shim.shown(timeout))
        if reply.get("stop"):
            raise shim.Stop(reply["stop"])
        shim.STATE["vnow"] = float(reply["now"])
        return []


def virtual_loop():
    import selectors

    class VirtualLoop(asyncio.SelectorEventLoop):
        def time(self) -> float:
            return shim.STATE["vnow"]

        def run_in_executor(self, executor, func, *args):
            future = super().run_in_executor(executor, func, *args)
            count_thread(+1)
            future.add_done_callback(lambda _future: count_thread(-1))  # called on the loop, once it has the result
            return future

    return VirtualLoop(VirtualSelector(selectors.DefaultSelector()))


def count_thread(change: int) -> None:
    shim.STATE["in_threads"] = shim.STATE.get("in_threads", 0) + change


def count_anyio_threads() -> None:
    """Starlette (and so connexion) runs sync functions with anyio.to_thread.run_sync: count those too."""
    import anyio.to_thread

    original = anyio.to_thread.run_sync

    async def run_sync(*args, **kwargs):
        count_thread(+1)
        try:
            return await original(*args, **kwargs)
        finally:
            count_thread(-1)  # on the loop, after the thread's result arrived

    anyio.to_thread.run_sync = run_sync


async def virtual_sleep_until(moment: float) -> None:
    while shim.STATE["vnow"] < moment:
        await asyncio.sleep(moment - shim.STATE["vnow"])


def upstream_question(request) -> dict:
    timeout = request.extensions.get("timeout", {}).get("read")
    return {"kind": "http", "method": request.method, "url": str(request.url)[:300],
            "headers": [[name[:60], shim.cut(value)[:200]] for name, value in request.headers.multi_items()[:40]],
            "timeout": None if timeout is None else shim.shown(timeout)}


def upstream_response(request, answer: dict):
    import httpx

    return httpx.Response(answer["status"], headers=answer["headers"], content=answer["body"].encode(), request=request)


async def ask_upstream(self, request):
    """httpx.AsyncHTTPTransport.handle_async_request in this lesson: the parent plays every upstream."""
    import httpx

    started = shim.STATE["vnow"]
    question = upstream_question(request)
    reply = shim.CHANNEL.ask(**question)
    if reply.get("stop"):
        raise shim.Stop(reply["stop"])
    if reply.get("refuse"):
        raise httpx.ConnectError("connection refused (the checker's upstream is down)", request=request)
    at = reply.get("at")  # None: this upstream never answers
    timeout = question["timeout"]
    limit = started + timeout if isinstance(timeout, (int, float)) and timeout >= 0 else None
    while at is not None and (limit is None or at <= limit):
        await virtual_sleep_until(at)
        answer = shim.CHANNEL.ask(kind="body", id=reply["id"])
        if answer.get("stop"):
            raise shim.Stop(answer["stop"])
        if not answer.get("early"):
            return upstream_response(request, answer)
    if limit is None:
        await asyncio.get_running_loop().create_future()  # waits for ever, as a request without a timeout would
    await virtual_sleep_until(limit)
    raise httpx.ReadTimeout("no answer within the request's timeout (the checker's upstream is slow)", request=request)


def ask_upstream_sync(self, request):
    """httpx.HTTPTransport.handle_request in this lesson: answered only if the answer is due now."""
    import httpx

    reply = shim.CHANNEL.ask(**upstream_question(request))
    if reply.get("stop"):
        raise shim.Stop(reply["stop"])
    if reply.get("refuse"):
        raise httpx.ConnectError("connection refused (the checker's upstream is down)", request=request)
    answer = shim.CHANNEL.ask(kind="body", id=reply["id"]) if reply.get("at") is not None else {"early": True}
    if answer.get("early"):
        raise httpx.ReadTimeout("the checker's upstream answers later: a blocking httpx.Client cannot wait for it "
                                "here; use httpx.AsyncClient in an async def handler", request=request)
    return upstream_response(request, answer)


def route_upstreams() -> None:
    """Every httpx client the learner's code makes sends its requests to the parent, none to the network."""
    import httpx

    httpx.AsyncHTTPTransport.handle_async_request = ask_upstream
    httpx.HTTPTransport.handle_request = ask_upstream_sync


def crash() -> None:
    """The checker's own operation: an unexpected exception whose text must never reach a client."""
    raise RuntimeError("checker-secret-4711: could not open /srv/checker/secret_settings.py")


async def crash_async() -> None:
    raise KeyError("checker-secret-4712 in /srv/checker/secret_cache.py")


def watched_service(function, last_error: dict):
    """Note where a learner handler raised, and re-raise the same exception for the learner's error handler."""
    if asyncio.iscoroutinefunction(function):
        @functools.wraps(function)
        async def handler(*args, **kwargs):
            try:
                return await function(*args, **kwargs)
            except Exception as error:
                last_error.setdefault("error", shim.learner_frame(error))
                raise
        return handler

    @functools.wraps(function)
    def sync_handler(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception as error:
            last_error.setdefault("error", shim.learner_frame(error))
            raise
    return sync_handler


def op_build_service(spec: str, module: str) -> dict:
    """An AsyncApp from the checker's spec: `checker.*` operationIds are the shim's, the rest the learner's;
    then the learner's `configure(app)`, as the lesson's own runner calls it."""
    import connexion
    from connexion.resolver import Resolver

    learner = shim.STATE["modules"][module]
    last_error: dict = {}
    own = {"checker.crash": crash, "checker.crash_async": crash_async}

    def resolve(operation_id: str):
        if operation_id in own:
            return own[operation_id]
        function = getattr(learner, operation_id.rpartition(".")[2], None)
        if not callable(function):
            raise shim.OperationMissing(f"operationId `{operation_id}`: {module}.py has no function "
                                   f"`{operation_id.rpartition('.')[2]}`")
        return watched_service(function, last_error)

    path = Path(spec)
    report: dict = {"configure": callable(getattr(learner, "configure", None)),
                    "async_summary": asyncio.iscoroutinefunction(getattr(learner, "get_summary", None))}
    try:
        app = connexion.AsyncApp(__name__, specification_dir=str(path.parent))
        app.add_api(path.name, resolver=Resolver(function_resolver=resolve))
    except BaseException as error:  # noqa: BLE001
        return {**report, "failed": {"type": type(error).__name__, "text": str(error)[:1500]}}
    if report["configure"]:
        try:
            learner.configure(app)
        except BaseException as error:  # noqa: BLE001 - learner code
            return {**report, "configure_failed": shim.learner_frame(error)}
    failures = shim.STATE["loop"].run_until_complete(start(app))
    if failures:
        return {**report, "failed": {"type": "StartupError", "text": failures[0][:1500]}}
    route_upstreams()
    count_anyio_threads()
    shim.STATE.update(app=app, last_error=last_error)
    return {**report, "ready": True}


class KeptRecords:
    """Every log record learner code emits during one request, read after its handlers ran (so a filter on
    a logger or on a handler, an adapter's `extra` or a record factory have all had their say)."""

    def __init__(self):
        import logging

        self.records: list[dict] = []
        self.original = logging.Logger.callHandlers

    def __enter__(self):
        import logging

        kept, original = self.records, self.original

        def call_handlers(logger, record):
            try:
                original(logger, record)
            finally:
                try:
                    if shim.inside(str(getattr(record, "pathname", ""))) and len(kept) < LOG_LIMIT:
                        kept.append(describe_record(record))
                except Exception:  # noqa: BLE001 - a record learner code made odd: not kept, never raised at it
                    pass

        logging.Logger.callHandlers = call_handlers
        self.level = logging.root.level
        logging.root.setLevel(min(self.level or logging.INFO, logging.INFO))
        return self

    def __exit__(self, *exc_info):
        import logging

        logging.Logger.callHandlers = self.original
        logging.root.setLevel(self.level)


def trace_id_of(record) -> str | None:
    """A record's `trace_id` attribute as text (a string as it is, anything else as its repr), or None."""
    if not hasattr(record, "trace_id"):
        return None
    value = getattr(record, "trace_id", None)
    return value[:80] if isinstance(value, str) else shim.safe_repr(value)[:80]


def describe_record(record) -> dict:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a learner's bad format string
        message = str(record.msg)
    exc = record.exc_info[0].__name__ if isinstance(record.exc_info, tuple) and record.exc_info[0] else None
    return {"level": record.levelname[:20], "message": message[:300], "line": record.lineno,
            "trace_id": trace_id_of(record),
            "exc": exc}


def op_service_request(method: str = "GET", path: str = "/", headers: dict | None = None, now: float = 0.0) -> None:
    """One request through the service on a fresh virtual-time loop; its answer and log records as an item."""
    app, last_error = shim.STATE["app"], shim.STATE["last_error"]
    last_error.clear()
    shim.STATE["vnow"], shim.STATE["in_threads"] = float(now), 0
    loop = virtual_loop()
    answer: dict = {}
    with KeptRecords() as kept:
        outcome = shim.guarded(lambda: loop.run_until_complete(exchange(app, method, path, b"", headers)),
                               SERVICE_LIMIT)
    try:
        loop.close()
    except Exception:  # noqa: BLE001 - a loop stopped mid-request
        pass
    if outcome["kind"] == "returned":
        status, pairs, received = shim.STATE.pop("value")
        answer = {"status": status, "headers": [[name[:100], shim.cut(value)] for name, value in pairs[:100]],
                  "body": received[: shim.BODY_LIMIT * 4].decode("utf-8", "replace")[:shim.BODY_LIMIT]}
    else:
        answer = {"ended": outcome["kind"], "error": outcome.get("error")}
    if "error" in last_error:
        answer["raised"] = last_error["error"]
    answer["logs"] = kept.records
    shim.CHANNEL.send(item=answer)
