"""Serve the learner's API over real HTTP on 127.0.0.1, in a background thread of the notebook."""

from __future__ import annotations

import logging
import threading
import traceback
from pathlib import Path

import uvicorn

from labtools.app import load_app
from labtools.net import LOOPBACK, HttpTarget, bound_socket, wait_until_answering


class OneLineErrors(logging.Filter):
    """Cut a server's log record of an unexpected exception to one line: the exception and the learner's line.

    Connexion's default error handler answers 500 and logs the exception with its whole traceback
    (`connexion.middleware.exceptions`); with no logging set up, Python prints it to stderr, which the
    notebook shows in red under the cell, some forty frames of connexion, starlette and anyio around
    one line of the learner's. This filter keeps the record but rewrites it as, for example,
    `connexion answered 500: the handler raised KeyError: 'discount' (services_api.py line 138)`:
    the 500 stays visible (in the answer and here), the frames do not. Like `ShortTraceback` does for
    the service's own log (labtools.services), but shorter still: this is not the learner's log.
    """

    def __init__(self, lead: str):
        super().__init__()
        self.lead = lead
        self.folders: set[Path] = set()  #: where the learner's files are: the folders of the specs served

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg, record.args = f"{self.lead}: {self.describe(record.exc_info[1])}", ()
            record.exc_info = record.exc_text = record.stack_info = None
        return True

    def describe(self, error: BaseException) -> str:
        """`the handler raised KeyError: 'discount' (services_api.py line 138)`: the deepest learner frame.

        If the logged exception went through no learner file (connexion failing to call an error
        handler that raised, say), the first exception of its chain that did is the one described."""
        chain, seen = [], set()
        while error is not None and id(error) not in seen:
            seen.add(id(error))
            chain.append(error)
            error = error.__cause__ or error.__context__
        for error in chain:
            frames = [
                frame for frame in traceback.extract_tb(error.__traceback__)
                if Path(frame.filename).resolve().parent in self.folders
            ]
            if frames:
                place = f"{Path(frames[-1].filename).name} line {frames[-1].lineno}"
                return f"the handler raised {self.raised(error)} ({place})"
        return f"the handler raised {self.raised(chain[0])}"

    @staticmethod
    def raised(error: BaseException) -> str:
        """`KeyError: 'discount'`, as a traceback's last line says it (the first line of a long message)."""
        message = str(error).strip().splitlines()
        return f"{type(error).__name__}: {message[0]}" if message else type(error).__name__


#: the loggers that print an unexpected exception's traceback, and what each did about it
SHORTENED = {
    "connexion.middleware.exceptions": "connexion answered 500",  # its default error handler
    "uvicorn.error": "the server answered 500",  # an exception no handler took (an error handler's own, say)
}


def shorten_error_logs(folder: Path) -> None:
    """Have the loggers in SHORTENED write an unexpected exception in one line, placed in `folder`'s files."""
    for name, lead in SHORTENED.items():
        logger = logging.getLogger(name)
        kept = next((f for f in logger.filters if type(f).__name__ == OneLineErrors.__name__), None)
        if kept is None:
            kept = OneLineErrors(lead)
            logger.addFilter(kept)
        kept.folders.add(folder.resolve())


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
        shorten_error_logs(self.spec.parent)  # after Config, which sets up uvicorn's loggers
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
