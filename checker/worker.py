"""Drive one sandboxed shim through a list of tasks, in a thread of the trusted parent.

Every event the exercises judge is written here, from what the parent itself
asked and the raw answers it got back: the shim only answers. Tasks, in order
(a hang or crash in a later task keeps the earlier events):

* `load-spec` {spec}: load the learner's spec as `connexion run` would, importing no learner code;
* `serve` {module, spec, fallback_spec, path, requests, sequential}: import the learner's
  module, build the app, send GETs; the parent runs the sequential test and stops when it is sure;
* `probe` {module, probe, preload, params}: import the module, then hand the shim to a
  driver in `checker.drivers` (`package.module:function`), which asks it what to run.
"""

from __future__ import annotations

import importlib
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from checker.sandbox import OUT_OF_TIME, Failed, Gone, Sandbox, Zygote

#: seconds without an answer before the shim counts as hung, by what it was doing
STALL_LIMITS = {"starting": 20.0, "importing": 5.0, "serving": 4.0}
IMPORT_WAIT_SLACK = 5.0  #: seconds past an earlier import's own limit a worker waits for it to end
REQUEST_TIMEOUT = 2.0  #: seconds a single request may take
ALL_BROKEN_AFTER = 50  #: stop sampling if none of this many answers was a 200 or 503
BATCH = 50  #: requests the sequential test asks for at a time
MAX_EVENTS = 20_000  #: events kept per worker
MAX_HEADERS, MAX_VALUE = 100, 8300  #: header pairs, and characters of each value and of a body, kept per answer
NO_ANSWER = {"type": "NoAnswer", "text": "the process running your code finished the request without an answer"}

Refusal = Callable[[str], "str | None"]  #: why a file of the submission was not staged (checker.staging)


@dataclass
class WorkerRun:
    """Events of one worker, and how it ended: finished, crashed, hung, or flooded the parent."""

    events: list[dict] = field(default_factory=list)
    ended: str = "finished"  #: "finished", "crashed", "hung" or "flooded"
    exit_code: int | None = 0
    hung_while: str = ""  #: what it was doing when it hung: "importing", "serving", ...
    output: str = ""  #: the tail of what learner code printed
    flood: str = ""  #: what the shim sent that the parent refused
    isolation: str = ""  #: the sandbox it ran in (checker.sandbox.Isolation.level)
    out_of_time: float = 0.0  #: the seconds its code had in all, if it was stopped for using them up

    def of(self, kind: str) -> list[dict]:
        return [event for event in self.events if event["event"] == kind]

    def first(self, kind: str) -> dict | None:
        found = self.of(kind)
        return found[0] if found else None


class Events:
    """Append events to a run; the drivers' only way to report."""

    def __init__(self, run: WorkerRun):
        self.run = run

    def __call__(self, event: str, **data) -> None:
        if len(self.run.events) < MAX_EVENTS:
            self.run.events.append({"event": event, **data})


class Shim:
    """What a driver may ask of the shim: commands with a phase (for messages) and a time limit."""

    def __init__(self, sandbox: Sandbox, refusal: Refusal = lambda _name: None):
        self.sandbox, self.refusal = sandbox, refusal
        self.phase = "starting"

    def call(self, op: str, limit: float = STALL_LIMITS["serving"], phase: str = "serving", **arguments):
        self.phase = phase
        return self.sandbox.call(op, limit, **arguments)

    def spec(self, name: str) -> str:
        return self.sandbox.spec_path(name)


class ImportGate:
    """Each learner module's first import, awaited by every other worker of the learner that needs it.

    A module that hangs at import (an endless loop, a fork bomb) then hangs once per grading, not
    once per exercise at the same time, starving the learner's other tasks of CPU and processes;
    every exercise that needs the module still reports the hang, as its own import would have."""

    LEAD, GO, HUNG = "lead", "go", "hung"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._first: dict[str, threading.Event] = {}
        self._hung: set[str] = set()

    def enter(self, module: str, timeout: float) -> str:
        """LEAD: import it first and `settle` it; GO: import it (an earlier import ended); HUNG: it hung before."""
        with self._lock:
            first = self._first.get(module)
            if first is None:
                self._first[module] = threading.Event()
                return self.LEAD
        first.wait(max(0.0, timeout))
        return self.HUNG if module in self._hung else self.GO

    def settle(self, module: str, hung: bool) -> None:
        """The first import ended, hung or not."""
        with self._lock:
            if hung:
                self._hung.add(module)
            self._first[module].set()


def import_module(shim: Shim, module: str, events: Events, refusal: Refusal, imports: ImportGate) -> bool:
    """Import oas3/<module>.py in the sandbox; report it as events, True if it worked. If an earlier
    import of the module is under way, wait for it; if that one hung, this one counts as hung too."""
    if refusal(f"{module}.py"):
        events("import-failed", module=module, error={"type": "Refused", "text": refusal(f"{module}.py")})
        return False
    events("importing", module=module)
    shim.phase = "importing"
    role = imports.enter(module, STALL_LIMITS["importing"] + IMPORT_WAIT_SLACK)
    if role == ImportGate.HUNG:
        raise Gone("hung")  # as its own import would have, without starting it again
    hung = False
    try:
        answer = shim.call("import", STALL_LIMITS["importing"], phase="importing", module=module)
    except Gone as gone:
        hung = gone.how == "hung"
        raise
    finally:
        if role == ImportGate.LEAD:
            imports.settle(module, hung)
    if "error" in answer:
        events("import-failed", module=module, error=answer["error"])
        return False
    events("imported", module=module)
    return True


def build_app(shim: Shim, events: Events, specs: list[str | None], module: str, **options) -> str | None:
    """Build the app from the first spec that works (names as `Shim.spec` takes them); return
    its base path (what connexion puts before every path, from the spec's `servers`), or None."""
    paths = []
    for spec in filter(None, specs):
        if shim.refusal(spec):  # never handed to connexion: the checker's own YAML check said why
            events("app-failed", spec=shim.spec(spec), error={"type": "Refused", "text": shim.refusal(spec)})
        else:
            paths.append(shim.spec(spec))
    if not paths:
        return None
    report = shim.call("build-app", STALL_LIMITS["starting"], specs=paths, module=module, **options)
    for option in report.get("options", []):
        events("option", **option)
    if "clock" in report:
        events("clock", **report["clock"])
    for failure in report.get("failures", []):
        events("app-failed", **failure)
    if report.get("ready"):
        base = str(report.get("base_path") or "")
        events("app-ready", spec=report["ready"], base_path=base)
        return base
    return None


def bounded(answer: dict) -> dict:
    """An answer cut to what any check reads, whatever the sandbox sent: the parent keeps every answer
    of a run, so each must stay small (a handful of headers, short values, a short body)."""
    if "crashed" in answer:
        return {"crashed": bounded_error(answer["crashed"])}
    headers = answer.get("headers") if isinstance(answer.get("headers"), list) else []
    pairs = [[str(pair[0])[:100], str(pair[1])[:MAX_VALUE]] for pair in headers[:MAX_HEADERS]
             if isinstance(pair, list) and len(pair) == 2]
    kept = {"status": answer["status"] if type(answer.get("status")) is int else 0, "headers": pairs,
            "body": str(answer.get("body", ""))[:MAX_VALUE]}
    if type(answer.get("clock_reads")) is int:
        kept["clock_reads"] = answer["clock_reads"]
    if "error" in answer:
        kept["error"] = bounded_error(answer["error"])
    return kept


def bounded_error(error) -> dict:
    """A learner error summary (type, text, file, line, code, column), each part short."""
    if not isinstance(error, dict):
        return {"type": "Error", "text": str(error)[:500]}
    kept = {key: str(error[key])[:500] for key in ("type", "text", "file", "code") if key in error}
    kept.update({key: error[key] for key in ("line", "column") if type(error.get(key)) is int})
    kept.setdefault("type", "Error")
    kept.setdefault("text", "")
    return kept


def send(shim: Shim, events: Events, requests: list[dict], first: int = 1, **extra) -> list[dict]:
    """Send requests one command each; report every answer; stop at the first that went wrong."""
    answers = []
    for number, request in enumerate(requests, start=first):
        got: list[dict] = []
        try:
            shim.call("request", REQUEST_TIMEOUT, on_item=got.append, **request)
        except Gone as gone:
            if gone.how == "hung":
                events("request-timeout", request=number, seconds=REQUEST_TIMEOUT, **extra)
            raise
        answer = bounded(got[0]) if got and isinstance(got[0], dict) else {"crashed": NO_ANSWER}
        if "crashed" in answer:
            events("request-crashed", request=number, error=answer["crashed"], **extra)
            return answers
        events("response", request=number, **extra, **answer)
        answers.append(answer)
    return answers


def serve(shim: Shim, events: Events, path: str, requests: int, sequential: bool) -> None:
    """Send GETs in batches; the parent stops as soon as the sequential test has decided."""
    from checker import stats

    unavailable = expected = number = 0
    while number < requests:
        batch = min(BATCH if sequential else requests, requests - number)
        state = {"stop": False}

        def take(item) -> None:
            nonlocal unavailable, expected, number
            if state["stop"]:
                return  # the rest of a batch the test no longer needs
            number += 1
            answer = bounded(item) if isinstance(item, dict) else {"crashed": NO_ANSWER}
            if "crashed" in answer:
                events("request-crashed", request=number, error=answer["crashed"])
                state["stop"] = True
                return
            events("response", request=number, **answer)
            unavailable += answer["status"] == 503
            expected += answer["status"] in (200, 503)
            if sequential and stats.decide(number, unavailable) != stats.CONTINUE:
                state["stop"] = True
            if number >= ALL_BROKEN_AFTER and expected == 0:
                state["stop"] = True  # nothing but errors so far: more requests would teach nothing

        before = number
        try:
            shim.call("request", REQUEST_TIMEOUT, on_item=take, path=path, count=batch)
        except Gone as gone:
            if gone.how == "hung":
                events("request-timeout", request=number + 1, seconds=REQUEST_TIMEOUT)
            raise
        if state["stop"]:
            return
        if number - before < batch:  # fewer answers than requests: the shim is not answering as asked
            events("request-crashed", request=number + 1, error=NO_ANSWER)
            return


def run_task(task: dict, shim: Shim, events: Events, refusal: Refusal, imports: ImportGate) -> None:
    if task["kind"] == "load-spec":
        if refusal(task["spec"]):
            events("spec-failed", error={"type": "Refused", "text": refusal(task["spec"])})
            return
        answer = shim.call("load-spec", STALL_LIMITS["starting"], spec=shim.spec(task["spec"]))
        if "error" in answer:
            events("spec-failed", error=answer["error"])
        else:
            events("spec-loaded", operation_ids=[str(i)[:200] for i in answer.get("operation_ids", [])][:200])
        return
    shim.call("preload", STALL_LIMITS["starting"], phase="starting", modules=task.get("preload", ["connexion"]))
    events("started")
    if not import_module(shim, task["module"], events, refusal, imports):
        return
    if task["kind"] == "serve":
        base = build_app(shim, events, [task["spec"], task.get("fallback_spec")], task["module"])
        if base is not None:
            serve(shim, events, base + task["path"], task["requests"], task.get("sequential", False))
        return
    driver_module, _, driver_name = task["probe"].partition(":")
    driver = getattr(importlib.import_module(driver_module), driver_name)
    driver(shim=shim, events=events, module=task["module"], **task.get("params", {}))


class Worker:
    """A task list run in a process of its own, forked from the learner's sandbox, and the thread that
    drives it; `result()` waits within the deadline.

    `deadline`: seconds the task's code may run in all, counted once its process is ready; starting
    (the sandbox importing its libraries, slow on a busy machine) has its own limit before that."""

    def __init__(self, tasks: list[dict], zygote: Zygote, refusal: Refusal = lambda _name: None,
                 deadline: float = 25.0, imports: ImportGate | None = None):
        self.budget = deadline
        self._start_by = time.monotonic() + STALL_LIMITS["starting"]  #: its process forked and ready, or it hung
        self.deadline = self._start_by + deadline  #: until its process is ready; then `deadline` s from that moment
        self._run = WorkerRun()
        self._tasks, self._refusal, self._zygote = tasks, refusal, zygote
        self._imports = imports or ImportGate()  #: shared by the learner's workers (checker.submission)
        self._sandbox: Sandbox | None = None
        self._run.isolation = zygote.isolation.level
        self._thread = threading.Thread(target=self._drive, daemon=True)
        self._thread.start()
        self._result: WorkerRun | None = None

    def _drive(self) -> None:
        run, events = self._run, Events(self._run)
        shim = None
        try:
            # The zygote may still be importing its libraries: that is the "starting" phase.
            self._sandbox = self._zygote.spawn(max(0.0, self._start_by - time.monotonic()))
            shim = Shim(self._sandbox, self._refusal)
            ready = self._sandbox.receive(max(0.0, self._start_by - time.monotonic()))
            if not ready.get("ready"):
                raise Gone("flooded", "a message the checker did not ask for")
            self.deadline = time.monotonic() + self.budget
            self._sandbox.set_deadline(self.deadline)
            for task in self._tasks:
                run_task(task, shim, events, self._refusal, self._imports)
            events("done")
        except Gone as gone:
            run.ended, run.flood = gone.how, "" if gone.detail == OUT_OF_TIME else gone.detail
            run.hung_while = (shim.phase if shim else "starting") if gone.how == "hung" else ""
            run.out_of_time = self.budget if gone.detail == OUT_OF_TIME else 0.0
        except Failed as failed:
            run.ended = "crashed"
            events("shim-failed", error=failed.summary)
        except Exception as error:  # noqa: BLE001 - a broken answer must not break the checker
            run.ended, run.flood = "flooded", f"an answer the checker could not read ({type(error).__name__})"

    def result(self) -> WorkerRun:
        """Wait for the driver to finish (the sandbox's deadline bounds it), end the sandbox, return the run."""
        if self._result is not None:
            return self._result
        self._thread.join(timeout=max(0.0, self.deadline - time.monotonic()) + 5)
        alive = self._thread.is_alive()
        sandbox = self._sandbox
        exit_code = sandbox.end(grace=1.0 if self._run.ended == "crashed" else 0.0) if sandbox else None
        self._thread.join(timeout=5)
        run = self._run
        if alive and run.ended == "finished":
            run.ended, run.hung_while = "hung", "serving"
        run.exit_code = exit_code
        run.output = sandbox.output()[-1500:] if sandbox else ""
        self._result = run
        return run
