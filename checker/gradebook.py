"""Grade a whole class in one command: a gradebook CSV, and each learner's feedback.

    python -m checker.gradebook SUBMISSIONS --out grades/
    python -m checker.gradebook SUBMISSIONS --out grades/ --jobs 2 --timeout 120 --skip-graded

SUBMISSIONS holds one folder per learner, named after the learner. Each is laid
out like notebooks/ (oas3/ inside), or is a clone of the whole workbook
repository (notebooks/oas3/ inside), as GitHub Classroom hands them out. Writes:

    grades/gradebook.csv           learner, points per exercise, total, max, status, notes
    grades/feedback/LEARNER.txt    what `pytest checker/` showed for that learner's work
    grades/results/LEARNER.json    the checker's --grade-json, plus how the run ended

Each learner is graded by the checker's own command in a separate process tree
(`checker.reaper`) with a time limit, so a submission that hangs, crashes or
forks away is stopped, swept up, and still gets a row saying why. Every file is
replaced atomically and the CSV is rebuilt from results/ after each learner, so
an interrupted run leaves only complete files; `--skip-graded` then finishes it.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from checker import forkserver, reaper
from checker.sandbox import isolation

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parent

#: the `status` column: how grading a learner ended
GRADED = "graded"  #: the checker ran to the end; the points are its points
EMPTY = "empty"  #: graded, but there is no oas3/ folder to grade
TIMEOUT = "timeout"  #: stopped after --timeout seconds; no points
CHECKER_ERROR = "checker error"  #: the checker itself failed; no points (retried by --skip-graded)
NOT_A_FOLDER = "not a folder"  #: a file where a learner's folder should be
NOT_GRADED = "not graded"  #: no result yet: the run was interrupted before this learner
RETRIED = {CHECKER_ERROR}  #: statuses that --skip-graded grades again

#: texts added to a learner's feedback file when the checker could not speak for itself
FEEDBACK_TIMEOUT = ("The grader stopped checking your work after {seconds:g} seconds, so no exercise "
                    "got points. Something in your files kept the checker busy that long: run "
                    "`pytest checker/` yourself and look for code that waits or loops forever.")
FEEDBACK_CHECKER_ERROR = ("The checker could not finish grading your work (exit code {code}); this is "
                          "not a verdict on it. Please show this file to your instructor.")
FEEDBACK_LINK = ("{name} is a link to {target}, not a folder: hand in the folder itself (a link could lead to "
                 "someone else's work).")
FEEDBACK_NOT_A_FOLDER = ("{name} is a file, not a folder: hand in a folder laid out like notebooks/ "
                         "(with oas3/ inside), not an archive or a single file.")

#: pytest options for every learner: no cache shared between learners, no colour codes in feedback files,
#: and none of the plugins that grade nothing here (nbval alone imports for ~3 s per learner)
PYTEST_OPTIONS = ("-p", "no:cacheprovider", "-p", "no:nbval", "-p", "no:xdist", "-p", "no:anyio", "--color=no")
CHECKER_MEMORY_MIB = 4096  #: address space of each checker process (it peaks near 0.9 GiB); workers cap theirs lower
MAX_HASHED_BYTES = 16 * 1024**2  #: larger files are fingerprinted by size and time, not read
GRACE = 30.0  #: seconds past --timeout before the wrapper itself is killed
CSV_NAME = "gradebook.csv"
SKIPPED_NAMES = {"__pycache__", "__MACOSX", ".git", ".ipynb_checkpoints", "node_modules"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  #: cells a spreadsheet would run as a formula


@dataclass(frozen=True)
class Settings:
    """What every learner is graded with; a stored result counts only if it was graded the same way."""

    submissions: Path
    out: Path
    timeout: float = 180.0
    checker_deadline: float | None = None
    exercises: tuple[str, ...] = ()
    grader: str = ""  #: fingerprint of the checker's own files

    @property
    def work(self) -> Path:
        return self.out / ".work"


@dataclass
class Learner:
    """One entry of SUBMISSIONS: a learner's folder (or a stray file)."""

    name: str
    path: Path
    fingerprint: str = ""
    result: dict | None = field(default=None, repr=False)


# -- files ---------------------------------------------------------------------------


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step: readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(temporary, "w", encoding="utf-8", newline="") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def remove_stale_temporaries(out: Path) -> None:
    """Delete half-written files an earlier, interrupted run left behind."""
    for folder in (out, out / "results", out / "feedback"):
        for stale in folder.glob(".*.tmp") if folder.is_dir() else ():
            stale.unlink(missing_ok=True)
    work = out / ".work"
    if work.is_dir():
        for stale in work.iterdir():
            stale.unlink(missing_ok=True)


def _files(root: Path):
    """Every file and symbolic link under `root`, in a stable order, never following links."""
    for folder, folders, files in os.walk(root):
        folders[:] = sorted(name for name in folders if name not in SKIPPED_NAMES)
        for name in sorted(files) + [name for name in folders if os.path.islink(os.path.join(folder, name))]:
            yield Path(folder, name)


def _content_digest(path: Path) -> bytes:
    """What a file holds, without reading a link's target, a device or a huge file."""
    try:
        status = path.lstat()
        if stat.S_ISLNK(status.st_mode):
            return b"link:" + os.readlink(path).encode(errors="replace")
        if not stat.S_ISREG(status.st_mode) or status.st_size > MAX_HASHED_BYTES:
            return f"other:{status.st_mode}:{status.st_size}:{status.st_mtime_ns}".encode()
        return hashlib.sha256(path.read_bytes()).digest()
    except OSError:
        return b"unreadable"


def fingerprint_folder(root: Path) -> str:
    """A hash of every file's name and content under `root`, so an edited submission is graded again."""
    digest = hashlib.sha256()
    if root.is_dir():
        for path in _files(root):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + _content_digest(path))
    return digest.hexdigest()


def grader_fingerprint() -> str:
    """A hash of the checker's own code and reference files, so a changed checker grades again."""
    digest = hashlib.sha256()
    for path in _files(PACKAGE):
        if path.suffix in {".py", ".yaml", ".yml", ".json"}:
            digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + _content_digest(path))
    return digest.hexdigest()[:16]


def graded_root(folder: Path) -> Path:
    """The folder to hand the checker: the learner's own, or notebooks/ inside a repository clone."""
    clone = folder / "notebooks"
    if not (folder / "oas3").is_dir() and not clone.is_symlink() and (clone / "oas3").is_dir():
        return clone  # never a linked notebooks/: it could lead to another learner's work
    return folder


def discover(submissions: Path) -> list[Learner]:
    """Every learner entry in SUBMISSIONS, by name; hidden entries are not learners."""
    return [Learner(entry.name, entry) for entry in sorted(submissions.iterdir(), key=lambda p: p.name)
            if not entry.name.startswith(".") and entry.name not in SKIPPED_NAMES]


# -- one learner ---------------------------------------------------------------------


def pytest_args(learner: Learner, settings: Settings, grade_json: Path) -> list[str]:
    """The arguments of the learner's own `pytest checker/` command."""
    args = [str(PACKAGE), *PYTEST_OPTIONS, "--submission", str(graded_root(learner.path)), "--grade-json", str(grade_json)]
    if settings.checker_deadline is not None:
        args += ["--checker-deadline", f"{settings.checker_deadline:g}"]
    for exercise in settings.exercises:
        args += ["--exercise", exercise]
    return args


def checker_command(learner: Learner, settings: Settings, grade_json: Path) -> list[str]:
    """The learner's own `pytest checker/` command, wrapped in the reaper with the time limit (where there is
    no fork server: see `checker.forkserver`)."""
    return [sys.executable, "-m", "checker.reaper", "--timeout", f"{settings.timeout:g}",
            "--memory-limit", str(CHECKER_MEMORY_MIB), "--", sys.executable, "-m", "pytest",
            *pytest_args(learner, settings, grade_json)]


def _environment() -> dict[str, str]:
    # The teacher's own pytest settings must not change what learners are graded with.
    env = {key: value for key, value in os.environ.items() if key not in {"PYTEST_ADDOPTS", "PYTEST_PLUGINS"}}
    env.update(PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    env["CHECKER_SANDBOX_CPUS"] = "1"  # learners graded side by side: none takes more than one core from the others
    return env


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not set(line.strip()) <= set("=_-")]
    return lines[-1][:200] if lines else "it printed nothing"


def _failed_exercises(grades: dict) -> list[str]:
    return [exercise_id for exercise_id, exercise in grades.get("exercises", {}).items() if not exercise.get("passed")]


class Running:
    """The wrapper processes now grading, so an interrupted gradebook can stop them all."""

    def __init__(self, server=None):
        self._lock = threading.Lock()
        self._processes: set[subprocess.Popen] = set()
        self.stopping = threading.Event()
        self.server = server  #: a checker.forkserver.Server, where jobs are forked rather than started

    def add(self, process: subprocess.Popen) -> None:
        with self._lock:
            self._processes.add(process)
        if self.stopping.is_set():
            self.stop(process)

    def discard(self, process: subprocess.Popen) -> None:
        with self._lock:
            self._processes.discard(process)

    @staticmethod
    def stop(process: subprocess.Popen) -> None:
        try:
            process.send_signal(signal.SIGTERM)
        except (ProcessLookupError, OSError):
            pass

    def stop_all(self) -> None:
        """Ask every wrapper to sweep its learner's processes and end."""
        self.stopping.set()
        with self._lock:
            processes = list(self._processes)
        for process in processes:
            self.stop(process)


def grade_learner(learner: Learner, settings: Settings, running: Running) -> dict | None:
    """Grade one learner and write their feedback and result; None if the gradebook is stopping."""
    if running.stopping.is_set():
        return None
    if learner.path.is_symlink():
        message = FEEDBACK_LINK.format(name=learner.name, target=os.readlink(learner.path))
        return finish(learner, settings, NOT_A_FOLDER, message, feedback=message + "\n")
    if not learner.path.is_dir():
        message = FEEDBACK_NOT_A_FOLDER.format(name=learner.name)
        return finish(learner, settings, NOT_A_FOLDER, message, feedback=message + "\n")
    settings.work.mkdir(parents=True, exist_ok=True)
    log, grade_json = settings.work / f"{learner.name}.log", settings.work / f"{learner.name}.json"
    for stale in (log, grade_json):
        stale.unlink(missing_ok=True)
    started = time.monotonic()
    with open(log, "wb") as sink:
        if running.server is not None:
            process = running.server.start(pytest_args(learner, settings, grade_json), log, settings.timeout,
                                           CHECKER_MEMORY_MIB)
        else:
            process = subprocess.Popen(checker_command(learner, settings, grade_json), cwd=REPO, env=_environment(),
                                       stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                                       start_new_session=os.name == "posix")
        running.add(process)
        try:
            code = process.wait(timeout=settings.timeout + GRACE)
        except subprocess.TimeoutExpired:  # the wrapper itself is stuck: a last resort
            process.kill()
            code = process.wait(timeout=GRACE)
        finally:
            running.discard(process)
    seconds = time.monotonic() - started
    output = log.read_text(encoding="utf-8", errors="replace")
    if code == reaper.STOPPED or running.stopping.is_set():
        return None
    grades = None
    if code in (0, 1):
        try:
            grades = json.loads(grade_json.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            grades = None
    for leftover in (log, grade_json):
        leftover.unlink(missing_ok=True)
    if code == reaper.TIMED_OUT:
        text = FEEDBACK_TIMEOUT.format(seconds=settings.timeout)
        return finish(learner, settings, TIMEOUT, f"the checker was stopped after {settings.timeout:g} s",
                      feedback=f"{output.rstrip()}\n\n{text}\n".lstrip(), seconds=seconds, code=code)
    if not isinstance(grades, dict) or not isinstance(grades.get("exercises"), dict):
        text = FEEDBACK_CHECKER_ERROR.format(code=code)
        return finish(learner, settings, CHECKER_ERROR, f"exit code {code}: {_last_line(output)}",
                      feedback=f"{output.rstrip()}\n\n{text}\n".lstrip(), seconds=seconds, code=code)
    root = graded_root(learner.path)
    if not (root / "oas3").is_dir():
        status, notes = EMPTY, "no oas3/ folder (nor notebooks/oas3/) to grade"
    else:
        failed = _failed_exercises(grades)
        status, notes = GRADED, f"failed: {', '.join(failed)}" if failed else "all passed"
        refused = grades.get("refused_files") if isinstance(grades.get("refused_files"), dict) else {}
        if refused:
            notes += f"; not graded (a link, a device or too large): {', '.join(sorted(refused))}"
        if root != learner.path:
            notes += f"; graded {root.relative_to(learner.path).as_posix()}/ of a repository clone"
    return finish(learner, settings, status, notes, feedback=output, grades=grades, seconds=seconds, code=code)


def grade_safely(learner: Learner, settings: Settings, running: Running) -> dict | None:
    """Grade one learner; a failure of the gradebook itself becomes that learner's row, never the batch's end."""
    try:
        return grade_learner(learner, settings, running)
    except Exception as error:  # noqa: BLE001 - one learner must never stop the class
        note = f"the gradebook failed: {type(error).__name__}: {error}"
        try:
            return finish(learner, settings, CHECKER_ERROR, note, feedback=FEEDBACK_CHECKER_ERROR.format(code="none") + "\n")
        except Exception:  # noqa: BLE001 - e.g. the disk is full: keep the row in memory at least
            return {"exercises": {}, "gradebook": {"status": CHECKER_ERROR, "notes": note}}


def finish(learner: Learner, settings: Settings, status: str, notes: str, *, feedback: str,
           grades: dict | None = None, seconds: float = 0.0, code: int | None = None) -> dict:
    """Write the learner's feedback and result files; the result is written last, as the commit."""
    result = dict(grades or {"score": 0, "max_score": 0, "exercises": {}})
    result["gradebook"] = {
        "learner": learner.name, "status": status, "notes": notes, "seconds": round(seconds, 2), "exit_code": code,
        "submission": learner.fingerprint, "grader": settings.grader, "exercises": list(settings.exercises),
        "isolation": isolation().level,
    }
    write_atomic(settings.out / "feedback" / f"{learner.name}.txt", feedback)
    write_atomic(settings.out / "results" / f"{learner.name}.json", json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result


def previous_result(learner: Learner, settings: Settings) -> dict | None:
    """The stored result if it grades this very submission with this checker; else None."""
    try:
        result = json.loads((settings.out / "results" / f"{learner.name}.json").read_text(encoding="utf-8"))
        meta = result["gradebook"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    same = (meta.get("submission") == learner.fingerprint and meta.get("grader") == settings.grader
            and meta.get("exercises") == list(settings.exercises))
    if not same or meta.get("status") in RETRIED or not (settings.out / "feedback" / f"{learner.name}.txt").is_file():
        return None
    return result


# -- the class -----------------------------------------------------------------------


def _cell(value) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def gradebook_csv(learners: list[Learner], points: dict[str, int]) -> str:
    """The gradebook as CSV text: exercise columns from the results, in lesson order."""
    columns = list(points)
    for learner in learners:
        for exercise_id, exercise in ((learner.result or {}).get("exercises") or {}).items():
            if exercise_id not in columns:
                columns.append(exercise_id)
                points[exercise_id] = exercise.get("max_score", 0)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["learner", *columns, "total", "max", "status", "notes"])
    maximum = sum(points.get(column, 0) for column in columns)
    for learner in learners:
        result = learner.result or {}
        exercises = result.get("exercises") or {}
        scores = [exercises.get(column, {}).get("score", 0) for column in columns]
        meta = result.get("gradebook") or {
            "status": NOT_GRADED, "notes": "the run stopped before this learner; run again with --skip-graded"}
        writer.writerow([_cell(learner.name), *scores, sum(scores), maximum, meta["status"], _cell(meta["notes"])])
    return buffer.getvalue()


def exercise_points(selected: tuple[str, ...]) -> dict[str, int]:
    """Points of every exercise graded, in lesson order, from the checker's own list."""
    from checker.exercises import all_exercises

    return {i: e.points for i, e in all_exercises().items() if not selected or i in selected}


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="learner", desc="grading", disable=not enabled, dynamic_ncols=True, file=sys.stderr)


class Busy(Exception):
    """Another gradebook is writing to the same --out folder."""


def lock_out_folder(out: Path):
    """Hold a lock on `out` for this run, so two gradebooks never delete each other's files."""
    out.mkdir(parents=True, exist_ok=True)
    handle = open(out / ".lock", "a+")  # noqa: SIM115 - the caller closes it, which releases the lock
    try:
        import fcntl

        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # pragma: no cover - Windows: no advisory locks, run one gradebook at a time
        pass
    except OSError:
        handle.close()
        raise Busy(f"--out: another gradebook is writing to {out}; wait for it or choose another folder") from None
    return handle


def grade_class(settings: Settings, jobs: int, skip_graded: bool, progress: bool = True) -> tuple[list[Learner], bool]:
    """Grade every learner in SUBMISSIONS; return them with their results, and whether the run was interrupted."""
    with lock_out_folder(settings.out):
        return _grade_class(settings, jobs, skip_graded, progress)


def _grade_class(settings: Settings, jobs: int, skip_graded: bool, progress: bool) -> tuple[list[Learner], bool]:
    remove_stale_temporaries(settings.out)
    learners = discover(settings.submissions)
    points = exercise_points(settings.exercises)
    todo = []
    for learner in learners:
        learner.fingerprint = fingerprint_folder(graded_root(learner.path)) if learner.path.is_dir() else "file"
        learner.result = previous_result(learner, settings) if skip_graded else None
        if learner.result is None:
            todo.append(learner)
    csv_path = settings.out / CSV_NAME
    write_atomic(csv_path, gradebook_csv(learners, dict(points)))
    running, interrupted = Running(forkserver.Server(_environment()) if todo and forkserver.available() else None), False
    bar = _progress(len(learners), progress)
    bar.update(len(learners) - len(todo))
    executor = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="grade")
    pending: dict[Future, Learner] = {executor.submit(grade_safely, learner, settings, running): learner
                                      for learner in todo}
    try:
        while pending:
            done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                learner = pending.pop(future)
                learner.result = future.result()
                write_atomic(csv_path, gradebook_csv(learners, dict(points)))
                status = (learner.result or {}).get("gradebook", {}).get("status", NOT_GRADED)
                bar.set_postfix_str(f"{learner.name}: {status}", refresh=False)
                bar.update(1)
    except KeyboardInterrupt:
        interrupted = True
        running.stop_all()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        bar.close()
        if running.server is not None:
            running.server.close()
    for future, learner in pending.items():  # learners that finished while the run was stopping
        if future.done() and not future.cancelled():
            learner.result = future.result()
    write_atomic(csv_path, gradebook_csv(learners, dict(points)))
    return learners, interrupted


def summary(learners: list[Learner], out: Path, seconds: float) -> str:
    """One line for the teacher: how many were graded, and which statuses need a look."""
    counts: dict[str, int] = {}
    for learner in learners:
        status = (learner.result or {}).get("gradebook", {}).get("status", NOT_GRADED)
        counts[status] = counts.get(status, 0) + 1
    others = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()) if status != GRADED)
    graded = counts.get(GRADED, 0)
    return (f"{graded} of {len(learners)} learners graded in {seconds:.0f} s"
            f"{f' ({others})' if others else ''}; gradebook: {out / CSV_NAME}")


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
        return value
    return parse


def usable_cpus() -> int:
    """CPUs this process may run on (a container or `taskset` may allow fewer than the machine has)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # pragma: no cover - macOS and Windows
        return os.cpu_count() or 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m checker.gradebook",
        description="Grade one folder per learner in parallel; write a gradebook CSV and per-learner feedback.")
    parser.add_argument("submissions", type=Path, metavar="SUBMISSIONS",
                        help="folder with one sub-folder per learner, each laid out like notebooks/ or a repo clone")
    parser.add_argument("--out", type=Path, default=Path("grades"), metavar="DIR",
                        help="where gradebook.csv, feedback/ and results/ go (default: grades)")
    parser.add_argument("--jobs", type=_positive(int), default=usable_cpus(), metavar="N",
                        help="learners graded at once (default: the CPUs this process may use, %(default)s here)")
    parser.add_argument("--timeout", type=_positive(float), default=180.0, metavar="SECONDS",
                        help="seconds one learner's grading may take before it is stopped (default: 180)")
    parser.add_argument("--checker-deadline", type=_positive(float), default=None, metavar="SECONDS",
                        help="passed to the checker: seconds learner code may run per checker process (default: the checker's)")
    parser.add_argument("--exercise", action="append", default=[], metavar="ID",
                        help="grade only this exercise id; repeat for more (default: all)")
    parser.add_argument("--skip-graded", action="store_true",
                        help="keep results of learners already graded, unless their files or the checker changed")
    parser.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="grade even where learner code cannot be sandboxed (macOS, Windows, a container without "
                             "namespaces): it then runs as you, can read your files and change other learners' grades")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.error(f"SUBMISSIONS: {args.submissions} is not a folder (give the folder holding one folder per learner)")
    if args.out.resolve() == args.submissions.resolve() or args.submissions.resolve() in args.out.resolve().parents:
        parser.error(f"--out: {args.out} is inside SUBMISSIONS, where it would be graded as a learner; choose another folder")
    if args.exercise:
        from checker.exercises import all_exercises

        known = all_exercises()
        unknown = [i for i in args.exercise if i not in known]
        if unknown:
            parser.error(f"--exercise: unknown id {', '.join(unknown)}; known ids: {', '.join(known)}")
    if not isolation().sandboxed and not args.no_sandbox:
        parser.error(f"learner code cannot be sandboxed here: {isolation().detail}. A learner could then read your "
                     "files and change other learners' grades. Grade on Linux with bubblewrap (see the README, "
                     "“How far you can trust a grade”), or accept the risk with --no-sandbox.")
    if args.timeout <= (args.checker_deadline or 0):
        parser.error(f"--timeout ({args.timeout:g} s) must be longer than --checker-deadline ({args.checker_deadline:g} s)")
    return args


def main(argv: list[str] | None = None) -> int:
    """Grade the class; exit 0, 1 if the checker failed on someone, 130 if interrupted."""
    args = parse_args(argv)
    settings = Settings(args.submissions.resolve(), args.out.resolve(), args.timeout, args.checker_deadline,
                        tuple(args.exercise), grader_fingerprint())
    started = time.monotonic()
    # SIGTERM (e.g. from a batch scheduler) stops the run as cleanly as Ctrl+C does; so does SIGINT even when
    # the run was started in the background by a script, which leaves SIGINT ignored (POSIX shells do so for `&`).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        learners, interrupted = grade_class(settings, args.jobs, args.skip_graded, progress=not args.no_progress)
    except Busy as busy:
        print(f"python -m checker.gradebook: error: {busy}", file=sys.stderr)
        return 2
    print(summary(learners, args.out, time.monotonic() - started))
    if interrupted:
        print("Interrupted: run the same command with --skip-graded to grade the rest.", file=sys.stderr)
        return 130
    failed = any((learner.result or {}).get("gradebook", {}).get("status") == CHECKER_ERROR for learner in learners)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
