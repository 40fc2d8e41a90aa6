"""Fakes the client-retry probes share: a flaky server, a recording sleep, a fake clock, and guards.

A learner's HTTP client is graded inside the worker without a network and
without waiting:

* `FlakyServer` answers scripted replies through `httpx.MockTransport`, so the
  learner's own `client.get(url)` reaches it in-process;
* `FakeSleep` records every delay the learner asks for and returns at once,
  failing the way `time.sleep` would on a negative or non-numeric delay;
* `Tripwire` replaces `time.sleep` (and any alias of it in the learner's module)
  while the probe runs, so a learner who ignores the injected `sleep` is caught
  on the spot, with the line that did it, instead of stalling the checker;
* `guarded` runs one learner call under a real-time alarm, so a busy loop or a
  sleep the tripwire cannot see ends after `CALL_LIMIT` seconds.

Everything a probe reports is plain JSON: see `outcome_event`.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Callable

import httpx

from checker.worker import learner_frame

#: where learner clients are pointed; nothing listens on port 9, so a client that
#: bypasses the injected `client` fails at once with a connection error
URL = "http://127.0.0.1:9/status"
CALL_LIMIT = 1.0  #: real seconds one learner call may take (with the fakes it takes about a millisecond)
MAX_REQUESTS = 50  #: a scenario's server stops the learner's code after this many requests
MAX_SLEEPS = 50  #: and the recording sleep after this many sleeps
ATTEMPT_HEADER = "X-Checker-Attempt"  #: numbers every answer, so the checker knows which one came back


def _can_alarm() -> bool:
    """SIGALRM works on POSIX, and only from the main thread (where the worker runs probes)."""
    import threading

    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


class Stop(BaseException):
    """Ends learner code from inside; a BaseException so `except Exception` does not swallow it."""


class ServerFlooded(Stop):
    """The learner's client kept asking long after any retry policy would have given up."""


class SleptTooOften(Stop):
    """The learner's client kept sleeping long after any retry policy would have given up."""


class CallTimedOut(Stop):
    """A learner call ran past its real-time limit."""


_INSIDE: dict[tuple[str, Path], bool] = {}


def _inside(filename: str, folder: Path) -> bool:
    """True if `filename` is a file of `folder` (cached: resolving paths costs system calls)."""
    key = (filename, folder)
    if key not in _INSIDE:
        try:
            _INSIDE[key] = Path(filename).resolve().parent == folder.resolve()
        except (OSError, ValueError):
            _INSIDE[key] = False
    return _INSIDE[key]


def _where(folder: Path) -> dict:
    """The innermost stack frame that runs a file of the learner's folder: file, line, code."""
    import linecache

    frame = sys._getframe(1)
    while frame is not None:
        if _inside(frame.f_code.co_filename, folder):
            line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
            return {"file": Path(frame.f_code.co_filename).name, "line": frame.f_lineno, "code": line[:200]}
        frame = frame.f_back
    return {}


def _as_seconds(value: Any) -> float:
    """Check a delay the way time.sleep does, raising the same errors; return it as a float."""
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


class SleepLog:
    """Every sleep of one scenario, injected or real, in the order they were asked for."""

    def __init__(self, stop_after: int | None = MAX_SLEEPS, keep: int | None = None) -> None:
        self.entries: list[dict] = []
        self.count = 0
        self.stop_after, self.keep = stop_after, keep  #: None: never stop the learner / keep every entry

    def record(self, value: Any, real: bool, where: dict) -> None:
        if self.stop_after is not None and self.count >= self.stop_after:
            raise SleptTooOften(self.count)
        self.count += 1
        if self.keep is not None and len(self.entries) >= self.keep:
            return
        shown = value if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)[:60]
        self.entries.append({"seconds": shown, "real": real, **where})

    @property
    def seconds(self) -> list:
        return [entry["seconds"] for entry in self.entries]


class FakeSleep:
    """The `sleep` handed to the learner: records the delay and returns at once."""

    def __init__(self, log: SleepLog, folder: Path):
        self.log, self.folder = log, folder

    def __call__(self, seconds: Any = None, *extra: Any) -> None:
        self.log.record(seconds, real=False, where=_where(self.folder))
        _as_seconds(seconds)  # a delay real time.sleep would refuse is refused here too


class Tripwire:
    """Stands in for time.sleep while a probe runs: records a real sleep, and does not wait."""

    def __init__(self, module: Any, folder: Path):
        self.module, self.folder = module, folder
        self.log: SleepLog | None = None  #: the current scenario's log, set by the probe
        self.original = time.sleep
        self.calls: list[dict] = []

    def install(self) -> Tripwire:
        time.sleep = self
        self.aliases = [name for name, value in vars(self.module).items() if value is self.original]
        for name in self.aliases:  # `from time import sleep`
            setattr(self.module, name, self)
        return self

    def __enter__(self) -> Tripwire:
        return self.install()

    def __exit__(self, *exc_info) -> None:
        """Put time.sleep back, in time and in the learner's module."""
        time.sleep = self.original
        for name in self.aliases:
            setattr(self.module, name, self.original)

    def __call__(self, seconds: Any = None, *extra: Any) -> None:
        where = _where(self.folder)
        shown = seconds if isinstance(seconds, (int, float)) else repr(seconds)[:60]
        self.calls.append({"seconds": shown, **where})
        if self.log is not None:
            self.log.record(seconds, real=True, where=where)
        _as_seconds(seconds)


class FakeClock:
    """A monotonic clock the probe moves by hand; counts how often learner code reads it."""

    def __init__(self, now: float = 1000.0):
        self.now, self.calls = now, 0

    def __call__(self) -> float:
        self.calls += 1
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a status with an optional Retry-After, or a refused connection."""

    status: int = 200
    retry_after: str | None = None  #: sent as is
    date_in: float | None = None  #: Retry-After as an HTTP-date this many seconds from now
    refuse: bool = False  #: raise httpx.ConnectError instead of answering

    @classmethod
    def from_json(cls, data: dict) -> Reply:
        return cls(**data)


def http_date(timestamp: float) -> str:
    return format_datetime(datetime.fromtimestamp(timestamp, timezone.utc), usegmt=True)


class FlakyServer:
    """An in-process server that plays `replies` in order, repeating the last one; counts requests."""

    def __init__(self, replies: list[Reply]):
        self.replies = replies
        self.requests: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        number = len(self.requests) + 1
        if number > MAX_REQUESTS:
            raise ServerFlooded(number)
        self.requests.append({"method": request.method, "url": str(request.url)})
        reply = self.replies[min(number, len(self.replies)) - 1]
        if reply.refuse:
            raise httpx.ConnectError("connection refused (the checker's server is down)", request=request)
        now = time.time()
        headers = {ATTEMPT_HEADER: str(number), "Cache-Control": "no-store", "Date": http_date(math.floor(now)),
                   "Content-Type": "application/problem+json"}
        if reply.retry_after is not None:
            headers["Retry-After"] = reply.retry_after
        if reply.date_in is not None:
            # Rounded up, so the wait a client works out is never below date_in, however late it reads it.
            headers["Retry-After"] = http_date(math.ceil(now) + reply.date_in)
        body = {"status": reply.status, "title": "Checker answer", "detail": f"answer to request {number}"}
        return httpx.Response(reply.status, headers=headers, content=json.dumps(body).encode())

    def client(self) -> httpx.Client:
        """An httpx client whose requests all reach this server, whatever their URL."""
        return httpx.Client(transport=httpx.MockTransport(self))


def _alarm(signum, frame):  # pragma: no cover - runs on SIGALRM
    raise CallTimedOut()


@dataclass
class Outcome:
    """What one guarded learner call did: returned a value, raised, or was stopped."""

    kind: str  #: "returned", "raised", "timeout", "flooded", "slept-too-often"
    value: Any = None
    error: BaseException | None = None
    seconds: float = 0.0


def guarded(call: Callable[[], Any], limit: float = CALL_LIMIT) -> Outcome:
    """Run `call()` with a real-time limit; never raise, whatever the learner's code does."""
    alarm = _can_alarm()
    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, _alarm) if alarm else None
    try:
        try:
            if alarm:
                signal.setitimer(signal.ITIMER_REAL, limit)
            value = call()
        finally:
            if alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
    except CallTimedOut:
        return Outcome("timeout", seconds=time.monotonic() - started)
    except ServerFlooded:
        return Outcome("flooded", seconds=time.monotonic() - started)
    except SleptTooOften:
        return Outcome("slept-too-often", seconds=time.monotonic() - started)
    except BaseException as error:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are learner input too
        return Outcome("raised", error=error, seconds=time.monotonic() - started)
    finally:
        if alarm:
            signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
    return Outcome("returned", value=value, seconds=time.monotonic() - started)


def describe_response(value: Any) -> dict | None:
    """Status and attempt number of an httpx.Response from the FlakyServer; None for anything else."""
    if not isinstance(value, httpx.Response):
        return None
    try:
        attempt = int(value.headers.get(ATTEMPT_HEADER, "0"))
    except ValueError:
        attempt = 0
    return {"status": value.status_code, "attempt": attempt}


def describe_error(error: BaseException, folder: Path) -> dict:
    """An exception as JSON: type, text, the learner's line, and the response it carries, if any."""
    try:
        summary = learner_frame(error, folder)
    except Exception:  # noqa: BLE001 - a learner exception whose str() fails
        summary = {"type": type(error).__name__, "text": "(the exception could not be shown)"}
    try:
        carried = getattr(error, "response", None)
    except Exception:  # noqa: BLE001 - httpx raises RuntimeError for an unset .response
        carried = None
    summary["response"] = describe_response(carried)
    return summary


def outcome_event(outcome: Outcome, folder: Path) -> dict:
    """The JSON form of an Outcome: kind, then the response, value or error it involved."""
    data: dict[str, Any] = {"kind": outcome.kind, "seconds": round(outcome.seconds, 4)}
    if outcome.kind == "returned":
        data["response"] = describe_response(outcome.value)
        if data["response"] is None:
            data["value"] = {"type": type(outcome.value).__name__, "repr": safe_repr(outcome.value)}
    elif outcome.kind == "raised":
        data["error"] = describe_error(outcome.error, folder)
    return data


def safe_repr(value: Any) -> str:
    """repr() of a learner's value, cut short, even when its __repr__ fails."""
    try:
        return repr(value)[:120]
    except Exception:  # noqa: BLE001 - learner objects may have a broken __repr__
        return f"<{type(value).__name__}>"
