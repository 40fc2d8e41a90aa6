"""How long does the gradebook take for a class, and how does it scale with learners and --jobs?

    .venv/bin/python benchmarks/bench_gradebook.py                      # the default plan below
    .venv/bin/python benchmarks/bench_gradebook.py --plan 100x2 100x4    # CLASS_SIZExJOBS runs
    .venv/bin/python benchmarks/bench_gradebook.py --plan 25x2 --without-sandbox   # each run also unsandboxed
    .venv/bin/python benchmarks/bench_gradebook.py --plan 25x2 --fresh-baseline    # and with a fresh interpreter per learner
    .venv/bin/python benchmarks/bench_gradebook.py --plan 20x2 --kinds good         # correct submissions only

Builds a class in a temporary folder, cycling through 20 learners: a copy of
solutions/ (12 in 20), the untouched starters (3 in 20), a broken YAML file, an
api.py that hangs at import, one that crashes the process (`os._exit`), a
client.py that kills every process it can see, and one that fork-bombs (1 in
20 each). Then runs `python -m checker.gradebook` once per
plan entry and prints wall time, seconds per learner, throughput, and whether
every copy of the same submission got the same total: an overloaded machine
shows up as good work graded as "hung". Numbers, not assertions: run it on a
quiet machine, and read the load average printed with each run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench_checker import CPU_SOURCE, children_cpu  # noqa: E402 - this folder is on sys.path when run as a script
from checker.sandbox import isolation  # noqa: E402
DEFAULT_PLAN = ["25x2", "50x2", "100x2"]
KINDS = ["good", "good", "good", "starter", "good", "broken-yaml", "good", "starter", "good", "hanging",
         "good", "crashing", "good", "starter", "good", "killer", "good", "good", "fork-bomb", "good"]
HOSTILE = {  # kind -> (file, its text)
    "hanging": ("api.py", "import time\ntime.sleep(999)\n"),
    "crashing": ("api.py", "import os\nos._exit(3)\n"),
    "killer": ("client.py", "import os, signal\nfor pid in os.listdir('/proc'):\n    if pid.isdigit() and int(pid) != "
                            "os.getpid():\n        try:\n            os.kill(int(pid), signal.SIGKILL)\n"
                            "        except OSError:\n            pass\n"),
    "fork-bomb": ("client.py", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n"
                               "        pass\n"),
}


def make_class(folder: Path, size: int, cycle: list[str] = KINDS) -> dict[str, str]:
    """`size` learner folders in `folder`, of the kinds in `cycle` in turn; returns learner -> kind."""
    kinds = {}
    for number in range(size):
        kind = cycle[number % len(cycle)]
        learner = folder / f"learner-{number:03d}"
        source = REPO / ("notebooks" if kind == "starter" else "solutions")
        shutil.copytree(source / "oas3", learner / "oas3", ignore=shutil.ignore_patterns("__pycache__"))
        if kind == "broken-yaml":
            (learner / "oas3" / "ex-04-01-headers.yaml").write_text("openapi: 3.0.3\npaths: {/status: [unclosed\n")
        elif kind in HOSTILE:
            name, text = HOSTILE[kind]
            (learner / "oas3" / name).write_text(text)
        kinds[learner.name] = kind
    return kinds


def grade(folder: Path, out: Path, jobs: int, extra: list[str], sandbox: bool = True,
          forkserver: bool = True) -> tuple[float, float]:
    """Wall seconds and CPU seconds (all processes) of one gradebook run."""
    env = {**os.environ, "CHECKER_SANDBOX": "" if sandbox else "none", "CHECKER_FORKSERVER": "1" if forkserver else "0"}
    started, cpu = time.perf_counter(), children_cpu()
    subprocess.run([sys.executable, "-m", "checker.gradebook", str(folder), "--out", str(out),
                    "--jobs", str(jobs), "--no-progress", *extra, *([] if sandbox else ["--no-sandbox"])],
                   cwd=REPO, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started, children_cpu() - cpu


def consistency(out: Path, kinds: dict[str, str]) -> str:
    """For each kind, how many learners got a total other than the most common one for that kind."""
    with open(out / "gradebook.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    totals: dict[str, Counter] = {}
    statuses = Counter(row["status"] for row in rows)
    for row in rows:
        totals.setdefault(kinds[row["learner"]], Counter())[row["total"]] += 1
    odd = sum(sum(counter.values()) - counter.most_common(1)[0][1] for counter in totals.values())
    modal = ", ".join(f"{kind} {counter.most_common(1)[0][0]}" for kind, counter in sorted(totals.items()))
    extra = ", ".join(f"{n} {status}" for status, n in statuses.items() if status != "graded")
    named = ", ".join(f"{row['learner']} ({kinds[row['learner']]}) {row['total']}" for row in rows
                      if row["total"] != totals[kinds[row["learner"]]].most_common(1)[0][0])
    return f"{odd} odd ({modal}{'; ' + extra if extra else ''}){': ' + named if named else ''}"


def seconds_by_kind(out: Path, kinds: dict[str, str]) -> str:
    """Each kind's median seconds per learner (the gradebook's own timing of each job), slowest first."""
    spent: dict[str, list[float]] = {}
    for path in (out / "results").glob("*.json"):
        result = json.loads(path.read_text())["gradebook"]
        spent.setdefault(kinds[result["learner"]], []).append(result["seconds"])
    medians = sorted(((statistics.median(values), kind) for kind, values in spent.items()), reverse=True)
    return ", ".join(f"{kind} {median:.1f}" for median, kind in medians)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plan", nargs="+", default=DEFAULT_PLAN, metavar="SIZExJOBS",
                        help=f"runs to time (default: {' '.join(DEFAULT_PLAN)})")
    parser.add_argument("--checker-deadline", default=None, metavar="SECONDS", help="passed to the gradebook")
    parser.add_argument("--exercise", action="append", default=[], metavar="ID",
                        help="grade only these exercise ids (default: all), e.g. to compare with an older run")
    parser.add_argument("--kinds", nargs="+", default=KINDS, choices=sorted(set(KINDS)), metavar="KIND",
                        help="build the classes from these kinds in turn (default: the mixed cycle above); "
                             "`--kinds good` times a class of correct submissions only")
    parser.add_argument("--without-sandbox", action="store_true",
                        help="grade each class a second time without the sandbox, right after, to compare")
    parser.add_argument("--fresh-baseline", action="store_true",
                        help="grade each class a second time with a fresh interpreter per learner (CHECKER_FORKSERVER=0), "
                             "as before the fork server, right after, to compare")
    args = parser.parse_args()
    plan = [tuple(int(part) for part in entry.split("x")) for entry in args.plan]
    extra = ["--checker-deadline", args.checker_deadline] if args.checker_deadline else []
    extra += [part for exercise in args.exercise for part in ("--exercise", exercise)]
    print(f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}")
    print(f"{'learners':>8} {'jobs':>4} {'sandbox':>10} {'forked':>6} {'seconds':>8} {'s/learner':>9} {'per min':>7} {'load':>5}"
          "  same work, same total?")
    with tempfile.TemporaryDirectory(prefix="bench-gradebook-") as scratch:
        classes = {}
        for size, jobs in plan:
            if size not in classes:
                folder = Path(scratch) / f"class-{size}"
                classes[size] = (folder, make_class(folder, size, args.kinds))
            folder, kinds = classes[size]
            variants = [(True, True)] + [(False, True)] * args.without_sandbox + [(True, False)] * args.fresh_baseline
            for sandbox, forked in variants:
                out = Path(scratch) / f"grades-{size}x{jobs}-{sandbox}-{forked}"
                seconds, cpu = grade(folder, out, jobs, extra, sandbox, forked)
                load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
                level = isolation().level if sandbox else "none"
                print(f"{size:>8} {jobs:>4} {level:>10} {'yes' if forked else 'no':>6} {seconds:>8.1f} {seconds / size:>9.2f} {60 * size / seconds:>7.1f}"
                      f" {load:>5.1f}  {consistency(out, kinds)}", flush=True)
                print(f"{'':>8} CPU ({CPU_SOURCE}) {cpu:.1f} s in all, {cpu / size:.2f} s per learner; median seconds per learner: "
                      f"{seconds_by_kind(out, kinds)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
