"""How long does `pytest checker/ --submission solutions` take, and where does the time go?

    .venv/bin/python benchmarks/bench_checker.py [--runs 7]

Prints the median wall time of the whole command with the sandbox and without
it (`CHECKER_SANDBOX=none`), runs interleaved so both see the same machine; the
median time of each exercise (pytest's own per-item call durations); the cost of
starting one sandbox (`bwrap ... python -c pass` against a plain `python -c
pass`); and, for comparison, the naive approach the checker replaces: 2000 GET
/status through connexion's TestClient in one process. Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import atexit
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DURATION = re.compile(r"^([\d.]+)s call\s+checker/exercises/\w+\.py::([\w-]+)$", re.M)

NAIVE = """
import sys, time
sys.path.insert(0, "solutions/oas3")
started = time.perf_counter()
import connexion
app = connexion.FlaskApp(__name__, specification_dir="solutions/oas3")
app.add_api("ex-04-01-headers.yaml")
client = app.test_client()
for _ in range(2000):
    client.get("/status")
print(time.perf_counter() - started)
"""


def _accounting_cgroup() -> Path | None:
    """A cgroup-v1 cpuacct group this benchmark moves itself into, or None where it cannot (not root, cgroup v2).

    getrusage(RUSAGE_CHILDREN) misses the sandboxes: their processes are killed with their namespace's PID 1,
    not waited for by the processes that started them, so their CPU never reaches this process (about 5 s of a
    good learner's 6.5 were missing from the numbers before 2026-11-29). The checker moves sandboxes into cgroups
    of its own in the cpu, pids and memory hierarchies, never in cpuacct, so here they stay counted."""
    hierarchy = Path("/sys/fs/cgroup/cpuacct")
    if os.geteuid() != 0 or not (hierarchy / "cpuacct.usage").exists():
        return None
    group = hierarchy / f"bench-{os.getpid()}"
    try:
        group.mkdir(exist_ok=True)
        (group / "cgroup.procs").write_text(str(os.getpid()))
    except OSError:
        return None
    atexit.register(_leave, group)
    return group


def _leave(group: Path) -> None:
    try:
        (group.parent / "cgroup.procs").write_text(str(os.getpid()))
        group.rmdir()
    except OSError:
        pass  # a process of ours still runs there; an empty group left behind is harmless


ACCOUNTING = _accounting_cgroup()
CPU_SOURCE = "cpuacct cgroup: every process" if ACCOUNTING else "getrusage: sandboxes not counted"


def children_cpu() -> float:
    """CPU seconds (user + system) of every process this benchmark started, and theirs, so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    if ACCOUNTING is not None:
        return int((ACCOUNTING / "cpuacct.usage").read_text()) / 1e9 - own.ru_utime - own.ru_stime
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_checker(extra: list[str], sandbox: bool = True) -> tuple[float, dict[str, float], float]:
    env = {**os.environ, "CHECKER_SANDBOX": "" if sandbox else "none"}
    started, cpu = time.perf_counter(), children_cpu()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "checker/", "--submission", "solutions", "-q", "-p", "no:cacheprovider",
         "--durations=0", "--durations-min=0", *extra],
        cwd=REPO, capture_output=True, text=True, env=env,
    )
    wall, cpu = time.perf_counter() - started, children_cpu() - cpu
    if done.returncode != 0:
        sys.exit(f"the checker failed on solutions/:\n{done.stdout[-2000:]}")
    return wall, {name: float(seconds) for seconds, name in DURATION.findall(done.stdout)}, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="repetitions per measurement (default 7)")
    parser.add_argument("--exercise", action="append", default=[], help="time only these exercise ids")
    args = parser.parse_args()
    extra = [f"--exercise={e}" for e in args.exercise]
    walls, cpus, plain, per_exercise = [], [], [], {}
    run_checker(extra)  # warm the file cache
    for _ in range(args.runs):
        wall, durations, cpu = run_checker(extra)
        walls.append(wall)
        cpus.append(cpu)
        plain.append(run_checker(extra, sandbox=False)[0])
        for name, seconds in durations.items():
            per_exercise.setdefault(name, []).append(seconds)
    from checker.sandbox import isolation

    print(f"pytest checker/ --submission solutions, {isolation().level}: median {statistics.median(walls):.2f} s "
          f"(min {min(walls):.2f}, max {max(walls):.2f}, {args.runs} runs)")
    print(f"  the same without the sandbox: median {statistics.median(plain):.2f} s "
          f"(sandbox / none = {statistics.median(walls) / statistics.median(plain):.2f})")
    start_costs()
    print("per exercise (median of pytest call durations; learner code starts in parallel at collection):")
    from checker.exercises import all_exercises

    for name in (i for i in all_exercises() if i in per_exercise):
        values = per_exercise[name]
        print(f"  {name:22s} {statistics.median(values):6.2f} s")
    naive, naive_cpus = [], []
    for _ in range(3):
        cpu = children_cpu()
        naive.append(float(subprocess.run([sys.executable, "-c", NAIVE], cwd=REPO, capture_output=True, text=True,
                                          check=True).stdout))
        naive_cpus.append(children_cpu() - cpu)
    print(f"naive: 2000 requests through connexion's TestClient: median {statistics.median(naive):.2f} s "
          f"(checker / naive = {statistics.median(walls) / statistics.median(naive):.2f})")
    print(f"CPU seconds ({CPU_SOURCE}): checker median {statistics.median(cpus):.2f} s, naive "
          f"{statistics.median(naive_cpus):.2f} s (checker / naive = {statistics.median(cpus) / statistics.median(naive_cpus):.2f})")


def start_costs(runs: int = 20) -> None:
    """The cost of one sandbox start: bwrap around `true` and around `python -c pass`, against neither."""
    from checker import sandbox

    if not sandbox.isolation().sandboxed:
        return

    def median_start(argv: list[str]) -> float:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(argv, check=True, preexec_fn=sandbox._limits)
            times.append(time.perf_counter() - started)
        return statistics.median(times) * 1000

    python = [sys.executable, "-E", "-s", "-c", "pass"]
    boxed = sandbox._bwrap_argv(sandbox.bwrap_path(), ["/bin/true"], None, {})
    boxed_python = sandbox._bwrap_argv(sandbox.bwrap_path(), python, None, {})
    print(f"one sandbox start: bwrap + true {median_start(boxed):.1f} ms (true alone {median_start(['/bin/true']):.1f} ms); "
          f"bwrap + python {median_start(boxed_python):.1f} ms (python alone {median_start(python):.1f} ms)")


if __name__ == "__main__":
    main()
