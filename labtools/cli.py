"""Run `connexion run SPEC` as a separate process, exactly as a learner would in a terminal."""

from __future__ import annotations

import atexit
import subprocess
import sys
import tempfile
from pathlib import Path

from labtools.net import LOOPBACK, HttpTarget, free_port, wait_until_answering

TAIL_LINES = 25  # enough for connexion's traceback and the error line that ends it


class ConnexionRun(HttpTarget):
    """One `connexion run` process on a free loopback port, with its output kept in a temp file."""

    def __init__(
        self, spec: str | Path = "oas3/ex-04-01-headers.yaml", port: int | None = None, program: list[str] | None = None
    ):
        self.spec = Path(spec)
        # `python -m connexion` works even where the `connexion` script is not on PATH.
        self.program = program or [sys.executable, "-m", "connexion"]
        self.port = port or free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self._log = tempfile.TemporaryFile(mode="w+b")
        self._process: subprocess.Popen | None = None

    @property
    def command(self) -> str:
        """The same command typed in a terminal."""
        return f"connexion run {self.spec.as_posix()} --port {self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 60.0) -> ConnexionRun:
        """Start the process and wait until it answers HTTP; raise with its output if it dies first."""
        from labtools.app import base_path

        self.url = f"http://{LOOPBACK}:{self.port}{base_path(self.spec)}"  # "/status" is served below the base path
        args = [*self.program, "run", str(self.spec), "--port", str(self.port), "--host", LOOPBACK]
        self._process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            probe = wait_until_answering(self.url + "/openapi.json", timeout=timeout, still_starting=lambda: self.running)
        except (RuntimeError, TimeoutError) as error:
            self.stop()
            raise RuntimeError(f"`{self.command}` did not start. It printed:\n{self.output}") from error
        if probe.status_code >= 500:
            # connexion imports the handlers on the first request, so a bad operationId shows up only now.
            self.stop()
            lines = self.output.splitlines()
            errors = [line for line in lines if "Error:" in line and not line.startswith(" ")]
            cause = errors[-1] if errors else "(no error line found)"
            tail = "\n".join(lines[-TAIL_LINES:])
            raise RuntimeError(
                f"`{self.command}` started but fails every request:\n    {cause}\nIts output ends with:\n{tail}"
            )
        return self

    def stop(self) -> int | None:
        """Stop the process (as Ctrl+C would) and return its exit code; None if it never started."""
        if self._process is None:
            return None
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        return self._process.returncode

    @property
    def output(self) -> str:
        """Everything the process printed so far."""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def __enter__(self) -> ConnexionRun:
        return self.start() if not self.running else self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"answering at {self.url}" if self.running else "stopped"
        return f"<ConnexionRun `{self.command}` {state}>"


_latest: dict[Path, ConnexionRun] = {}


def connexion_run(spec: str | Path = "oas3/ex-04-01-headers.yaml", port: int | None = None) -> ConnexionRun:
    """Start `connexion run SPEC` on a free port and return the running process handle.

    Re-running a notebook cell calls this again: the process started last time for the same
    spec is stopped first, so old servers do not pile up in the background.
    """
    key = Path(spec).resolve()
    if key in _latest:
        _latest.pop(key).stop()
    run = _latest[key] = ConnexionRun(spec, port).start()
    return run


@atexit.register
def _stop_leftovers() -> None:
    """Stop processes still running when Python exits (a kernel restart, say): they would outlive it."""
    for run in _latest.values():
        run.stop()
