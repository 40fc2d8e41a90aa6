"""The sandbox and the harder parent: what learner code can see and do, and attacks that must gain nothing.

An *observer* api.py looks around at import (its uid, its files, its processes,
the network, what it can write) and hands what it saw back as get_status()'s
body, so these tests read the sandbox's properties from the very answers the
checker collects. The attack table then grades submissions that try what a
malicious learner would, and asserts the grade does not move.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from checker.patience import EXTRA
from checker.sandbox import SCRATCH_BYTES, ControlGroup, Gone, Zygote, isolation, landlock_abi
from checker.staging import FILE_LIMIT, FOLDER_LINK, LINK, NOT_A_FILE, TOO_LARGE
from checker.submission import SPEC_LOAD, Submission
from checker.worker import STALL_LIMITS
from tests.checker_support import REPO, grade, literal, make_submission

pytestmark = pytest.mark.skipif(not isolation().sandboxed, reason=f"needs the OS sandbox: {isolation().detail}")

OBSERVER = '''
import json, os, socket, sys

def attempt(action, otherwise=None):
    try:
        return action()
    except Exception:
        return otherwise
def can(action):
    return attempt(lambda: (action(), True)[1], False)
def status_line(name):
    lines = open("/proc/self/status").read().splitlines()
    return [line.split()[1] for line in lines if line.startswith(name)][0]
seen = {"uid": os.getuid(), "euid": os.geteuid(), "pid": os.getpid(), "root": attempt(lambda: sorted(os.listdir("/")), [])}
seen["caps"] = attempt(lambda: status_line("CapEff"))
seen["no_new_privs"] = attempt(lambda: status_line("NoNewPrivs"))
seen["processes"] = attempt(lambda: sorted(int(p) for p in os.listdir("/proc") if p.isdigit()), [])
seen["reads_passwd"] = can(lambda: open("/etc/passwd").read())
seen["repo_listing"] = attempt(lambda: sorted(os.listdir(REPO)), [])
seen["reads_solutions"] = can(lambda: open(REPO + "/solutions/oas3/api.py").read())
seen["sees_checker"] = can(lambda: __import__("checker.exercises"))
seen["writes_venv"] = can(lambda: open(sys.prefix + "/evil.pth", "w").write("import os"))
seen["writes_own_folder"] = can(lambda: open(os.path.dirname(os.path.abspath(__file__)) + "/x", "w").write("x"))
scratch = os.environ.get("TMPDIR", "/tmp")
seen["writes_tmp"] = can(lambda: open(scratch + "/scratch", "w").write("x"))
def connect():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=0.5)
    s.sendall(b"hello from the sandbox")
seen["reaches_parent_port"] = can(connect)
def fill():
    with open(scratch + "/fill", "wb") as f:
        for _ in range(4 * SCRATCH // 2**20):
            f.write(b"x" * 2**20)
seen["fills_tmp_beyond_cap"] = can(fill)
seen["tmp_written"] = attempt(lambda: os.path.getsize(scratch + "/fill"), 0)
others = [p for p in seen["processes"] if p != os.getpid()]
seen["others"] = others
seen["opens_other_fds"] = [p for p in others if can(lambda p=p: os.listdir(f"/proc/{p}/fd"))]
seen["reads_other_memory"] = [p for p in others if can(lambda p=p: open(f"/proc/{p}/mem", "rb").read(1))]

from connexion import problem

def get_status():
    return problem(200, "OK", json.dumps(seen), headers={"Cache-Control": "no-store"})
'''


@pytest.fixture(scope="module")
def listener():
    """A port on the parent's loopback that learner code must never reach."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    yield server
    server.close()


def observe(folder: Path, port: int) -> dict:
    """What the observer api.py saw inside the sandbox, read back from its answer."""
    source = OBSERVER.replace("REPO", repr(str(REPO))).replace("PORT", str(port)).replace("SCRATCH", str(SCRATCH_BYTES))
    make_submission(folder, {"oas3/api.py": source})
    submission = Submission(folder)
    try:
        submission.prestart({SPEC_LOAD})  # another task of the same learner, alive beside the observer's
        run = submission.status_run()
    finally:
        submission.close()
    answers = run.of("response")
    assert answers, run
    return json.loads(json.loads(answers[0]["body"])["detail"])


@pytest.fixture(scope="module")
def observed(tmp_path_factory, listener) -> dict:
    return observe(tmp_path_factory.mktemp("observer") / "learner", listener.getsockname()[1])


def test_learner_code_cannot_open_the_pipes_or_memory_of_other_processes(observed):
    # The learner's sandbox holds the zygote and their other tasks' processes: none is open to this one,
    # so no task can write answers into another task's pipe.
    if isolation().namespaces:
        assert len(observed["others"]) >= 2, observed["others"]  # the zygote and the spec-loading task at least
    assert observed["opens_other_fds"] == [] and observed["reads_other_memory"] == []


def test_learner_code_never_runs_as_root_and_holds_no_capability(observed):
    assert observed["uid"] != 0 and observed["euid"] != 0
    assert int(observed["caps"], 16) == 0
    assert observed["no_new_privs"] == "1"


def test_learner_code_sees_only_its_own_processes(observed):
    assert observed["pid"] < 100 and max(observed["processes"]) < 100  # its own PID namespace: a few small pids


def test_learner_code_sees_no_file_but_the_interpreter_and_its_own(observed):
    assert not observed["reads_passwd"]
    assert set(observed["repo_listing"]) <= {".venv"}  # the environment may live in the repository
    assert not observed["reads_solutions"] and not observed["sees_checker"]
    assert "etc" not in observed["root"] and "home" not in observed["root"]


def test_learner_code_writes_only_its_capped_scratch_folder(observed):
    assert not observed["writes_venv"] and not observed["writes_own_folder"]
    assert observed["writes_tmp"]
    assert not observed["fills_tmp_beyond_cap"] and observed["tmp_written"] <= SCRATCH_BYTES


def test_learner_code_cannot_reach_the_parents_network(observed, listener):
    assert not observed["reaches_parent_port"]
    with pytest.raises(socket.timeout):
        listener.accept()


@pytest.mark.skipif(landlock_abi() < 1, reason="the kernel has no Landlock")
def test_where_namespaces_are_refused_landlock_still_keeps_the_files_closed(tmp_path):
    """CHECKER_SANDBOX=landlock stands in for a container whose seccomp profile refuses namespaces."""
    script = (f"import json, sys; sys.path.insert(0, {str(REPO)!r}); from pathlib import Path; "
              f"from tests.test_sandbox import observe; print(json.dumps(observe(Path({str(tmp_path / 'l')!r}), 9)))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "CHECKER_SANDBOX": "landlock"}, cwd=REPO)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert not seen["reads_passwd"] and not seen["reads_solutions"] and not seen["sees_checker"]
    assert seen["repo_listing"] == [] and seen["root"] == []
    assert not seen["writes_venv"] and not seen["writes_own_folder"]
    assert seen["writes_tmp"]


# -- the harder parent: files read without following links ------------------------------

def test_a_linked_module_is_refused_with_a_sentence_not_read(tmp_path):
    folder = make_submission(tmp_path / "linker")
    (folder / "oas3/api.py").unlink()
    (folder / "oas3/api.py").symlink_to("/etc/passwd")
    result = grade(folder, "status-endpoint")["status-endpoint"]
    text = str(result)
    assert literal(LINK) in text and "/etc/passwd" in text and "root:" not in text
    assert not result.passed


def test_a_linked_oas3_folder_is_refused_so_no_one_is_graded_on_anothers_files(tmp_path):
    alice = make_submission(tmp_path / "alice")
    mallory = tmp_path / "mallory"
    mallory.mkdir()
    (mallory / "oas3").symlink_to(alice / "oas3")
    results = grade(mallory, "status-endpoint", "headers-spec")
    for result in results.values():
        assert not result.passed
        assert literal(FOLDER_LINK) in str(result)


def test_a_yaml_linked_to_a_device_or_too_large_is_refused_by_name(tmp_path):
    folder = make_submission(tmp_path / "devices")
    spec = folder / "oas3/ex-04-01-headers.yaml"
    spec.unlink()
    spec.symlink_to("/dev/zero")
    huge = make_submission(tmp_path / "huge")
    (huge / "oas3/ex-04-01-headers.yaml").write_text("# padding\n" * (FILE_LIMIT // 10 + 10))
    linked = str(grade(folder, "headers-spec")["headers-spec"])
    large = str(grade(huge, "headers-spec")["headers-spec"])
    assert literal(LINK) in linked and "/dev/zero" in linked
    assert literal(TOO_LARGE) in large and "alias" not in large


def test_a_fifo_is_refused_without_blocking(tmp_path):
    folder = make_submission(tmp_path / "fifo")
    (folder / "oas3/api.py").unlink()
    os.mkfifo(folder / "oas3/api.py")
    result = grade(folder, "status-endpoint")["status-endpoint"]
    assert literal(NOT_A_FILE) in str(result) and "named pipe" in str(result)


@pytest.mark.parametrize("name", ["My Class/jo", "zoë", "a%20b"])
def test_a_correct_solution_grades_the_same_whatever_its_path(tmp_path, name):
    folder = make_submission(tmp_path / name)
    results = grade(folder, "headers-spec", "reusable-responses", "status-endpoint", "rate-limit")
    assert all(result.passed for result in results.values()), {k: str(v) for k, v in results.items() if not v.passed}


def per_task_cgroups() -> bool:
    """Whether this machine gives each task a cgroup of its own (root, cgroup v1 hierarchies)."""
    group = ControlGroup()
    try:
        return isolation().namespaces and bool(group.per_task)
    finally:
        group.remove()


CLIENT_FORK_BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
SERVER_EXERCISES = ("status-endpoint", "headers-impl", "validation-errors", "rate-limit")
CLIENT_EXERCISES = ("retry-after-client", "backoff-jitter", "client-timeouts", "circuit-breaker")


@pytest.mark.skipif(not per_task_cgroups(), reason="needs root and cgroup v1 hierarchies for a cgroup per task")
def test_a_fork_bomb_in_client_py_costs_no_point_of_the_server_exercises(tmp_path):
    """Each task has its own cgroup (processes, CPU share) and client.py is imported once, not four times at
    once: the bomb fails every exercise that imports it and starves none of the others."""
    folder = make_submission(tmp_path / "bomber", {"oas3/client.py": CLIENT_FORK_BOMB})
    # 60 s, not 25: CI runs this beside a browser, and the bomb holds a core for its 5 s
    results = grade(folder, *SERVER_EXERCISES, *CLIENT_EXERCISES, deadline=60.0)
    for name in SERVER_EXERCISES:
        assert results[name].passed, str(results[name])
    for name in CLIENT_EXERCISES:
        assert not results[name].passed
        assert "importing oas3/client.py did not finish within 5 s" in str(results[name]), str(results[name])


BURNS_CPU = "import time\nstarted = time.process_time()\nwhile time.process_time() - started < 0.04:\n    pass\n"
SLEEPS = "import time\ntime.sleep(60)\n"
LOOPS = "while True:\n    pass\n"


@pytest.fixture
def starved_task(tmp_path):
    """A task's process whose own cgroup gets 1% of a CPU (as on a very busy machine), and a way to time one call."""
    for name, code in {"burns": BURNS_CPU, "sleeps": SLEEPS, "loops": LOOPS}.items():
        (tmp_path / f"{name}.py").write_text(code)
        (tmp_path / f"{name}.py").chmod(0o644)
    tmp_path.chmod(0o755)  # the sandbox's own uid reads them
    zygote = Zygote(tmp_path, preload=())
    task = zygote.spawn(STALL_LIMITS["starting"])
    try:
        assert task.receive(STALL_LIMITS["starting"]).get("ready")
        cpu = next(path for path in task._cgroups if path.parent.parent.name == "cpu")
        (cpu / "cpu.cfs_quota_us").write_text("1000")  # 1 ms of CPU per 100 ms period

        def timed_import(module: str, limit: float):
            started = time.monotonic()
            try:
                return task.call("import", limit, module=module), time.monotonic() - started
            except Gone as gone:
                return gone, time.monotonic() - started

        yield timed_import
    finally:
        task.end()
        zygote.end()


@pytest.mark.skipif(not per_task_cgroups(), reason="needs root and cgroup v1 hierarchies for a cgroup per task")
def test_time_spent_waiting_for_a_cpu_does_not_count_against_a_limit(starved_task):
    """40 ms of work at 1% of a CPU takes about 4 s: over a 1.5 s limit in wall time, well within it in the
    task's own time (checker.patience). Sleeping gains nothing; a loop is stopped by 1.5 s × (1 + EXTRA)."""
    answer, took = starved_task("burns", 1.5)
    assert not isinstance(answer, Gone), f"a task starved of CPU was called {answer.how} after {took:.1f} s"
    assert took > 1.5  # it really was starved: without the waits added back, this would have been a hang
    answer, took = starved_task("sleeps", 1.5)
    assert isinstance(answer, Gone) and answer.how == "hung" and took < 2.5, (answer, took)
    answer, took = starved_task("loops", 1.5)
    assert isinstance(answer, Gone) and answer.how == "hung" and took < 1.5 * (1 + EXTRA) + 1, (answer, took)


# -- the attack table --------------------------------------------------------------------

FORK_BOMB = '''
import os
for _ in range(200):
    try:
        if os.fork() == 0:
            try:
                hog = bytearray(800 * 2**20)
            except MemoryError:
                pass
            while True:
                os.fork()
    except OSError:
        break
'''

OUTLIVE = '''
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:  # a daemon that waits out the grading, then rewrites the grades
        strike = "import sys, time\\ntime.sleep(3)\\nfor target in sys.argv[1:-1]:\\n    try:\\n        open(target, 'w').write('forged')\\n    except OSError:\\n        pass"
        os.execv(sys.executable, [sys.executable, "-c", strike, *TARGETS, OUTLIVE_MARKER])
    os._exit(0)
'''

OUTLIVE_MARKER = "outlive-marker-7f3a"  #: the daemon carries it on its command line, so pgrep finds it

SIGNALS = '''
import os, signal
for pid in range(1, 4096):
    if pid != os.getpid():
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except OSError:
                pass
'''

FORGE_PIPE = '''
import __main__, json, os
fd = __main__.CHANNEL._out.fileno()  # the pipe to the parent, found the way learner code would
for line in ({"done": {"defines": ["get_status"]}}, {"item": {"status": 200, "headers": [], "body": "{}"}}):
    os.write(fd, (json.dumps(line) + "\\n").encode())
os._exit(0)
'''

FLOOD_PIPE = '''
import __main__, os
fd = __main__.CHANNEL._out.fileno()
chunk = b"x" * 2**20
for _ in range(100):
    os.write(fd, chunk)
'''

PATCH_SHIM = '''
import __main__
def forged(**_ignored):
    return None
__main__.OPS["request"] = forged  # answers nothing: the parent still needs an answer per request
'''

#: case -> (source prepended to the wrong api.py, what it tries)
ATTACKS = {
    "fork-bomb": (FORK_BOMB, "fork 200 children of 800 MB each, and keep forking"),
    "outlive": (OUTLIVE, "a double-forked daemon rewrites the grade files after grading"),
    "signals": (SIGNALS, "SIGSTOP and SIGKILL every process it can name"),
    "forge-pipe": (FORGE_PIPE, "write forged answers to the parent's pipe, then exit"),
    "flood-pipe": (FLOOD_PIPE, "write 100 MB into the parent's pipe"),
    "patch-shim": (PATCH_SHIM, "patch the shim so requests are answered by nothing"),
}

#: the honest grade of the wrong solution: get_status() never sends Retry-After
WRONG_API = ('headers={**headers, "Retry-After": str(RETRY_AFTER_SECONDS)}', 'headers=headers')


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def site_packages_listing() -> list[str]:
    return sorted(os.listdir(next(p for p in sys.path if p.endswith("site-packages"))))


def test_attacks_in_a_gradebook_run_gain_nothing_and_harm_no_one(tmp_path):
    """A class of attackers and honest learners: honest grades stay full, attackers gain nothing,
    the checker and the environment are unchanged, no process outlives the run."""
    classroom, out = tmp_path / "class", tmp_path / "grades"
    targets = [str(out / "gradebook.csv"), str(out / "results" / "honest.json"), str(REPO / "checker" / "forged.py")]
    for name in ("honest", "honest-too"):
        make_submission(classroom / name)
    for name, (source, _what) in ATTACKS.items():
        wrong = make_submission(classroom / name, {"oas3/api.py": WRONG_API})
        api = wrong / "oas3/api.py"
        source = source.replace("TARGETS", repr(targets)).replace("OUTLIVE_MARKER", repr(OUTLIVE_MARKER))
        api.write_text(source + "\n" + api.read_text())
    (classroom / "linked-learner").symlink_to(classroom / "honest")  # graded on someone else's folder?
    (classroom / "linked-notebooks").mkdir()
    (classroom / "linked-notebooks" / "notebooks").symlink_to(classroom / "honest")
    checker_before, venv_before = tree_digest(REPO / "checker"), site_packages_listing()
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "checker.gradebook", str(classroom), "--out", str(out), "--jobs", "2",
                           "--no-progress", "--exercise", "headers-impl", "--exercise", "headers-spec"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    time.sleep(4)  # longer than the daemon waits before it strikes
    results = {path.stem: json.loads(path.read_text()) for path in (out / "results").glob("*.json")}
    assert set(results) == {"honest", "honest-too", "linked-learner", "linked-notebooks", *ATTACKS}
    for name in ("honest", "honest-too"):
        assert results[name]["score"] == 5, results[name]
    for name in ("linked-learner", "linked-notebooks"):
        assert results[name]["score"] == 0, results[name]
    assert "is a link to" in results["linked-learner"]["gradebook"]["notes"]
    for name in ATTACKS:
        assert results[name]["exercises"]["headers-impl"]["score"] == 0, (name, results[name])
        assert results[name]["gradebook"]["isolation"] == "bubblewrap"
    assert "forged" not in (out / "gradebook.csv").read_text()
    assert not (REPO / "checker" / "forged.py").exists()
    assert tree_digest(REPO / "checker") == checker_before and site_packages_listing() == venv_before
    leftovers = subprocess.run(["pgrep", "-f", OUTLIVE_MARKER], capture_output=True, text=True).stdout.split()
    assert not leftovers, "a process learner code started outlived the grading"
    assert elapsed < 300


def test_a_flood_is_cut_off_with_a_verdict(tmp_path):
    wrong = make_submission(tmp_path / "flood", {"oas3/api.py": WRONG_API})
    api = wrong / "oas3/api.py"
    api.write_text(FLOOD_PIPE + "\n" + api.read_text())
    result = grade(wrong, "status-endpoint")["status-endpoint"]
    assert not result.passed
    assert "sent the checker more than" in str(result)


# -- found by a red-team pass: the parent itself must not be led anywhere ------------------

def test_an_operation_id_cannot_make_the_parent_read_files_outside_the_submission(tmp_path):
    folder = make_submission(tmp_path / "reader", {"oas3/ex-04-01-headers.yaml": (
        "operationId: api.get_status", f"operationId: {REPO}/checker/sandbox.nope")})
    text = str(grade(folder, "reusable-responses")["reusable-responses"])
    assert "there is no oas3/" in text and "bwrap_path" not in text


SSTI = ("# {{ cycler.__init__.__globals__.__builtins__.exec(\"import __main__ as m\\nm.CHANNEL.send(done={'operation_ids':"
        " ['api.get_status']})\") }}\n")


def test_template_code_in_a_spec_is_refused_and_never_run(tmp_path):
    """connexion renders specs as Jinja2 templates: a template could run code where no learner code should."""
    folder = make_submission(tmp_path / "ssti")
    spec = folder / "oas3/ex-04-01-headers.yaml"
    spec.write_text(SSTI + spec.read_text().replace("info:\n  title: Status API\n", "x-info:\n  title: Status API\n"))
    result = grade(folder, "reusable-responses")["reusable-responses"]
    assert result.score == 0
    assert "starts Jinja2 template code" in str(result)


def test_a_huge_ratelimit_field_costs_the_parent_no_time(tmp_path):
    folder = make_submission(tmp_path / "quadratic", {"oas3/ratelimit_api.py": (
        "\"RateLimit\": f'\"{POLICY}\";r={remaining};t={reset}'", "\"RateLimit\": f'\"{POLICY}\";r={remaining};t={reset}' + ',a' * 450000")})
    started = time.monotonic()
    result = grade(folder, "rate-limit")["rate-limit"]
    assert time.monotonic() - started < 60
    assert "characters long; a RateLimit field needs a few dozen" in str(result)


def test_terminal_control_characters_from_learner_code_are_shown_not_obeyed(tmp_path):
    folder = make_submission(tmp_path / "ansi", {"oas3/api.py": (
        "def get_status():\n", "def get_status():\n    raise RuntimeError('\\x1b[2J\\x1b]0;PWNED\\x07 score 25/25\\r')\n")})
    text = str(grade(folder, "status-endpoint")["status-endpoint"])
    assert "\x1b" not in text and "\r" not in text and "\\x1b[2J" in text


def test_a_folder_bound_below_tmp_is_seen_inside_not_hidden_by_the_private_tmp(tmp_path):
    """A clone in /tmp keeps its .venv there: the sandbox's own /tmp must not hide it."""
    from checker import sandbox

    shared = tmp_path / "venv-like"
    shared.mkdir()
    (shared / "marker").write_text("here")
    shared.chmod(0o755)
    for parent in shared.parents:
        if str(parent).startswith("/tmp/") and parent.stat().st_mode & 0o005 != 0o005:
            parent.chmod(parent.stat().st_mode | 0o005)
    argv = sandbox._bwrap_argv(sandbox.bwrap_path(), ["/bin/cat", f"{shared}/marker"], None, {str(shared): str(shared)})
    done = subprocess.run(argv, capture_output=True, text=True, preexec_fn=sandbox._limits, timeout=60)
    assert done.stdout == "here", done.stderr


def test_an_interpreter_named_through_a_folder_the_sandbox_cannot_see_still_starts(tmp_path, monkeypatch):
    """A notebook kernel started as `../.venv/bin/python` from notebooks/: the sandbox gets the plain path."""
    roundabout = os.path.join(REPO / "tests", os.path.relpath(sys.executable, REPO / "tests"))
    assert os.path.samefile(roundabout, sys.executable)
    monkeypatch.setattr(sys, "executable", roundabout)
    submission = Submission(make_submission(tmp_path / "learner"))
    try:
        run = submission.status_run()
    finally:
        submission.close()
    assert run.ended == "finished" and run.first("imported"), (run.ended, run.output)


def test_workers_waiting_on_a_silent_zygote_each_give_up_within_their_own_limit():
    """Spawning waits for other workers' spawns (one control socket): a zygote that never answers (stuck
    importing its libraries) must cost each worker its own limit, not every earlier worker's in turn."""
    zygote = object.__new__(Zygote)
    zygote._control, silent = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    zygote._lock, zygote._ended, zygote.cgroup = threading.Lock(), False, None
    took = []

    def spawn():
        started = time.monotonic()
        with pytest.raises(Gone):
            zygote.spawn(0.5)
        took.append(time.monotonic() - started)

    workers = [threading.Thread(target=spawn) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    zygote._control.close()
    silent.close()
    assert len(took) == 4 and max(took) < 1.0, took  # in turn, the last would wait 2 s
