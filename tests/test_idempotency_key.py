"""idempotency-key: wrong key handling fails the right check; other correct handling passes.

A real worker drives create_job() on a fake clock (checker.drivers.jobs:run_keys), sending one retry
while the first request is still inside enqueue(); no test sleeps.
"""

from __future__ import annotations

import pytest
from checker_support import assert_fails, failed, grade_cases, literal

from checker.exercises import idempotency_key as ik

API = "oas3/jobs_api.py"
SPEC = "oas3/ex-08-01-jobs.yaml"
EXERCISE = "idempotency-key"

MISSING = "    if key is None:\n        return problem(status=400,"
REPLAY = '        if seen is not None:\n            return seen["answer"]  # a retry: the first answer again, and no second job\n'
MISMATCH = '        if seen is not None and seen["fingerprint"] != fingerprint:\n'
IN_FLIGHT = '        if seen is not None and seen["answer"] is None:\n            return problem(status=409,'
MARK = '        _keys[key] = {"fingerprint": fingerprint, "at": now, "answer": None}  # in flight\n'
STORE = '        _keys[key]["answer"] = answer\n'
ENQUEUE = "        enqueue(job)  # the slow part, outside the lock: a retry meanwhile gets 409\n"
TTL = "KEY_TTL = 24 * 3600"
PARAMETER = "      parameters:\n        - $ref: '#/components/parameters/Idempotency-Key'\n"
SPEC_409 = "        \"409\":\n          $ref: '#/components/responses/Problem'\n"

EVENT_STORE = '''"""Thumbnail jobs whose Idempotency-Keys wait on an Event while their first request is in flight."""

import math
import threading
import time
import uuid

from connexion import problem, request

clock = time.monotonic
QUEUED, DONE_AFTER, KEEP, KEY_TTL = 2, 10, 600, 86400
JSON = {"Content-Type": "application/json"}
_lock = threading.Lock()
_jobs, _keys = {}, {}


def enqueue(job):
    pass


class Entry:
    def __init__(self, body, at):
        self.body, self.at, self.done, self.answer = body, at, threading.Event(), None


def create_job(body):
    key = request.headers.get("idempotency-key")
    if not key:
        return problem(status=400, title="Bad Request", detail="Idempotency-Key required",
                       headers={"Link": '<https://example.com/docs/idempotency>; rel="describedby"'})
    with _lock:
        now = clock()
        entry = _keys.get(key)
        if entry is not None and now - entry.at >= KEY_TTL:
            entry = None  # forgotten
        if entry is not None:
            if entry.body != body:
                return problem(status=422, title="Unprocessable Content", detail="key reused with another body")
            if not entry.done.is_set():
                return problem(status=409, title="Conflict", detail="still working on it")
            return entry.answer
        entry = _keys[key] = Entry(body, now)
    job = {"id": str(uuid.uuid4()), "url": body["url"], "created": now}
    enqueue(job)
    with _lock:
        _jobs[job["id"]] = job
        entry.answer = ({"id": job["id"], "state": "new", "url": job["url"]}, 202,
                        {**JSON, "Location": "/jobs/" + job["id"], "Retry-After": str(math.ceil(DONE_AFTER))})
        entry.done.set()
    return entry.answer


def get_job(job_id):
    return problem(status=404, title="Not Found", detail="not part of this exercise")


def get_thumbnail(job_id):
    return problem(status=404, title="Not Found", detail="not part of this exercise")
'''

# case -> (edits, failing check, fragment)
CASES = {
    "fail-no-key-required": ({API: (MISSING, "    if False:\n        return problem(status=400,")}, ik.MISSING,
                             "answered 202, expected 400"),
    "fail-missing-key-as-plain-json": ({API: (MISSING, '    if key is None:\n        return {"error": "key?"}, 400, JSON\n'
                                                        '    if key is None:\n        return problem(status=400,')},
                                       ik.MISSING, "Content-Type is application/json"),
    "fail-no-replay": ({API: (REPLAY, "")}, ik.REPLAY, "enqueue() was called 1 time, expected 0 (a replay starts no job)"),
    "fail-replay-with-another-location": ({API: (REPLAY, '        if seen is not None:\n            return (seen["answer"][0], 202, '
                                                         '{**JSON, "Location": "/jobs/replayed"})\n')},
                                          ik.REPLAY, "but the first answer for this key had"),
    "fail-body-not-compared": ({API: (MISMATCH, "        if False:\n")}, ik.OTHER_BODY, "answered 202, expected 422"),
    "fail-other-body-is-409": ({API: (MISMATCH, MISMATCH + "            return problem(status=409, title=\"Conflict\", detail=\"used\")\n")},
                               ik.OTHER_BODY, "answered 409, expected 422"),
    "fail-no-in-flight-mark": ({API: [(MARK, ""), (STORE, '        _keys[key] = {"fingerprint": fingerprint, "at": now, "answer": answer}\n')]},
                               ik.IN_FLIGHT, "answered 202, expected 409"),
    "fail-in-flight-is-429": ({API: (IN_FLIGHT, IN_FLIGHT.replace("409", "429"))}, ik.IN_FLIGHT, "answered 429, expected 409"),
    "fail-lock-held-around-enqueue": ({API: (ENQUEUE, "        with _lock:\n            enqueue(job)\n")}, ik.IN_FLIGHT,
                                      literal(ik.HELD_TOO_LONG)),
    "fail-keys-never-expire": ({API: (TTL, "KEY_TTL = float('inf')")}, ik.EXPIRY, "expected 1 (a forgotten key starts a new job)"),
    "fail-keys-expire-after-ten-minutes": ({API: (TTL, "KEY_TTL = 600")}, ik.REPLAY,
                                           "enqueue() was called 1 time, expected 0"),
    "fail-no-enqueue": ({API: [("def enqueue(job):", "def queue_job(job):"), (ENQUEUE, "        queue_job(job)\n")]},
                        ik.ENQUEUE, literal(ik.NO_HOOK)),
    "fail-enqueue-twice": ({API: (ENQUEUE, ENQUEUE + "        enqueue(job)\n")}, ik.ENQUEUE,
                           "enqueue() was called 2 times, expected 1"),
    "fail-jobs-told-apart-by-body": ({API: [("    key = request.headers.get(\"Idempotency-Key\")\n",
                                             "    key = request.headers.get(\"Idempotency-Key\")\n    header = key\n"),
                                            ("    if key is None:\n", "    if header is None:\n"),
                                            ("    with _lock:\n        now = clock()\n",
                                             "    key = fingerprint\n    with _lock:\n        now = clock()\n")]},
                                     ik.NEW_KEY, "enqueue() was called 0 times, expected 1"),
    "fail-spec-without-the-parameter": ({SPEC: (PARAMETER, "")}, ik.SPEC_DOCUMENTED, "has no header parameter `Idempotency-Key`"),
    "fail-spec-without-409": ({SPEC: (SPEC_409, "")}, ik.SPEC_DOCUMENTED, 'but no "409"'),
    "pass-event-per-key-dict-bodies-link-header": ({API: EVENT_STORE}, None, None),
    "pass-409-without-retry-after": ({API: (IN_FLIGHT, IN_FLIGHT)}, None, None),
    "pass-key-required-in-the-spec": ({SPEC: ("      required: false\n      description: |-\n        A key the client",
                                              "      required: true\n      description: |-\n        A key the client")},
                                      None, None),
    "pass-fingerprint-of-the-raw-body": ({API: ("    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()\n",
                                                "    fingerprint = hashlib.sha256(request.get_data() if hasattr(request, 'get_data') "
                                                "else json.dumps(body).encode()).hexdigest()\n")}, None, None),
    "pass-ttl-checked-on-lookup": ({API: [("        for old in [k for k, v in _keys.items() if now - v[\"at\"] >= KEY_TTL]:\n"
                                           "            del _keys[old]  # keys expire: the same key later starts a new job\n"
                                           "        seen = _keys.get(key)\n",
                                           "        seen = _keys.get(key)\n        if seen is not None and now - seen[\"at\"] > KEY_TTL:\n"
                                           "            seen = None\n")]}, None, None),
    "pass-spec-parameter-inline": ({SPEC: (PARAMETER, "      parameters:\n        - name: Idempotency-Key\n          in: header\n"
                                                      "          schema:\n            type: string\n")}, None, None),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    return grade_cases(tmp_path_factory, CASES, EXERCISE, 2)


WRONG = [(case, check, fragment) for case, (_e, check, fragment) in CASES.items() if check]
CORRECT = [case for case, (_e, check, _f) in CASES.items() if not check]


@pytest.mark.parametrize("case, check, fragment", WRONG, ids=[c[0] for c in WRONG])
def test_wrong_key_handling_fails_the_right_check(results, case, check, fragment):
    assert_fails(results[case], case, check, fragment, ik.SECTION)


@pytest.mark.parametrize("case", CORRECT)
def test_alternative_correct_key_handling_passes(results, case):
    assert failed(results[case]) == {}, f"{case} should pass"


def test_solution_passes_every_check(results):
    assert failed(results["solution"]) == {} and results["solution"].score == 3


def test_starter_fails_for_what_the_lesson_asks(results):
    assert set(failed(results["starter"])) == {ik.SPEC_DOCUMENTED, ik.MISSING, ik.REPLAY, ik.OTHER_BODY, ik.IN_FLIGHT}


def test_the_in_flight_retry_is_judged_on_its_own_answer(results):
    message = failed(results["fail-no-in-flight-mark"])[ik.IN_FLIGHT]
    assert "sent while the first was inside enqueue()" in message and "called 2 times" in message
