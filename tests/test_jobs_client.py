"""jobs-client: wrong clients fail the right check; other correct clients pass.

A real worker calls submit_and_wait() against scripted servers on a fake clock
(checker.drivers.jobs_client); no test sleeps.
"""

from __future__ import annotations

import pytest
from checker_support import assert_fails, failed, grade_cases, literal

from checker.exercises import jobs_client as jc
from checker.exercises.retry_after_client import REAL_SLEEP

CLIENT = "oas3/jobs_client.py"
EXERCISE = "jobs-client"

KEY = "    key = make_key()  # one key for this job, however many times the POST is sent\n"
POST = '            response = client.post(jobs, json={"url": url}, headers={"Idempotency-Key": key}, timeout=10.0)\n'
LOST = ("        except httpx.TransportError:  # the answer was lost: the job may or may not exist\n"
        "            if attempt == MAX_POSTS:\n                raise\n            wait(NO_ADVICE_WAIT)\n            continue\n")
CONFLICT = "        if response.status_code == 409 and attempt < MAX_POSTS:  # the first POST is still in flight\n"
POLL_WAIT = "        wait(retry_after(response))\n        try:\n            response = client.get(job, timeout=10.0)\n"
SEE_OTHER = ("        if response.status_code == 303:\n"
             "            return client.get(urljoin(job, response.headers[\"Location\"]), timeout=10.0)\n")
WAIT = ("    def wait(seconds: float) -> None:\n        if clock() - start + seconds > deadline:\n"
        "            raise TimeoutError(f\"the job would not be done within {deadline:g} s\")\n        sleep(seconds)\n")
DONE = '        if response.status_code != 200 or response.json().get("state") not in ("new", "in progress"):\n'

# case -> (edits, failing check, fragment)
CASES = {
    "fail-new-key-for-every-post": ({CLIENT: [(KEY, ""), (POST, "            key = make_key()\n" + POST)]}, jc.SAME_KEY,
                                    "the POSTs carried different keys"),
    "fail-lost-answer-not-retried": ({CLIENT: (LOST, "        except httpx.TransportError:\n            raise\n")},
                                     jc.SAME_KEY, "raised ReadTimeout"),
    "fail-retried-post-without-key": ({CLIENT: (POST, "            headers = {\"Idempotency-Key\": key} if attempt == 1 else {}\n"
                                                      + POST.replace('headers={"Idempotency-Key": key}', "headers=headers"))},
                                      jc.KEYS, "0 Idempotency-Key headers"),
    "fail-key-not-quoted": ({CLIENT: ("    return f'\"{uuid.uuid4()}\"'\n", "    return str(uuid.uuid4())\n")}, jc.KEYS,
                            "is not a Structured Field String"),
    "fail-one-key-for-every-job": ({CLIENT: ("    return f'\"{uuid.uuid4()}\"'\n", "    return '\"my-key\"'\n")}, jc.KEYS,
                                   "are two jobs, but both were sent"),
    "fail-409-not-retried": ({CLIENT: (CONFLICT, "        if False:\n")}, jc.SAME_KEY, "returned the 409 of request 1"),
    "fail-polls-without-waiting": ({CLIENT: (POLL_WAIT, POLL_WAIT.replace("wait(retry_after(response))", "wait(0)"))},
                                   jc.POLL, "GET /jobs/7 after waiting 3 s"),
    "fail-303-not-followed": ({CLIENT: (SEE_OTHER, "        if response.status_code == 303:\n            return response\n")},
                              jc.POLL, "returned the 303 of request 3"),
    "fail-resubmits-a-retryable-failure": ({CLIENT: (DONE, '        if response.status_code == 200 and response.json().get("error", {}).get("retryable"):\n'
                                                           '            return submit_and_wait(base_url, url, client=client, sleep=sleep, clock=clock, deadline=deadline)\n'
                                                           + DONE)},
                                           jc.HANDED_BACK, "POST /jobs at +2 s"),
    "fail-deadline-checked-after-sleeping": ({CLIENT: (WAIT, "    def wait(seconds: float) -> None:\n        sleep(seconds)\n"
                                                             "        if clock() - start > deadline:\n"
                                                             "            raise TimeoutError(\"too late\")\n")},
                                             jc.DEADLINE, "then slept 10 s; then it raised TimeoutError"),
    "fail-no-deadline": ({CLIENT: (WAIT, "    def wait(seconds: float) -> None:\n        sleep(seconds)\n")}, jc.DEADLINE,
                         "was stopped after"),
    "fail-deadline-as-a-plain-exception": ({CLIENT: (WAIT, WAIT.replace("raise TimeoutError(", "raise RuntimeError("))},
                                           jc.DEADLINE, "raised RuntimeError"),
    "fail-five-posts": ({CLIENT: ("MAX_POSTS = 3  ", "MAX_POSTS = 5  ")}, jc.SAME_KEY, "POST /jobs at +"),
    "fail-long-wait-before-a-retried-post": ({CLIENT: (LOST, LOST.replace("wait(NO_ADVICE_WAIT)", "wait(30)"))}, jc.SAME_KEY,
                                             "POST /jobs after a short wait (0–10 s)"),
    "fail-real-sleep": ({CLIENT: (WAIT, WAIT.replace("        sleep(seconds)\n", "        time.sleep(seconds)\n"))}, jc.RUNS,
                        literal(REAL_SLEEP)),
    "fail-signature-without-deadline": ({CLIENT: ("                    clock=time.monotonic, deadline: float = 120.0) -> httpx.Response:",
                                                  "                    clock=time.monotonic) -> httpx.Response:\n    deadline = 120.0")},
                                        jc.RUNS, "Keep the starter's signature"),
    "fail-location-not-resolved": ({CLIENT: ('    job = urljoin(jobs, response.headers["Location"])\n',
                                             '    job = response.headers["Location"]\n')}, jc.POLL, "GET /jobs/7 at +3 s; then it raised"),
    "pass-jitter-on-top-of-retry-after": ({CLIENT: [("import time\n", "import random\nimport time\n"),
                                                    (POLL_WAIT, POLL_WAIT.replace("wait(retry_after(response))",
                                                                                  "wait(retry_after(response) + random.uniform(0, 0.5))"))]},
                                          None, None),
    "pass-httpx-follows-the-303": ({CLIENT: [(POLL_WAIT, POLL_WAIT.replace("client.get(job, timeout=10.0)",
                                                                           "client.get(job, timeout=10.0, follow_redirects=True)")),
                                             (SEE_OTHER, "")]}, None, None),
    "pass-raise-for-status-on-errors": ({CLIENT: [("        return response  # 400, 422, ...: waiting cannot change it\n",
                                                   "        response.raise_for_status()\n        return response\n"),
                                                  ("            return response  # failed, expired, gone: hand it back, never resubmit on our own\n",
                                                   "            return response.raise_for_status()\n")]}, None, None),
    "pass-hex-key-and-no-wait-before-a-retried-post": ({CLIENT: [("    return f'\"{uuid.uuid4()}\"'\n", "    return f'\"{uuid.uuid4().hex}\"'\n"),
                                                                 (LOST, LOST.replace("            wait(NO_ADVICE_WAIT)\n", ""))]},
                                                       None, None),
    "pass-two-second-wait-of-its-own": ({CLIENT: ("NO_ADVICE_WAIT = 1.0", "NO_ADVICE_WAIT = 2.0")}, None, None),
    "pass-deadline-measured-from-a-deadline-time": ({CLIENT: (WAIT, "    def wait(seconds: float) -> None:\n"
                                                                    "        if clock() + seconds > start + deadline:\n"
                                                                    "            raise TimeoutError(\"would end too late\")\n"
                                                                    "        sleep(seconds)\n")}, None, None),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    return grade_cases(tmp_path_factory, CASES, EXERCISE, 2)


WRONG = [(case, check, fragment) for case, (_e, check, fragment) in CASES.items() if check]
CORRECT = [case for case, (_e, check, _f) in CASES.items() if not check]


@pytest.mark.parametrize("case, check, fragment", WRONG, ids=[c[0] for c in WRONG])
def test_wrong_client_fails_the_right_check(results, case, check, fragment):
    assert_fails(results[case], case, check, fragment, jc.SECTION)


@pytest.mark.parametrize("case", CORRECT)
def test_alternative_correct_client_passes(results, case):
    assert failed(results[case]) == {}, f"{case} should pass"


def test_solution_passes_every_check(results):
    assert failed(results["solution"]) == {} and results["solution"].score == 3


def test_starter_fails_every_behaviour_but_runs(results):
    assert set(failed(results["starter"])) == {jc.POLL, jc.SAME_KEY, jc.HANDED_BACK, jc.DEADLINE, jc.KEYS}
