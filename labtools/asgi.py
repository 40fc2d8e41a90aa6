"""Talk to an ASGI app in-process, without a server: about 1 ms a request instead of a round trip.

Jupyter already runs an event loop in the kernel's main thread, so every
coroutine here runs in a short-lived thread with a loop of its own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

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


def _http_scope(method: str, path: str) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"labtools")],
        "client": ("127.0.0.1", 0),
        "server": ("labtools", 80),
    }


async def request(app: ASGIApp, method: str = "GET", path: str = "/status") -> tuple[int, dict[str, str], bytes]:
    """Send one bodiless request to `app`; return (status, headers, body)."""
    started: dict = {}
    body = bytearray()

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(_http_scope(method, path), receive, send)
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in started.get("headers", [])}
    return started["status"], headers, bytes(body)


async def statuses(app: ASGIApp, count: int, path: str = "/status") -> list[int]:
    """Send `count` GET requests to `app` one after another; return their status codes in order."""
    return [(await request(app, "GET", path))[0] for _ in range(count)]


def startup(app: ASGIApp) -> None:
    """Send the ASGI lifespan startup and shutdown events, as a server would before serving.

    Connexion builds its routes, and so imports the operation handlers, on the first event it sees.
    """
    events = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    failures: list[str] = []

    async def receive() -> dict:
        return next(events)

    async def send(message: dict) -> None:
        if message["type"].endswith(".failed"):
            failures.append(message.get("message", ""))

    run_sync(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send))
    if failures:
        raise RuntimeError(f"The app failed to start: {failures[0]}")
