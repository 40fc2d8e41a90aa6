"""Child process that imports a learner's handlers and serves requests through connexion.

The parent (`checker.sandbox`) starts it with resource limits and a deadline,
gives it one JSON argument, and reads JSON-lines events from a private pipe, so
whatever the learner prints on stdout or stderr cannot be mistaken for a result.

Tasks, run in order (a crash in a later task keeps the earlier events):
* `load-spec`: load the learner's spec as `connexion run` would, without importing their code;
* `serve`: import the learner's module, build a real connexion app from a spec, and
  send it GET requests, either a fixed number or until `checker.stats.decide` is sure;
* `probe`: import the learner's module and pass it to a checker function that drives it.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path

from checker.asgi import exchange

REQUEST_TIMEOUT = 2.0  #: seconds a single request may take
BODY_LIMIT = 2000  #: characters of each body sent back to the parent
ALL_BROKEN_AFTER = 50  #: stop sampling if none of this many answers was a 200 or 503


class Events:
    """Write one JSON object per line to the parent's pipe."""

    def __init__(self, fd: int):
        self._file = os.fdopen(fd, "w", buffering=1, encoding="utf-8")

    def __call__(self, event: str, **data) -> None:
        self._file.write(json.dumps({"event": event, **data}, default=str) + "\n")
        self._file.flush()


def learner_frame(error: BaseException, folder: Path) -> dict:
    """Summarise an exception by the deepest frame in the learner's folder."""
    summary = {"type": type(error).__name__, "text": str(error)[:500]}
    if isinstance(error, SyntaxError) and error.filename:
        summary.update(file=Path(error.filename).name, line=error.lineno, column=error.offset,
                       code=(error.text or "").strip()[:200])
        return summary
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        try:
            inside = Path(frame.filename).resolve().parent == folder.resolve()
        except (OSError, ValueError):
            inside = False
        if inside:
            summary.update(file=Path(frame.filename).name, line=frame.lineno, code=(frame.line or "")[:200])
            break
    return summary


def import_learner_module(folder: Path, name: str, events: Events):
    """Import `folder/name.py` as module `name`; report failures instead of raising."""
    path = folder / f"{name}.py"
    if not path.exists():
        events("import-failed", module=name, error={"type": "FileNotFoundError", "text": f"{path.name} is missing"})
        return None
    events("importing", module=name)
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as error:  # noqa: BLE001 - SystemExit at import is learner input too
        events("import-failed", module=name, error=learner_frame(error, folder))
        return None
    events("imported", module=name)
    return module


class LearnerCallError(RuntimeError):
    """A learner's handler raised; connexion turns this into a 500 as it would any error."""


def watched(function, folder: Path, last_error: dict):
    """Wrap a learner handler so its exception is summarised by the learner's own line."""

    from connexion.exceptions import ProblemException
    from werkzeug.exceptions import HTTPException

    @functools.wraps(function)
    def handler(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (ProblemException, HTTPException):
            raise  # the documented ways to answer with an error: connexion turns them into responses
        except BaseException as error:  # noqa: BLE001 - sys.exit() in a handler too
            last_error["error"] = learner_frame(error, folder)
            raise LearnerCallError(str(error)) from None

    return handler


def load_spec(spec: Path, events: Events) -> None:
    """Load the spec with connexion, resolving refs but importing no learner code."""
    import connexion
    from connexion.resolver import Resolver

    def placeholder():
        return None

    try:
        app = connexion.FlaskApp(__name__, specification_dir=str(spec.parent))
        app.add_api(spec.name, resolver=Resolver(function_resolver=lambda _name: placeholder))
    except BaseException as error:  # noqa: BLE001 - connexion raises many kinds
        events("spec-failed", error={"type": type(error).__name__, "text": str(error)[:1500]})
        return
    events("spec-loaded")


def build_app(spec: Path, folder: Path, module, last_error: dict, **options):
    """Build a connexion app whose operationIds resolve to the learner's watched functions.

    `options` go to connexion's `add_api` (a learner's `validator_map`, say)."""
    import connexion
    from connexion.resolver import Resolver

    def resolve(operation_id: str):
        module_name, _, function_name = operation_id.rpartition(".")
        if module_name != module.__name__:
            raise LookupError(f"operationId {operation_id!r} does not point into {module.__name__}.py")
        function = getattr(module, function_name, None)
        if not callable(function):
            names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
            raise LookupError(f"{module.__name__}.py has no function {function_name}() (it defines: {', '.join(names) or 'nothing'})")
        return watched(function, folder, last_error)

    app = connexion.FlaskApp(__name__, specification_dir=str(spec.parent))
    app.add_api(spec.name, resolver=Resolver(function_resolver=resolve), **options)
    return app


def build_first(specs: list, folder: Path, module, last_error: dict, events: Events, builder=build_app, **options):
    """Build from the first spec connexion accepts, reporting each attempt; None if none did."""
    for spec in specs:
        if spec is None:
            continue
        try:
            app = builder(Path(spec), folder, module, last_error, **options)
        except BaseException as error:  # noqa: BLE001 - connexion (and learner options) raise many kinds
            events("app-failed", spec=str(spec), error={"type": type(error).__name__, "text": str(error)[:1500]})
            continue
        events("app-ready", spec=str(spec))
        return app
    return None


async def get(app, path: str, method: str = "GET", body: bytes = b"", headers: dict[str, str] | None = None) -> dict:
    """Send one request (a GET unless told otherwise) through the app's full ASGI stack, as uvicorn
    would, and collect the answer as a JSON-ready dict, the body cut to BODY_LIMIT characters."""
    status, pairs, received = await exchange(app, method, path, body, headers)
    text = received[: BODY_LIMIT * 4].decode("utf-8", "replace")[:BODY_LIMIT]
    return {"status": status, "headers": [list(pair) for pair in pairs], "body": text}


async def serve(app, path: str, requests: int, sequential: bool, events: Events, last_error: dict) -> None:
    """Send GETs and report each answer; stop early when the sequential test has decided."""
    from checker import stats

    unavailable = expected = 0
    for number in range(1, requests + 1):
        last_error.clear()
        try:
            answer = await asyncio.wait_for(get(app, path), REQUEST_TIMEOUT)
        except asyncio.TimeoutError:
            events("request-timeout", request=number, seconds=REQUEST_TIMEOUT)
            return
        if "error" in last_error:
            answer["error"] = last_error["error"]
        events("response", request=number, **answer)
        unavailable += answer["status"] == 503
        expected += answer["status"] in (200, 503)
        if sequential and stats.decide(number, unavailable) != stats.CONTINUE:
            return
        if number >= ALL_BROKEN_AFTER and expected == 0:
            return  # nothing but errors so far: more requests would teach nothing


def run_serve(task: dict, events: Events) -> None:
    """Import the learner's module, build the app (falling back to a reference spec), send GETs."""
    folder = Path(task["folder"])
    module = import_learner_module(folder, task["module"], events)
    if module is None:
        return
    last_error: dict = {}
    app = build_first([task["spec"], task.get("fallback_spec")], folder, module, last_error, events)
    if app is None:
        return
    asyncio.run(serve(app, task["path"], task["requests"], task.get("sequential", False), events, last_error))


def run_probe(task: dict, events: Events) -> None:
    """Import the learner's module and hand it to a checker probe (`package.module:function`).

    Probes are checker code that exercise learner code in ways a GET cannot
    (a rate limiter with a fake clock, a client against a flaky server). They
    report through `events` and should emit one at least every second or so.
    """
    folder = Path(task["folder"])
    module = import_learner_module(folder, task["module"], events)
    if module is None:
        return
    probe_module, _, probe_name = task["probe"].partition(":")
    probe = getattr(importlib.import_module(probe_module), probe_name)
    events("probe-started", probe=task["probe"])
    probe(module=module, folder=folder, events=events, **task.get("params", {}))


def main() -> None:
    config = json.loads(sys.argv[1])
    events = Events(config["fd"])
    # Jupyter pulls in rfc3987-syntax, which compiles a grammar for 0.9 s whenever
    # jsonschema is imported. Nothing here validates URI formats, so skip it.
    sys.modules.setdefault("rfc3987_syntax", None)
    # Libraries the learner's code will use are imported first, so their time is ours.
    for task in config["tasks"]:
        for library in task.get("preload", ["connexion"]):
            importlib.import_module(library)
    events("started")
    for task in config["tasks"]:
        if task["kind"] == "load-spec":
            load_spec(Path(task["spec"]), events)
        elif task["kind"] == "serve":
            run_serve(task, events)
        elif task["kind"] == "probe":
            run_probe(task, events)
    events("done")
    sys.stdout.flush()
    sys.stderr.flush()
    # Learner code may have started processes (this worker adopted any it detached) or
    # left threads running (a hung handler): end them all rather than wait.
    from checker.reaper import kill_descendants

    kill_descendants(os.getpid())
    os._exit(0)


if __name__ == "__main__":
    main()
