"""One learner's folder, and the work shared by its exercises (loaded YAML, worker runs).

Workers are started as early as possible (`prestart`) so that learner code runs
in the background while the YAML checks run in this process.
"""

from __future__ import annotations

import shutil
import tempfile
from functools import cached_property
from pathlib import Path

from checker.spec import Document, Where, YamlProblem, load_once, load_yaml
from checker.staging import Staged
from checker.sandbox import Zygote
from checker.worker import ImportGate, Worker, WorkerRun

REFERENCE_SPEC = "reference:status.oas3.yaml"  #: the checker's own spec, as `checker.worker.Shim.spec` names it
HEADERS_SPEC = "ex-04-01-headers.yaml"
API_MODULE = "api"
STATUS_REQUESTS = 20  #: requests `status-endpoint` sends through the reference app

#: worker needs an exercise may declare, and what each asks the worker to do
STATUS_WORKER = "status"
SPEC_LOAD = "spec-load"
SAMPLING = "sampling"
APP_ONLY, APP_SAMPLING = "app", "app+sampling"  #: worker keys: the spec loaded, or loaded and sampled


class KeptSandbox:
    """A staging folder and a learner sandbox kept from one `check()` to the next in a notebook's kernel.

    Each grading copies the learner's files into the same folder (which the sandbox binds) and forks
    its tasks, fresh processes as always, from the warm zygote: bubblewrap, Python and connexion's
    import (about a second) are paid once per kernel, not once per check(). Only check() keeps one;
    pytest and the gradebook start a sandbox per learner and end it."""

    def __init__(self) -> None:
        self._root: Path | None = None
        self._zygote: Zygote | None = None

    def stage(self, oas3: Path) -> Staged:
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="checker-kept-"))
        return Staged(oas3, root=self._root)

    def zygote(self, folder: Path) -> Zygote:
        if self._zygote is None or not self._zygote.alive():  # learner code may have killed the last one
            if self._zygote is not None:
                self._zygote.end()
            self._zygote = Zygote(folder)
        return self._zygote

    def close(self) -> None:
        if self._zygote is not None:
            self._zygote.end()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
        self._root = self._zygote = None


class Submission:
    """A directory laid out like `notebooks/`: `oas3/ex-04-01-headers.yaml`, `oas3/api.py`, ..."""

    def __init__(self, root: Path | str, deadline: float = 25.0, kept: KeptSandbox | None = None):
        """`kept`: stage into, and fork tasks from, a sandbox kept between gradings (a notebook's check())."""
        self.root = Path(root).resolve()
        self._kept = kept
        self.oas3 = self.root / "oas3"
        self.deadline = deadline
        self._workers: dict[str, Worker] = {}
        self._documents: dict[str, Document | YamlProblem] = {}  #: loaded once, shared by exercises
        self._referred: dict = {}  #: files the documents' `$ref`s lead to, each read once
        self._imports = ImportGate()  #: a module that hangs at import hangs once, not once per exercise

    @cached_property
    def staged(self) -> Staged:
        """The private copy every check reads (see checker.staging), made on first use."""
        return self._kept.stage(self.oas3) if self._kept else Staged(self.oas3)

    def path(self, name: str) -> Path:
        """Where the parent reads `oas3/name`: the private copy, never the learner's own folder."""
        return self.staged.folder / name

    @staticmethod
    def shown(name: str) -> str:
        """The learner-facing name of a file, relative to the submission."""
        return f"oas3/{name}"

    def document(self, name: str) -> Document:
        """Load `oas3/name` once; raises YamlProblem if it can't be read."""

        def load() -> Document:
            if self.staged.refusal(name):
                raise YamlProblem(self.staged.refusal(name), Where(self.shown(name)))
            data = load_yaml(self.path(name), self.shown(name))
            return Document(self.path(name), self.shown(name), data, loaded=self._referred)

        return load_once(self._documents, name, load)

    # -- learner code, run in workers -------------------------------------------------

    def prestart(self, needs: set[str]) -> None:
        """Start the workers that the selected exercises need, in parallel."""
        if STATUS_WORKER in needs:
            self._start(STATUS_WORKER, [self._serve_task(REFERENCE_SPEC, None, STATUS_REQUESTS, False)])
        if needs & {SPEC_LOAD, SAMPLING}:
            spec = HEADERS_SPEC
            tasks = [{"kind": "load-spec", "spec": spec}]
            if SAMPLING in needs:
                from checker import stats

                tasks.append(self._serve_task(spec, REFERENCE_SPEC, stats.MAX_REQUESTS, True))
            self._start(APP_SAMPLING if SAMPLING in needs else APP_ONLY, tasks)

    def _serve_task(self, spec: str, fallback: str | None, requests: int, sequential: bool) -> dict:
        return {
            "kind": "serve", "module": API_MODULE, "spec": spec, "fallback_spec": fallback, "path": "/status",
            "requests": requests, "sequential": sequential,
        }

    def start_probe(self, key: str, module: str, probe: str, preload: tuple[str, ...] = ("connexion",), **params) -> None:
        """Start (once) a worker that imports oas3/<module>.py and lets driver `probe` run it.

        `preload` names the libraries the learner's module will import: the worker imports
        them first, so their import time never counts against the learner's import limit."""
        task = {"kind": "probe", "module": module, "probe": probe,
                "preload": list(preload), "params": params}
        self._start(key, [task])

    def probe_run(self, key: str, module: str, probe: str, preload: tuple[str, ...] = ("connexion",), **params) -> WorkerRun:
        """What probe `key` reported (starting it now if `prestart` did not)."""
        self.start_probe(key, module, probe, preload, **params)
        return self._workers[key].result()

    @cached_property
    def zygote(self) -> Zygote:
        """This learner's sandbox, started on first use: every worker's process is forked from it."""
        return self._kept.zygote(self.staged.folder) if self._kept else Zygote(self.staged.folder)

    def _start(self, key: str, tasks: list[dict]) -> None:
        if key not in self._workers:
            self._workers[key] = Worker(tasks, self.zygote, self.refusal, deadline=self.deadline, imports=self._imports)

    def status_run(self) -> WorkerRun:
        """GET /status through the checker's reference spec and the learner's api.py."""
        self.prestart({STATUS_WORKER})
        return self._workers[STATUS_WORKER].result()

    def app_run(self, sampling: bool) -> WorkerRun:
        """The learner's own spec loaded by connexion and, if asked, sampled at length."""
        if sampling or APP_SAMPLING in self._workers:
            self.prestart({SPEC_LOAD, SAMPLING})
            return self._workers[APP_SAMPLING].result()
        self.prestart({SPEC_LOAD})
        return self._workers[APP_ONLY].result()

    def refusal(self, name: str) -> str | None:
        """Why `oas3/name` must not reach connexion: not staged (a link, too large), or a spec whose YAML the
        checker's safe loader refuses (an alias bomb, say), which would otherwise be blamed on the code."""
        if self.staged.refusal(name):
            return self.staged.refusal(name)
        if name.endswith((".yaml", ".yml")) and self.path(name).exists():
            try:
                self.document(name)
            except YamlProblem as problem:
                return f"{problem.where}: {problem}"
        return None

    def refusals(self) -> dict[str, str]:
        """Every file of oas3/ left out of grading (a link, a device, too large), with the reason."""
        if "staged" not in self.__dict__:
            return {}
        if self.staged.folder_refused:
            return {"oas3": self.staged.folder_refused}
        return dict(self.staged.refused)

    def close(self) -> None:
        """Collect every started worker, so none outlives the grading, and drop the private copy."""
        for worker in self._workers.values():
            worker.result()
        if self._kept:
            return  # the next grading empties the folder; the sandbox ends with the kernel
        if "zygote" in self.__dict__:
            self.zygote.end()
        if "staged" in self.__dict__:
            self.staged.remove()

    @cached_property
    def exists(self) -> bool:
        return self.oas3.is_dir()
