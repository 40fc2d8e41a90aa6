"""Build a connexion app from the learner's spec inside the worker, and send it requests.

Like `checker.worker.build_app`, but connexion options (such as the learner's
`VALIDATOR_MAP`) can be passed, and an exception raised anywhere in learner
code (a custom validator too, not only an operation) is summarised by the
learner's own line.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from checker.worker import REQUEST_TIMEOUT, LearnerCallError, get, learner_frame, watched


def build_app(spec: Path, folder: Path, module, last_error: dict, **options):
    """Return a FlaskApp for `spec` whose operationIds resolve into `module`, built with `options`."""
    import connexion
    from connexion.exceptions import InternalServerError
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

    def unexpected(_request, error: Exception):
        """Answer 500 as connexion would, remembering where learner code raised."""
        if not isinstance(error, LearnerCallError):
            last_error.setdefault("error", learner_frame(error, folder))
        return InternalServerError().to_problem()

    app = connexion.FlaskApp(__name__, specification_dir=str(spec.parent))
    app.add_api(spec.name, resolver=Resolver(function_resolver=resolve), **options)
    app.add_error_handler(Exception, unexpected)
    return app


def build_first(specs: list, folder: Path, module, last_error: dict, events, **options):
    """Build from the first spec connexion accepts, reporting each attempt; None if none did."""
    for spec in specs:
        if spec is None:
            continue
        try:
            app = build_app(Path(spec), folder, module, last_error, **options)
        except BaseException as error:  # noqa: BLE001 - connexion (and learner options) raise many kinds
            events("app-failed", spec=str(spec), error={"type": type(error).__name__, "text": str(error)[:1500]})
            continue
        events("app-ready", spec=str(spec))
        return app
    return None


class RequestCrashed(Exception):
    """Connexion itself raised instead of answering (e.g. it was configured with a malformed option)."""

    def __init__(self, error: BaseException, folder: Path):
        super().__init__(str(error))
        self.summary = learner_frame(error, folder)


async def ask(app, last_error: dict, path: str, folder: Path, **request) -> dict | None:
    """One request with the usual time limit; the answer (with any learner error), or None on timeout.

    Raises RequestCrashed when no answer could be produced at all."""
    last_error.clear()
    try:
        answer = await asyncio.wait_for(get(app, path, **request), REQUEST_TIMEOUT)
    except asyncio.TimeoutError:
        return None
    except Exception as error:  # noqa: BLE001 - reported, so the worker lives to say so
        raise RequestCrashed(error, folder) from None
    if "error" in last_error:
        answer["error"] = last_error["error"]
    return answer
