"""jobs-impl: wrong servers fail the right check; other correct servers pass.

Every submission is graded once, by a real worker driving a fake clock (checker.drivers.jobs), in a
module-scoped batch; no test sleeps.
"""

from __future__ import annotations

import pytest
from checker_support import assert_fails, failed, grade_cases, literal

from checker.exercises import jobs_impl as ji

API = "oas3/jobs_api.py"
SPEC = "oas3/ex-08-01-jobs.yaml"
EXERCISE = "jobs-impl"

ACCEPTED = """    answer = (_view(job, "new"), 202, {**JSON, "Location": f"/jobs/{job['id']}", "Retry-After": _wait(job, now)})\n"""
WAIT = '    return str(max(1, math.ceil(job["created"] + DONE_AFTER - now)))\n'
READY = '        return _view(job, state), 303, {**JSON, "Location": f"/thumbnails/{job_id}"}\n'
EXPIRED = '    if age >= DONE_AFTER + KEEP:\n        return "expired"\n'
IN_PROGRESS = '    if age < DONE_AFTER:\n        return "in progress"\n'
GONE = '''        return None, problem(status=410, title="Job expired",
                             detail=f"Job {job_id} ended more than {KEEP} s ago; its thumbnail is gone.")
'''
NOW = "        now = clock()\n        job, state = _find(job_id, now)\n"
FAILURE_RETRYABLE = '"retryable": False}'
ERROR_VIEW = '    if state == "error":\n        body["error"] = _failure(job)\n'
NEW_ID = '        job = {"id": uuid.uuid4().hex, "url": body["url"], "created": now}\n'
NOT_FOUND = '''    job = _jobs.get(job_id)
    if job is None:
'''

STATE_MACHINE = '''"""The thumbnail jobs as a small state machine, advanced whenever a job is read."""

import enum
import itertools
import math
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus

from connexion import problem

clock = time.monotonic
QUEUED, DONE_AFTER, KEEP = 2, 10, 600


class State(str, enum.Enum):
    NEW = "new"
    IN_PROGRESS = "in progress"
    READY = "ready"
    ERROR = "error"
    EXPIRED = "expired"


@dataclass
class Job:
    id: str
    url: str
    created: float
    state: State = State.NEW
    ended: float | None = None
    history: list = field(default_factory=list)

    def advance(self, now):
        if self.state is State.NEW and now - self.created >= QUEUED:
            self.state = State.IN_PROGRESS
        if self.state is State.IN_PROGRESS and now - self.created >= DONE_AFTER:
            failing = self.url.split("/")[2].endswith((".invalid", ".test"))
            self.state, self.ended = (State.ERROR if failing else State.READY), self.created + DONE_AFTER
        if self.state in (State.READY, State.ERROR) and now - self.ended >= KEEP:
            self.state = State.EXPIRED
        self.history.append((now, self.state))
        return self.state

    def view(self):
        body = {"id": self.id, "state": self.state.value, "url": self.url}
        if self.state is State.ERROR:
            terminal = self.url.split("/")[2].endswith(".invalid")
            body["error"] = {"title": "Could not fetch the page", "status": 502, "retryable": not terminal,
                             "detail": "no such host" if terminal else "the site did not answer"}
        return body


JSON = {"Content-Type": "application/json"}
_ids = itertools.count(1)
_jobs: dict[str, Job] = {}
_lock = threading.Lock()


def _retry_after(job, now):
    return {"Retry-After": str(max(1, math.ceil(job.created + DONE_AFTER - now)))}


def create_job(body):
    with _lock:
        now = clock()
        job = Job(id=f"job-{next(_ids)}", url=body["url"], created=now)
        _jobs[job.id] = job
    return job.view(), HTTPStatus.ACCEPTED, {**JSON, "Location": f"http://localhost/jobs/{job.id}", **_retry_after(job, now)}


def _lookup(job_id):
    with _lock:
        now = clock()
        job = _jobs.get(job_id)
        state = job.advance(now) if job else None
    if job is None:
        return now, None, problem(status=404, title="Not Found", detail="no such job")
    if state is State.EXPIRED:
        return now, None, problem(status=410, title="Gone", detail="this job has expired")
    return now, job, None


def get_job(job_id):
    now, job, refusal = _lookup(job_id)
    if refusal:
        return refusal
    if job.state is State.READY:
        return None, HTTPStatus.SEE_OTHER, {**JSON, "Location": f"../thumbnails/{job.id}"}
    headers = _retry_after(job, now) if job.state in (State.NEW, State.IN_PROGRESS) else {}
    return job.view(), 200, {**JSON, **headers}


def get_thumbnail(job_id):
    now, job, refusal = _lookup(job_id)
    if refusal:
        return refusal
    if job.state is not State.READY:
        return problem(status=404, title="Not Found", detail=f"job {job_id} is {job.state.value}")
    return {"url": job.url, "width": 160, "height": 120}, 200, JSON
'''

# case -> (edits, failing check, message template or fragment)
CASES = {
    "fail-no-location": ({API: (ACCEPTED, ACCEPTED.replace(' "Location": f"/jobs/{job[\'id\']}",', ""))}, ji.ACCEPTED,
                         "there is no usable Location header"),
    "fail-201-created": ({API: (ACCEPTED, ACCEPTED.replace("202", "201"))}, ji.ACCEPTED, "answered 201, expected 202"),
    "fail-retry-after-zero": ({API: (WAIT, '    return "0"\n')}, ji.ACCEPTED, literal(ji.RA_RANGE)),
    "fail-retry-after-a-date": ({API: [("import time\n", "import time\nfrom email.utils import formatdate\n"),
                                       (WAIT, "    return formatdate(time.time() + 5, usegmt=True)\n")]},
                                ji.ACCEPTED, "is not whole seconds"),
    "fail-retry-after-longer-than-the-job": ({API: (WAIT, '    return "30"\n')}, ji.PROGRESS, literal(ji.RA_RANGE)),
    "fail-every-job-the-same-id": ({API: (NEW_ID, NEW_ID.replace("uuid.uuid4().hex", '"job"'))}, ji.ACCEPTED,
                                   "each job needs its own id"),
    "fail-reads-time-monotonic-directly": ({API: (NOW, "        now = time.monotonic()\n        job, state = _find(job_id, now)\n")},
                                           ji.PROGRESS, "expected 'in progress' (5.5 s after it was created"),
    "fail-never-in-progress": ({API: (IN_PROGRESS, IN_PROGRESS.replace('"in progress"', '"new"'))}, ji.PROGRESS,
                               "expected 'in progress'"),
    "fail-in-progress-spelled-with-underscore": ({API: (IN_PROGRESS, IN_PROGRESS.replace('"in progress"', '"in_progress"'))},
                                                 ji.PROGRESS, "`state` is 'in_progress'"),
    "fail-ready-answers-200": ({API: (READY, READY.replace("303", "200"))}, ji.READY, "answered 200, expected 303"),
    "fail-303-to-a-path-that-does-not-exist": ({API: (READY, READY.replace("/thumbnails/", "/thumbnail/"))}, ji.READY,
                                               "the 303 pointed to /thumbnail/"),
    "fail-every-failure-retryable": ({API: (FAILURE_RETRYABLE, '"retryable": True}')}, ji.FAILED,
                                     "`error.retryable` is True, expected false"),
    "fail-failure-without-problem": ({API: (ERROR_VIEW, "")}, ji.FAILED, "there is no `error` object"),
    "fail-never-expires": ({API: (EXPIRED, "")}, ji.EXPIRED, "answered 303, expected 410"),
    "fail-expired-is-404": ({API: (GONE, GONE.replace("410", "404"))}, ji.EXPIRED, "answered 404, expected 410"),
    "fail-410-as-plain-json": ({API: (GONE, '        return None, ({"error": "gone"}, 410, JSON)\n')}, ji.EXPIRED,
                               "Content-Type is application/json"),
    "fail-unknown-id-raises": ({API: (NOT_FOUND, '    job = _jobs[job_id]\n    if job is None:\n')}, ji.UNKNOWN,
                               "answered 500, expected 404"),
    "fail-no-content-type": ({API: (ACCEPTED, ACCEPTED.replace("{**JSON, ", "{"))}, ji.ACCEPTED,
                             literal(ji.FIX_CONTENT_TYPE)),
    "fail-202-body-without-the-job": ({API: (ACCEPTED, ACCEPTED.replace('_view(job, "new")', '{"state": "new"}'))}, ji.ACCEPTED,
                                      "is not the job"),
    "fail-no-clock": ({API: [("clock = time.monotonic\n", ""), ("_lock = threading.Lock()\n", "_lock = threading.Lock()\nclock = 0\n"),
                             (NOW, "        now = time.monotonic()\n        job, state = _find(job_id, now)\n")]},
                      ji.CLOCK, "`clock` is a int, not a function"),
    "fail-spec-broken-code-graded-with-the-checkers-spec": ({SPEC: ("openapi: 3.0.3\n", "openapi: 3.0.3\nx: [oops\n")},
                                                            ji.APP_FROM_SPEC, literal(ji.SPEC_FALLBACK)),
    "pass-retry-after-always-one": ({API: (WAIT, '    return "1"\n')}, None, None),
    "pass-state-machine-dataclass-enum-relative-location": ({API: STATE_MACHINE}, None, None),
    "pass-absolute-locations": ({API: [(ACCEPTED, ACCEPTED.replace('f"/jobs/', 'f"http://localhost/jobs/')),
                                       (READY, READY.replace('f"/thumbnails/', 'f"http://localhost/thumbnails/'))]}, None, None),
    "pass-retry-after-rounded-to-nearest": ({API: (WAIT, '    return str(max(1, round(job["created"] + DONE_AFTER - now)))\n')},
                                            None, None),
    "pass-303-without-body": ({API: (READY, '        return None, 303, {**JSON, "Location": f"/thumbnails/{job_id}"}\n')}, None, None),
    "pass-retry-after-on-finished-jobs-too": ({API: ('    return _view(job, state), 200, JSON\n',
                                                     '    return _view(job, state), 200, {**JSON, "Retry-After": "600"}\n')},
                                              None, None),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    return grade_cases(tmp_path_factory, CASES, EXERCISE, 2)


WRONG = [(case, check, fragment) for case, (_e, check, fragment) in CASES.items() if check]
CORRECT = [case for case, (_e, check, _f) in CASES.items() if not check]


@pytest.mark.parametrize("case, check, fragment", WRONG, ids=[c[0] for c in WRONG])
def test_wrong_server_fails_the_right_check(results, case, check, fragment):
    assert_fails(results[case], case, check, fragment, ji.SECTION)


@pytest.mark.parametrize("case", CORRECT)
def test_alternative_correct_server_passes(results, case):
    assert failed(results[case]) == {}, f"{case} should pass"


def test_solution_passes_every_check(results):
    assert failed(results["solution"]) == {} and results["solution"].score == 3


def test_starter_fails_for_the_missing_life_of_a_job(results):
    assert set(failed(results["starter"])) == {ji.ACCEPTED, ji.PROGRESS, ji.READY, ji.FAILED, ji.EXPIRED}


def test_a_server_that_ignores_clock_is_told_so(results):
    assert literal(ji.CLOCK_UNREAD) in failed(results["fail-reads-time-monotonic-directly"]).get(ji.CLOCK, literal(ji.CLOCK_UNREAD))


def test_a_spec_mistake_does_not_cost_the_code_checks(results):
    assert set(failed(results["fail-spec-broken-code-graded-with-the-checkers-spec"])) == {ji.APP_FROM_SPEC}
