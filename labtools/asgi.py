"""Talk to an ASGI app in-process, without a server: about 1 ms a request instead of a round trip.

Jupyter already runs an event loop in the kernel's main thread, so every
coroutine here runs in a short-lived thread with a loop of its own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from checker.inside.asgi import exchange, start

T = TypeVar("T")
ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to completion even when the caller's thread already has a running loop."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as error:  # re-raised in the caller's thread below
            outcome["error"] = error

    thread = threading.Thread(target=target, name="labtools-asgi")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


async def request(app: ASGIApp, method: str = "GET", path: str = "/status") -> tuple[int, dict[str, str], bytes]:
    """Send one bodiless request to `app` (at its spec's base path, if `load_app` built it); return
    (status, headers, body)."""
    status, pairs, body = await exchange(app, method, getattr(app, "workbook_base_path", "") + path)
    return status, dict(pairs), body


async def statuses(app: ASGIApp, count: int, path: str = "/status") -> list[int]:
    """Send `count` GET requests to `app` one after another; return their status codes in order."""
    return [(await request(app, "GET", path))[0] for _ in range(count)]


def startup(app: ASGIApp) -> None:
    """Send the ASGI lifespan startup and shutdown events, as a server would before serving.

    Connexion builds its routes, and so imports the operation handlers, on the first event it sees.
    """
    failures = run_sync(start(app))
    if failures:
        raise RuntimeError(f"The app failed to start: {failures[0]}")
