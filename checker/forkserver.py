"""Grade learner after learner without starting Python, pytest and the checker again for each one.

The gradebook used to start `python -m checker.reaper -- python -m pytest checker/ ...` per
learner: about a second of CPU spent importing before any grading. This server, one per
gradebook, imports all of that once, single-threaded, then forks a job per learner:

    job     the reaper's part (`checker.reaper.run_forked`): a subreaper with the time limit,
            which sweeps up everything below it when the grading ends;
    grader  forked by the job: `pytest.main(...)`, the learner's own `pytest checker/` command,
            with its output in the learner's log file.

It is trusted code: learner code never runs here, only in the sandboxes the grader starts.
Requests come on stdin and answers go to stdout, one JSON object per line:

    {"job": ID, "args": [...], "log": PATH, "timeout": S, "memory_mib": M}  ->  {"job": ID, "pid": PID}
                                                                  later ->  {"job": ID, "code": CODE}
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path

from checker import reaper

REPO = Path(__file__).resolve().parent.parent
SERVER_GONE = 255  #: a job's exit code when the server ended before telling it (a checker error, not a verdict)


def available() -> bool:
    """Fork servers need fork (POSIX); elsewhere each learner gets a fresh interpreter."""
    return hasattr(os, "fork") and os.environ.get("CHECKER_FORKSERVER", "1") != "0"


def preload() -> None:
    """Import what every grading imports, so forked jobs start with it in memory, and freeze it there: the
    collections pytest forces in each job then skip it (0.36 s a learner)."""
    import checker.conftest  # noqa: F401 - first: it keeps jsonschema from compiling a grammar nobody uses
    import pytest  # noqa: F401
    import checker.grading  # noqa: F401
    from checker.exercises import all_exercises
    from checker.exercises.headers_spec import warm_validator
    from checker.sandbox import isolation

    all_exercises()
    isolation()
    warm_validator()  # once here, not once per learner (no thread: the server forks)
    preload_late_imports()
    gc.freeze()


def preload_late_imports() -> None:
    """What a grading would otherwise import in every forked grader: scipy.stats (1.3 s of CPU, imported late
    by `checker.stats` so `pytest checker/` starts faster), the checker's own late imports, and pytest's
    plugins, which each `pytest.main` imports when it builds its config."""
    import importlib
    import pdb  # noqa: F401 - pytest's debugging plugin imports it when a session starts
    import pkgutil

    import scipy.stats  # noqa: F401
    from _pytest.config import get_config

    import checker.drivers
    import checker.gradebook  # noqa: F401 - write_atomic, for --grade-json

    for module in pkgutil.iter_modules(checker.drivers.__path__, "checker.drivers."):
        importlib.import_module(module.name)
    get_config().pluginmanager.load_setuptools_entrypoints("pytest11")



def grade(args: list[str], log: str) -> int:
    """The grader: the learner's `pytest checker/ ...`, in this (forked) process, output to `log`."""
    import pytest

    from checker import sandbox

    sandbox.fresh_uids()  # the parent's uid sequence is every job's copy: take one of this process's own
    descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    os.chdir(REPO)
    try:
        code = int(pytest.main(args))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return code


def job(args: list[str], log: str, timeout: float, memory_mib: int) -> int:
    """The job: supervise one grader like `python -m checker.reaper` supervises a command."""
    return reaper.run_forked(lambda: grade(args, log), timeout, memory_mib)


def serve() -> int:
    """Answer requests on stdin until it closes; report each job's exit code when it ends."""
    preload()
    running: dict[int, object] = {}  # pid -> job id
    pending, closed = b"", False
    while not closed or running:
        ready, _, _ = select.select([] if closed else [0], [], [], 0.05 if running else None)
        for pid, job_id in list(running.items()):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 255 << 8
            if done:
                del running[pid]
                answer(job_id=job_id, code=os.waitstatus_to_exitcode(status))
        if not ready:
            continue
        chunk = os.read(0, 65536)
        closed = not chunk
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in filter(None, lines):
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the job
                code = 1
                try:
                    code = job(request["args"], request["log"], float(request["timeout"]),
                               int(request.get("memory_mib", 0)))
                finally:
                    os._exit(code)
            running[pid] = request["job"]
            answer(job_id=request["job"], pid=pid)
    return 0


def answer(job_id, **fields) -> None:
    os.write(1, (json.dumps({"job": job_id, **fields}) + "\n").encode())


class Server:
    """The gradebook's side: start the server, ask for jobs from several threads, wait for their codes."""

    def __init__(self, env: dict[str, str]):
        self.process = subprocess.Popen([sys.executable, "-m", "checker.forkserver"], cwd=REPO, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                                        start_new_session=True)
        self._lock = threading.Lock()
        self._next = 0
        self._waiting: dict[int, dict] = {}  # job id -> {"pid": ..., "code": ..., "event": Event}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                entry = self._waiting.get(message.get("job"))
            if entry is None:
                continue
            if "pid" in message:
                entry["pid"] = message["pid"]
                entry["started"].set()
            if "code" in message:
                entry["code"] = message["code"]
                entry["ended"].set()
        with self._lock:  # the server is gone: nothing else will end
            for entry in self._waiting.values():
                entry["started"].set()
                entry["ended"].set()

    def start(self, args: list[str], log: Path, timeout: float, memory_mib: int) -> Job:
        with self._lock:
            self._next += 1
            job_id = self._next
            entry = {"pid": None, "code": None, "started": threading.Event(), "ended": threading.Event()}
            self._waiting[job_id] = entry
            self.process.stdin.write(json.dumps({"job": job_id, "args": args, "log": str(log), "timeout": timeout,
                                                 "memory_mib": memory_mib}) + "\n")
            self.process.stdin.flush()
        entry["started"].wait(30)
        return Job(self, job_id, entry)

    def close(self) -> None:
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Job:
    """One learner's grading in the server, with the part of Popen's interface the gradebook uses."""

    def __init__(self, server: Server, job_id: int, entry: dict):
        self.server, self.job_id, self.entry = server, job_id, entry
        self.pid = entry["pid"]

    def wait(self, timeout: float) -> int:
        if not self.entry["ended"].wait(timeout):
            raise subprocess.TimeoutExpired(f"job {self.job_id}", timeout)
        code = self.entry["code"]
        return code if isinstance(code, int) else SERVER_GONE

    def send_signal(self, sig: int) -> None:
        if self.pid:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


if __name__ == "__main__":
    sys.exit(serve())
