"""Serve the learner's API over real HTTP on 127.0.0.1, in a background thread of the notebook."""

from __future__ import annotations

import threading
from pathlib import Path

import uvicorn

from labtools.app import load_app
from labtools.net import LOOPBACK, HttpTarget, bound_socket, wait_until_answering


class LiveServer(HttpTarget):
    """A uvicorn server for one spec; `start()` re-imports the edited code, `stop()` frees the port."""

    def __init__(self, spec: str | Path = "oas3/ex-04-01-headers.yaml", configure: str | None = None):
        self.spec, self.configure = Path(spec), configure
        self.url: str | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> LiveServer:
        """Import the API afresh and serve it on a free loopback port; restart it if already running."""
        self.stop()
        app = load_app(self.spec, self.configure)
        sock = bound_socket()
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=f"labtools-server-{port}", daemon=True
        )
        self._thread.start()
        self.url = f"http://{LOOPBACK}:{port}{app.workbook_base_path}"  # "/status" is served below the base path
        wait_until_answering(self.url + "/openapi.json", still_starting=lambda: self.running)
        return self

    def stop(self) -> None:
        """Ask uvicorn to finish and wait for it; safe to call when nothing is running."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> LiveServer:
        return self.start() if not self.running else self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"at {self.url}" if self.running else "stopped"
        return f"<LiveServer {self.spec.as_posix()} {where}>"


_latest: dict[Path, LiveServer] = {}


def serve(spec: str | Path = "oas3/ex-04-01-headers.yaml", configure: str | None = None) -> LiveServer:
    """Start serving `spec` and return the running server (also usable in a `with` block).

    Re-running a notebook cell calls this again: the server it started last time for the same
    spec is stopped first, so old servers do not pile up in the background. `configure` names the
    module whose `configure(app)` is called after `add_api` (see `load_app`).
    """
    key = Path(spec).resolve()
    if key in _latest:
        _latest.pop(key).stop()
    server = _latest[key] = LiveServer(spec, configure).start()
    return server
