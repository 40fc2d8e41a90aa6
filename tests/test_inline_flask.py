"""The shim runs Flask in the event loop's thread (checker.inside.asgi.run_flask_inline): same answers, no hand-offs."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
import threading

import pytest

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent / "checker" / "inside"))
from asgi import exchange, flask_in_threads, run_flask_inline, start  # noqa: E402

SPEC = """
openapi: 3.0.3
info: {title: inline, version: "1"}
paths:
  /status:
    get:
      operationId: handlers.status
      responses: {"200": {description: ok}, "503": {description: busy}}
  /echo:
    post:
      operationId: handlers.echo
      requestBody:
        required: true
        content: {application/json: {schema: {type: object, required: [name]}}}
      responses: {"201": {description: made}}
  /nested:
    get:
      operationId: handlers.nested
      responses: {"200": {description: ok}}
  /broken:
    get:
      operationId: handlers.broken
      responses: {"200": {description: ok}}
"""

HANDLERS = """
import asyncio, threading
from connexion import problem

THREADS = []

def status():
    THREADS.append(threading.current_thread().name)
    return problem(503, "Service Unavailable", "busy", headers={"Retry-After": "5", "Cache-Control": "no-store"})

def echo(body):
    return {"hello": body["name"], "size": len(str(body))}, 201, {"Location": "/echo/1"}

def nested():
    async def inner():
        await asyncio.sleep(0)
        return "ran"
    return {"inner": asyncio.run(inner())}

def broken():
    raise ValueError("boom")
"""

REQUESTS = [
    ("GET", "/status", b"", {}),
    ("POST", "/echo", json.dumps({"name": "ada" * 3000}).encode(), {"content-type": "application/json"}),
    ("POST", "/echo", b'{"nom": 1}', {"content-type": "application/json"}),
    ("POST", "/echo", b"not json", {"content-type": "application/json"}),
    ("GET", "/nested", b"", {}),
    ("GET", "/broken", b"", {}),
]


def answers(folder) -> tuple[list, list]:
    """Every request's (status, headers, body) through a fresh FlaskApp, and the handler threads seen."""
    import connexion

    sys.path.insert(0, str(folder))
    try:
        sys.modules.pop("handlers", None)
        app = connexion.FlaskApp(__name__, specification_dir=str(folder))
        app.add_api("spec.yaml")
        loop = asyncio.new_event_loop()
        try:
            assert loop.run_until_complete(start(app)) == []
            seen = [loop.run_until_complete(exchange(app, method, path, body, headers))
                    for method, path, body, headers in REQUESTS]
        finally:
            loop.close()
        return seen, list(sys.modules["handlers"].THREADS)
    finally:
        sys.path.remove(str(folder))


@pytest.fixture()
def folder(tmp_path):
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(SPEC))
    (tmp_path / "handlers.py").write_text(textwrap.dedent(HANDLERS))
    return tmp_path


def test_inline_flask_answers_exactly_as_the_thread_pool_does(folder, monkeypatch):
    from a2wsgi import wsgi

    pooled, pooled_threads = answers(folder)
    monkeypatch.setattr(wsgi, "WSGIResponder", wsgi.WSGIResponder)  # restored after the test
    run_flask_inline()
    run_flask_inline()  # idempotent
    assert wsgi.WSGIResponder.inline and not wsgi.WSGIResponder.__base__.__dict__.get("inline")
    inline, inline_threads = answers(folder)
    assert [status for status, _, _ in inline] == [503, 201, 400, 400, 200, 500]
    assert inline == pooled
    assert pooled_threads[0].startswith("WSGI") and inline_threads == [threading.current_thread().name]


def test_flask_in_threads_brings_the_thread_pool_back_for_a_while(folder, monkeypatch):
    from a2wsgi import wsgi

    monkeypatch.setattr(wsgi, "WSGIResponder", wsgi.WSGIResponder)
    run_flask_inline()
    with flask_in_threads():
        _, threads = answers(folder)
    assert threads[0].startswith("WSGI")
    assert wsgi.WSGIResponder.inline
