"""Run one command with a time limit, and leave none of its processes behind.

    python -m checker.reaper --timeout 120 --memory-limit 4096 -- python -m pytest checker/ ...

The gradebook grades each learner through this wrapper. Learner code runs in
workers that the checker starts in sessions of their own, and it may fork,
daemonize or hang; killing the checker's process group would miss all that.
On Linux this process becomes a *child subreaper*: every process its command
leaves orphaned is re-parented here, however it detached, so the final sweep
finds and kills it. Elsewhere only the command's process group is killed.

Exit code: the command's own; TIMED_OUT after --timeout; STOPPED when asked to
stop (SIGTERM, SIGINT, or the parent dying); 128 + N when killed by signal N.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TIMED_OUT = 124  #: as coreutils `timeout` does
STOPPED = 143  #: 128 + SIGTERM
SWEEP_ROUNDS = 100  #: passes of freeze-then-kill before giving up on a process that keeps forking

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


class Stop(Exception):
    """Raised in the main thread when this wrapper is asked to stop."""


def _prctl(option: int, value: int) -> bool:
    """Call Linux prctl(2); False where it does not exist or fails."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def become_subreaper() -> bool:
    """Adopt every orphaned descendant, and stop when the parent (the gradebook) dies."""
    parent = os.getppid()
    adopted = adopt_orphans()
    if _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM) and os.getppid() != parent:
        raise Stop  # the parent died before it could be watched
    return adopted


def _children_map() -> dict[int, list[tuple[int, str]]]:
    """Parent pid -> [(pid, state)] for every process visible in /proc."""
    children: dict[int, list[tuple[int, str]]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) >= 2:
            children.setdefault(int(fields[1]), []).append((int(entry.name), fields[0]))
    return children


def descendants(root: int) -> list[int]:
    """Every live (non-zombie) process below `root`, read from /proc; [] where /proc is missing."""
    if not os.path.isdir("/proc"):
        return []
    children, found, queue = _children_map(), [], [root]
    while queue:
        for pid, state in children.get(queue.pop(), []):
            queue.append(pid)
            if state != "Z":
                found.append(pid)
    return found


def _reap_zombies() -> None:
    """Collect exit statuses of adopted orphans, so they do not linger as zombies."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def adopt_orphans() -> bool:
    """Make this process a child subreaper (Linux): what its descendants orphan stays below it."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def kill_descendants(root: int, between=lambda: None) -> None:
    """Kill every process below `root`; freeze first, and repeat, so a fork loop cannot outrun us."""
    for _ in range(SWEEP_ROUNDS):
        tree = descendants(root)
        if not tree:
            return
        for pid in tree:
            _signal(pid, signal.SIGSTOP)
        for pid in tree:
            _signal(pid, signal.SIGKILL)
        time.sleep(0.005)
        between()


def sweep(child: subprocess.Popen) -> None:
    """Kill the command and everything it started."""
    if os.name == "posix":
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    else:  # pragma: no cover - Windows has neither process groups nor /proc
        child.kill()

    def reap_if_done() -> None:
        if child.poll() is not None and os.name == "posix":
            _reap_zombies()

    kill_descendants(os.getpid(), between=reap_if_done)
    if os.name == "posix":
        _reap_zombies()


def _memory_limiter(limit_bytes: int):
    """A preexec function capping the command's address space (its children inherit the cap)."""
    def limit() -> None:  # pragma: no cover - runs in the child
        import resource

        try:
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
        except (ValueError, OSError):
            pass
    return limit


class Forked:
    """A child forked to run a function, with the part of Popen's interface `run` and `sweep` use."""

    def __init__(self, target, limiter=None):
        self.returncode: int | None = None
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                os.setsid()
                if limiter is not None:
                    limiter()
                code = target()
            finally:
                os._exit(code if isinstance(code, int) else 1)

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float) -> int:
        until = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() >= until:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode


def run(command: list[str], timeout: float, memory_mib: int = 0) -> int:
    """Run `command`, kill it after `timeout` seconds, then sweep; return the exit code to report."""
    limiter = _memory_limiter(memory_mib * 1024**2) if memory_mib and os.name == "posix" else None
    # The command gets a process group of its own, so killing it never signals this wrapper.
    return supervise(lambda: subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=os.name == "posix",
                                              preexec_fn=limiter), timeout)


def run_forked(target, timeout: float, memory_mib: int = 0) -> int:
    """As `run`, for a function run in a forked child (its exit code is what it returns): how the
    gradebook's fork server grades a learner with the checker's modules already imported."""
    limiter = _memory_limiter(memory_mib * 1024**2) if memory_mib else None
    return supervise(lambda: Forked(target, limiter), timeout)


def supervise(start, timeout: float) -> int:
    """Start a child with `start()`, kill it after `timeout` seconds, then sweep; the exit code to report."""
    try:
        become_subreaper()
    except Stop:
        return STOPPED

    def stop(signum, frame):
        raise Stop

    for sig in (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, stop)
    child = None
    try:
        child = start()
        try:
            code = child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = TIMED_OUT
        else:
            code = code if code >= 0 else 128 - code
    except Stop:
        code = STOPPED
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if child is not None:
            sweep(child)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m checker.reaper", description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, required=True, metavar="SECONDS",
                        help="seconds the command may run before it and all it started are killed")
    parser.add_argument("--memory-limit", type=int, default=0, metavar="MIB",
                        help="cap the address space of the command and its children, in MiB (default: no cap)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    if args.timeout <= 0:
        parser.error(f"--timeout must be a positive number of seconds, not {args.timeout:g}")
    return run(command, args.timeout, args.memory_limit)


if __name__ == "__main__":
    sys.exit(main())
