"""Send one HTTP request through an ASGI app in-process: the app's whole stack, no socket.

About 1 ms a request through connexion, against ~4 ms through starlette's TestClient,
which is why the checker can afford hundreds of requests per run.
"""

from __future__ import annotations

import contextlib


async def exchange(
    app, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Send one request through `app`'s full ASGI stack, as a server would; return
    (status, header pairs in order, repeats kept, body). A body gets its Content-Length;
    `headers` add to or replace the defaults (host, accept). Both the checker's worker and
    the notebooks' labtools use it."""
    fields = {"host": "localhost", "accept": "*/*"}
    if body:
        fields["content-length"] = str(len(body))
    fields.update({name.lower(): value for name, value in (headers or {}).items()})
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
        "headers": [(name.encode("latin-1"), value.encode("latin-1")) for name, value in fields.items()],
        "client": ("127.0.0.1", 50000), "server": ("localhost", 80),
    }
    started: dict = {}
    received = bytearray()
    unread = [body]

    async def receive() -> dict:
        return {"type": "http.request", "body": unread.pop() if unread else b"", "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
        elif message["type"] == "http.response.body":
            received.extend(message.get("body", b""))

    await app(scope, receive, send)
    pairs = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in started.get("headers", [])]
    return started["status"], pairs, bytes(received)


async def start(app) -> list[str]:
    """Send the ASGI lifespan startup and shutdown events, as a server does before serving; return the
    failure messages. Connexion resolves every operationId (importing the handlers) on the first event,
    so this is where a missing function shows, as it does when `connexion run` starts."""
    events = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    failures: list[str] = []

    async def receive() -> dict:
        return next(events)

    async def send(message: dict) -> None:
        if message["type"].endswith(".failed"):
            failures.append(message.get("message", ""))

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    return failures


def run_flask_inline() -> None:
    """Make connexion's FlaskApp run Flask in the event loop's own thread instead of a worker thread.

    a2wsgi hands each request to a thread pool and passes every message back through the
    loop: four thread hand-offs, more than half of the ~2 ms a request costs. The same
    middleware, Flask and handler still run, in the same order, on a request body read in
    full first; only the thread differs. The running loop is hidden while Flask runs, so a
    handler may call `asyncio.run()` as it could in a worker thread. Idempotent."""
    import asyncio
    import contextvars

    from a2wsgi import wsgi

    if getattr(wsgi.WSGIResponder, "inline", False):
        return

    class InlineResponder(wsgi.WSGIResponder):
        inline = True
        threaded = wsgi.WSGIResponder  #: a2wsgi's own, for `flask_in_threads`

        async def __call__(self, scope, receive, send) -> None:
            body = wsgi.Body(self.loop, receive)
            while body._has_more:  # Flask reads the body in this thread, so it must be here already
                message = await receive()
                body.buffer.extend(message.get("body", b""))
                body._has_more = message.get("more_body", False)
            self.messages: list[dict] = []
            running = asyncio.events._get_running_loop()
            asyncio.events._set_running_loop(None)
            try:
                contextvars.copy_context().run(self.wsgi, wsgi.build_environ(scope, body), self.start_response)
            finally:
                asyncio.events._set_running_loop(running)
            for message in self.messages:
                await send(message)
            if self.exc_info is not None:
                raise self.exc_info[0].with_traceback(self.exc_info[1], self.exc_info[2])

        def send(self, message) -> None:
            self.messages.append(message)

    wsgi.WSGIResponder = InlineResponder


@contextlib.contextmanager
def flask_in_threads():
    """Run Flask in a2wsgi's worker threads again for a while: for a request whose handler waits for
    another request, which the event loop must serve meanwhile (lesson 8's retry while a job is made)."""
    from a2wsgi import wsgi

    inline = wsgi.WSGIResponder
    wsgi.WSGIResponder = getattr(inline, "threaded", inline)
    try:
        yield
    finally:
        wsgi.WSGIResponder = inline
