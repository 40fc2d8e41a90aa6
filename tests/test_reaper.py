"""Tests for checker/reaper.py: time limits, exit codes, and that nothing a command started survives it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from checker import reaper

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the full sweep needs Linux's /proc and prctl")

#: a command that detaches a grandchild (fork + setsid, and a spawn in a new session), records both pids, then waits
DETACHING = """
import os, subprocess, sys, time
child = os.fork()
if child == 0:
    os.setsid()
    time.sleep(300)
    os._exit(0)
spawned = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
open(sys.argv[1], "w").write(f"{child} {spawned.pid}")
time.sleep(float(sys.argv[2]))
sys.exit(int(sys.argv[3]))
"""


def run_reaper(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "checker.reaper", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, **kwargs)


def alive(pid: int) -> bool:
    """True if `pid` runs and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def detaching_command(tmp_path: Path, seconds: float, code: int) -> tuple[list[str], Path]:
    script, pids = tmp_path / "detach.py", tmp_path / "pids.txt"
    script.write_text(DETACHING)
    return ["--", sys.executable, str(script), str(pids), str(seconds), str(code)], pids


def recorded_pids(path: Path) -> list[int]:
    for _ in range(100):
        if path.exists() and path.read_text().strip():
            return [int(pid) for pid in path.read_text().split()]
        time.sleep(0.05)
    raise AssertionError(f"the command never wrote {path}")


def test_exit_code_passes_through_and_detached_processes_are_swept(tmp_path):
    command, pids = detaching_command(tmp_path, 0.0, 3)
    finished = run_reaper("--timeout", "30", *command)
    assert finished.returncode == 3
    assert not [pid for pid in recorded_pids(pids) if alive(pid)], "a detached process outlived the command"


def test_timeout_kills_the_command_and_everything_it_started(tmp_path):
    command, pids = detaching_command(tmp_path, 300.0, 0)
    started = time.monotonic()
    finished = run_reaper("--timeout", "1.5", *command)
    assert finished.returncode == reaper.TIMED_OUT
    assert time.monotonic() - started < 15
    assert not [pid for pid in recorded_pids(pids) if alive(pid)]


def test_sigterm_stops_the_command_and_sweeps(tmp_path):
    command, pids = detaching_command(tmp_path, 300.0, 0)
    process = subprocess.Popen([sys.executable, "-m", "checker.reaper", "--timeout", "60", *command], cwd=ROOT)
    started = recorded_pids(pids)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == reaper.STOPPED
    assert not [pid for pid in started if alive(pid)]


def test_command_killed_by_a_signal_reports_128_plus_the_signal():
    finished = run_reaper("--timeout", "30", "--", sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert finished.returncode == 128 + signal.SIGKILL


def test_memory_limit_caps_the_command():
    allocate = "import sys\ntry:\n    bytearray(2 * 1024**3)\nexcept MemoryError:\n    sys.exit(7)"
    assert run_reaper("--timeout", "30", "--memory-limit", "512", "--", sys.executable, "-c", allocate).returncode == 7


def test_output_of_the_command_goes_to_the_reapers_output():
    finished = run_reaper("--timeout", "30", "--", sys.executable, "-c", "print('hello from the learner')")
    assert finished.stdout.strip() == "hello from the learner"


@pytest.mark.parametrize(("args", "message"), [
    (["--timeout", "5"], "give the command to run after --"),
    (["--timeout", "0", "--", "true"], "--timeout must be a positive number of seconds, not 0"),
])
def test_bad_arguments_are_refused_with_a_sentence(args, message):
    finished = run_reaper(*args)
    assert finished.returncode == 2
    assert message in finished.stderr


def test_descendants_lists_children_and_grandchildren():
    child = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; "
                              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); time.sleep(30)"])
    try:
        for _ in range(100):
            below = reaper.descendants(os.getpid())
            if len(below) >= 2:
                break
            time.sleep(0.05)
        assert child.pid in below and len(below) >= 2
    finally:
        for pid in reaper.descendants(child.pid) + [child.pid]:
            os.kill(pid, signal.SIGKILL)
        child.wait()
