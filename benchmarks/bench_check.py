"""How long does the in-notebook `check("id")` take, exercise by exercise?

    .venv/bin/python benchmarks/bench_check.py [--runs 5] [--submission solutions] [--exercise ID ...]

Runs in one interpreter, as a notebook's kernel does: the first call of all pays
the checker's imports (printed apart, as "cold"); then each exercise is checked
`--runs` times in turn and its median printed, against issue 12's targets (1 s
for the YAML exercises, 2 s for those that run learner code). Also prints a
baseline measured in the same run, to compare across days: the median time of
`python -c "import connexion"`, the one import every code exercise's sandbox
pays. Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.modules.setdefault("rfc3987_syntax", None)  # as checker.conftest does: a grammar nobody uses here

#: exercises graded from the learner's YAML alone (target 1 s); every other one runs learner code (2 s)
YAML_ONLY = {"headers-spec", "reusable-responses", "problem-schema", "jobs-spec"}


def baseline(runs: int) -> float:
    """Median seconds of a fresh interpreter importing connexion (what a sandbox pays once)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    code = "import sys; sys.modules['rfc3987_syntax'] = None; import connexion"
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--submission", default=str(REPO / "solutions"))
    parser.add_argument("--exercise", action="append", default=[])
    args = parser.parse_args()

    started = time.perf_counter()
    from checker import check
    from checker.exercises import all_exercises

    exercises = all_exercises()
    chosen = args.exercise or list(exercises)
    first = check(chosen[0], args.submission)
    cold = time.perf_counter() - started
    print(f"{os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}; baseline `import connexion` in a fresh "
          f"interpreter: {baseline(args.runs):.2f} s (median of {args.runs})")
    print(f"cold: the kernel's first check({chosen[0]!r}), imports included: {cold:.2f} s "
          f"({'passed' if first.passed else 'FAILED'})")
    times: dict[str, list[float]] = {name: [] for name in chosen}
    verdicts: dict[str, bool] = {}
    for _ in range(args.runs):
        for name in chosen:
            started = time.perf_counter()
            verdicts[name] = check(name, args.submission).passed
            times[name].append(time.perf_counter() - started)
    print(f"{'exercise':<20} {'kind':<5} {'median s':>8} {'target':>6}  verdict")
    for name in chosen:
        code = name not in YAML_ONLY
        target = 2.0 if code else 1.0
        median = statistics.median(times[name])
        print(f"{name:<20} {'code' if code else 'yaml':<5} {median:>8.2f} {target:>6.1f}  "
              f"{'passed' if verdicts[name] else 'FAILED'}{'' if median <= target else '  (over target)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
