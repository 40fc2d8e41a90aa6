"""How long the parent waits for a sandboxed task: a time limit counts the time the task had, not the wall clock.

A request may take `checker.worker.REQUEST_TIMEOUT` seconds. On a busy machine (a teacher's
laptop grading a class, a CI runner next to a browser, a learner's own fork bomb in another
task) a correct handler can spend that long in the run queue, waiting for a CPU; the wall
clock alone would call it hung and cost a correct learner points. The kernel counts that
wait for every thread (`/proc/<tid>/schedstat`, second field: nanoseconds runnable but not
running, CPU-quota throttling included), so a limit is extended by the longest such wait of
any of the task's threads, up to `EXTRA` times the limit. Code that sleeps or waits on I/O
gains nothing (it is not waiting for a CPU), nor does code that loops (it is running).

Only a task that is still one process is waited for this way: one that started processes
(a fork bomb) competes with itself for its CPU share, and stretching its limits would only
let it starve the learner's other tasks for longer. The threads are read from the task's own
cgroup (cgroup v1, as root); elsewhere a limit is plain wall-clock time. Everything here is
read by the trusted parent from the kernel: learner code cannot report its own waits.
"""

from __future__ import annotations

import time
from pathlib import Path

EXTRA = 3.0  #: a limit grows to at most (1 + EXTRA) times itself, however long the task waited for a CPU
FIRST_LOOK = 0.1  #: seconds of silence before the first look at the task's threads (answers take milliseconds)


def cpu_waits(cgroups: list[Path]) -> dict[int, int] | None:
    """Nanoseconds each thread of the task has spent runnable but not running since it started; None if the
    task is more than one process (or its cgroup is gone)."""
    try:
        processes = (cgroups[0] / "cgroup.procs").read_text().split()
        threads = [int(tid) for tid in (cgroups[0] / "tasks").read_text().split()]
    except (OSError, ValueError):
        return None
    if len(processes) != 1:
        return None
    waits = {}
    for tid in threads:
        try:
            waits[tid] = int(Path(f"/proc/{tid}/schedstat").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue  # it ended meanwhile
    return waits


class Patience:
    """One wait of `limit` seconds for a task in its own v1 `cgroups` (none: wall-clock time)."""

    def __init__(self, limit: float, cgroups: list[Path]):
        self.cgroups = cgroups
        started = time.monotonic()
        self.ends = started + limit  #: when the limit runs out, moved on by what the task waited for a CPU
        self.spare = EXTRA * limit  #: seconds it may still be moved on
        self.looked: dict[int, int] | None = None
        #: when to look next: first after FIRST_LOOK (to know the waits from there on), then when the limit runs out
        self.until = started + min(FIRST_LOOK, limit / 2) if cgroups else self.ends

    def extend(self) -> bool:
        """`until` has passed without an answer: whether to go on waiting (and `until` moved on)."""
        now = time.monotonic()
        if now < self.until:
            return True
        if self.until < self.ends:  # the first look: the waits to count from
            self.until, self.looked = self.ends, cpu_waits(self.cgroups)
            return now < self.ends or self.extend()
        waits = cpu_waits(self.cgroups) if self.looked is not None else None
        if waits is None:
            return False
        waited = max((wait - self.looked.get(tid, 0) for tid, wait in waits.items()), default=0) / 1e9
        self.looked = waits
        grant = min(max(waited, 0.0), self.spare)
        if grant < 0.001:
            return False
        self.spare -= grant
        self.ends += grant
        self.until = self.ends
        return True
