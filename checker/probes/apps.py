"""Build a connexion app from the learner's spec inside the worker, and send it requests.

Like `checker.worker.build_app`, but an exception raised anywhere in learner
code (a custom validator too, not only an operation) is summarised by the
learner's own line.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from checker import worker
from checker.worker import REQUEST_TIMEOUT, LearnerCallError, get, learner_frame


def build_app(spec: Path, folder: Path, module, last_error: dict, **options):
    """`checker.worker.build_app`, plus a handler that remembers where learner code raised."""
    from connexion.exceptions import InternalServerError

    def unexpected(_request, error: Exception):
        """Answer 500 as connexion would, remembering where learner code raised."""
        if not isinstance(error, LearnerCallError):
            last_error.setdefault("error", learner_frame(error, folder))
        return InternalServerError().to_problem()

    app = worker.build_app(spec, folder, module, last_error, **options)
    app.add_error_handler(Exception, unexpected)
    return app


def build_first(specs: list, folder: Path, module, last_error: dict, events, **options):
    """`checker.worker.build_first` with this module's `build_app`."""
    return worker.build_first(specs, folder, module, last_error, events, builder=build_app, **options)


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
