"""How long does `pytest checker/ --submission solutions` take, and where does the time go?

    .venv/bin/python benchmarks/bench_checker.py [--runs 7]

Prints the median wall time of the whole command, the median time of each
exercise (pytest's own per-item call durations), and, for comparison, the
naive approach the checker replaces: 2000 GET /status through connexion's
TestClient in one process. Numbers, not assertions: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import re
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


def run_checker(extra: list[str]) -> tuple[float, dict[str, float]]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "checker/", "--submission", "solutions", "-q", "-p", "no:cacheprovider",
         "--durations=0", "--durations-min=0", *extra],
        cwd=REPO, capture_output=True, text=True,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"the checker failed on solutions/:\n{done.stdout[-2000:]}")
    return wall, {name: float(seconds) for seconds, name in DURATION.findall(done.stdout)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="repetitions per measurement (default 7)")
    parser.add_argument("--exercise", action="append", default=[], help="time only these exercise ids")
    args = parser.parse_args()
    extra = [f"--exercise={e}" for e in args.exercise]
    walls, per_exercise = [], {}
    run_checker(extra)  # warm the file cache
    for _ in range(args.runs):
        wall, durations = run_checker(extra)
        walls.append(wall)
        for name, seconds in durations.items():
            per_exercise.setdefault(name, []).append(seconds)
    print(f"pytest checker/ --submission solutions: median {statistics.median(walls):.2f} s "
          f"(min {min(walls):.2f}, max {max(walls):.2f}, {args.runs} runs)")
    print("per exercise (median of pytest call durations; learner code starts in parallel at collection):")
    from checker.exercises import all_exercises

    for name in (i for i in all_exercises() if i in per_exercise):
        values = per_exercise[name]
        print(f"  {name:22s} {statistics.median(values):6.2f} s")
    naive = [float(subprocess.run([sys.executable, "-c", NAIVE], cwd=REPO, capture_output=True, text=True,
                                  check=True).stdout) for _ in range(3)]
    print(f"naive: 2000 requests through connexion's TestClient: median {statistics.median(naive):.2f} s")


if __name__ == "__main__":
    main()
