"""Run learner code in a separate, limited process and collect what it reported.

Why a process: learner code may hang, loop, call `os._exit`, exhaust memory or
print anything. Here it can do all that and the checker still answers, within
`deadline` seconds, with what happened and when.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

from checker.reaper import adopt_orphans, kill_descendants

#: seconds without any event before the worker counts as hung, by what it was doing
STALL_LIMITS = {"starting": 15.0, "importing": 5.0, "serving": 4.0}
MEMORY_LIMIT = 3 * 1024**3  #: bytes of address space
OUTPUT_TAIL = 1500  #: characters of learner output kept for messages


def _limit_resources() -> None:  # pragma: no cover - runs in the child
    """Cap memory, CPU time, file size and core dumps of the worker (POSIX only), and make it
    adopt whatever its learner code detaches, so nothing escapes the final sweep."""
    import resource

    adopt_orphans()
    for limit, value in (
        (resource.RLIMIT_AS, MEMORY_LIMIT),
        (resource.RLIMIT_CPU, 60),
        (resource.RLIMIT_FSIZE, 64 * 1024**2),
        (resource.RLIMIT_CORE, 0),
    ):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass


@dataclass
class WorkerRun:
    """Events a worker sent, and how it ended: finished, crashed, or stopped as hung."""

    events: list[dict] = field(default_factory=list)
    ended: str = "finished"  #: "finished", "crashed" or "hung"
    exit_code: int | None = 0
    hung_while: str = ""  #: what it was doing when it hung: "importing", "serving", ...
    output: str = ""  #: the tail of what learner code printed

    def of(self, kind: str) -> list[dict]:
        return [event for event in self.events if event["event"] == kind]

    def first(self, kind: str) -> dict | None:
        found = self.of(kind)
        return found[0] if found else None


class Worker:
    """A started worker; `result()` waits for it with stall limits and an overall deadline."""

    def __init__(self, tasks: list[dict], deadline: float = 25.0):
        self.deadline = deadline
        read_fd, write_fd = os.pipe()
        self._output = tempfile.TemporaryFile()
        config = json.dumps({"fd": write_fd, "tasks": tasks})
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        posix = os.name == "posix"
        self._process = subprocess.Popen(
            [sys.executable, "-m", "checker.worker", config],
            stdin=subprocess.DEVNULL, stdout=self._output, stderr=self._output,
            pass_fds=(write_fd,), env=env, start_new_session=posix,
            preexec_fn=_limit_resources if posix else None,
        )
        os.close(write_fd)
        self._started = time.monotonic()
        self._last_event = self._started
        self._run = WorkerRun()
        self._reader = threading.Thread(target=self._read, args=(read_fd,), daemon=True)
        self._reader.start()
        self._result: WorkerRun | None = None

    def _read(self, fd: int) -> None:
        with os.fdopen(fd, encoding="utf-8", errors="replace") as pipe:
            for line in pipe:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(event, dict) and "event" in event:
                    self._run.events.append(event)
                    self._last_event = time.monotonic()

    def _phase(self) -> str:
        last = self._run.events[-1]["event"] if self._run.events else "starting"
        if last == "importing":
            return "importing"
        return "starting" if last in ("started",) or not self._run.events else "serving"

    def _kill(self) -> None:
        kill_descendants(self._process.pid)  # what learner code started, detached or not
        try:
            if os.name == "posix":
                os.killpg(self._process.pid, signal.SIGKILL)
            else:
                self._process.kill()
        except (ProcessLookupError, PermissionError):
            pass
        self._process.wait()

    def result(self) -> WorkerRun:
        """Wait for the worker to end (or stop it) and return what it reported."""
        if self._result is not None:
            return self._result
        run = self._run
        while self._process.poll() is None:
            now = time.monotonic()
            phase = self._phase()
            if now - self._last_event > STALL_LIMITS[phase] or now - self._started > self.deadline:
                run.ended, run.hung_while = "hung", phase
                self._kill()
                break
            time.sleep(0.02)
        self._reader.join(timeout=2)
        run.exit_code = self._process.returncode
        if run.ended != "hung" and not run.of("done"):
            run.ended = "crashed"
        self._output.seek(0)
        run.output = self._output.read().decode("utf-8", "replace")[-OUTPUT_TAIL:]
        self._output.close()
        self._result = run
        return run
