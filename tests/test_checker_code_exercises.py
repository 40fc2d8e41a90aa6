"""status-endpoint and headers-impl: wrong handlers fail the right check, correct variants pass,
and hostile code (hangs, exits, crashes, prints) gives a clear verdict in bounded time."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from checker_support import API, SPEC, STARTERS, api_module, assert_fails, failed, grade, make_submission

from checker.exercises import headers_impl as hi
from checker.exercises import reusable_responses as rr
from checker.exercises import runs
from checker.exercises import status_endpoint as se

OK = 'problem(status=200, title="OK", detail="fine", headers={"Cache-Control": "no-store"})'
DOWN = 'problem(status=503, title="Unavailable", detail="later", headers={"Cache-Control": "no-store", "Retry-After": "5"})'


def twenty_percent(down: str = DOWN, ok: str = OK, draw: str = "random.random() < 0.2") -> str:
    return api_module(f"if {draw}:\n    return {down}\nreturn {ok}", "import random\nfrom connexion import problem")


# (case, api.py, exercise, failing check, fragment of its message)
WRONG_CODE = [
    ("plain-json-dict", api_module('return {"status": "ok"}'), "status-endpoint", se.PROBLEM_BODY,
     "no `title`"),
    ("syntax-error", api_module("return problem(status=200, title='OK'"), "status-endpoint", runs.RUNS,
     "oas3/api.py:5:"),
    ("renamed-function", "from connexion import problem\n\ndef getStatus():\n    return problem(status=200, title='OK')\n",
     "status-endpoint", runs.RUNS, "operationId `api.get_status`: api.py has no function `get_status` (it defines `getStatus`)"),
    ("renamed-as-lesson-2-suggests", api_module("return problem(status=200, title='OK')").replace("def get_status", "def get_status2"),
     "headers-impl", hi.APP_FROM_SPEC, "api.py has no function `get_status` (it defines `get_status2`). `connexion run` refuses"),
    ("raises", api_module("return 1 / 0"), "status-endpoint", runs.RUNS, "raised ZeroDivisionError: division by zero (oas3/api.py:5"),
    ("status-member-mismatch", api_module('return {"title": "OK", "status": 200}, 503, {"Content-Type": "application/problem+json"}'), "status-endpoint",
     se.PROBLEM_BODY, "the body's `status` is 200 but the response status is 503"),
    ("no-title", api_module('return {"status": 200}, 200, {"Content-Type": "application/problem+json"}'),
     "status-endpoint", se.PROBLEM_BODY, "no `title`"),
    ("always-503", api_module(f"return {DOWN}"), "headers-impl", hi.SHARE, "503 on"),
    ("shared-headers-leak-retry-after", "import random\nfrom connexion import problem\n\nHEADERS = {'Cache-Control': 'no-store'}\n\n\n"
     "def get_status():\n    if random.random() < 0.2:\n        HEADERS['Retry-After'] = '5'\n"
     "        return problem(status=503, title='Unavailable', detail='later', headers=HEADERS)\n"
     "    return problem(status=200, title='OK', detail='fine', headers=HEADERS)\n",
     "headers-impl", hi.RETRY_AFTER, "200s: a 200 carries Retry-After '5'"),
    ("half-503", twenty_percent(draw="random.random() < 0.5"), "headers-impl", hi.SHARE, "asks for 20%"),
    ("ten-percent", twenty_percent(draw="random.random() < 0.1"), "headers-impl", hi.SHARE, "asks for 20%"),
    ("no-retry-after", twenty_percent(down=DOWN.replace(', "Retry-After": "5"', "")), "headers-impl", hi.RETRY_AFTER,
     hi.MISSING_RETRY_AFTER),
    ("retry-after-with-unit", twenty_percent(down=DOWN.replace('"5"', '"5 seconds"')), "headers-impl", hi.RETRY_AFTER,
     "neither delay-seconds"),
    ("retry-after-iso-date", twenty_percent(down=DOWN.replace('"5"', '"2026-11-21T10:00:00Z"')), "headers-impl",
     hi.RETRY_AFTER, "neither delay-seconds"),
    ("retry-after-negative", twenty_percent(down=DOWN.replace('"5"', '"-5"')), "headers-impl", hi.RETRY_AFTER,
     "neither delay-seconds"),
    ("no-store-only-on-503", twenty_percent(ok='problem(status=200, title="OK", detail="fine")'), "headers-impl", hi.NO_STORE,
     hi.MISSING_CACHE_CONTROL),
    ("no-cache-instead", twenty_percent(ok=OK.replace("no-store", "no-cache"), down=DOWN.replace("no-store", "no-cache")),
     "headers-impl", hi.NO_STORE, "without the no-store directive"),
    ("body-status-mismatch", twenty_percent(ok='({"title": "OK", "status": 201}, 200, {"Cache-Control": "no-store"})'),
     "headers-impl", hi.PROBLEMS, "the body's `status` is 201 but the response status is 200"),
    ("crashes-sometimes", twenty_percent(ok="int('x')"), "headers-impl", hi.ONLY_200_503, "status 500"),
    ("json-not-problem", api_module('return {"title": "OK", "status": 200}, 200, {"Content-Type": "application/json"}'),
     "status-endpoint", se.ANSWERS_200, "connexion says: Returned content type (application/json) is not defined"),
    ("tuple-with-response", api_module('return problem(status=200, title="OK", detail="fine"), 503'), "status-endpoint",
     se.ANSWERS_200, "status 500 from connexion, after get_status() returned"),
    ("type-not-in-spec", twenty_percent(ok='({"title": "OK", "status": 200}, 200, {"Content-Type": "text/plain", "Cache-Control": "no-store"})'),
     "headers-impl", hi.ONLY_200_503, "connexion says: Returned content type (text/plain) is not defined"),
]


@pytest.mark.parametrize("case, api, exercise, check, fragment", WRONG_CODE, ids=[c[0] for c in WRONG_CODE])
def test_wrong_handler_fails_the_right_check(tmp_path, case, api, exercise, check, fragment):
    folder = make_submission(tmp_path, {API: api})
    assert_fails(grade(folder, exercise)[exercise], case, check, fragment)


def test_raised_exception_is_reported_by_the_learners_line(tmp_path):
    folder = make_submission(tmp_path, {API: twenty_percent(ok="int('x')")})
    message = failed(grade(folder, "headers-impl")["headers-impl"])[runs.RUNS]
    assert "ValueError" in message and "`return int('x')`" in message and "Traceback" not in message


def test_spec_connexion_cannot_load_is_reported_and_the_code_still_graded(tmp_path):
    folder = make_submission(tmp_path, {SPEC: ("  title: Status API\n", "  title: Status API {% oops\n")})
    result = grade(folder, "headers-impl")["headers-impl"]
    assert set(failed(result)) == {hi.APP_FROM_SPEC}
    assert "see exercise headers-spec" in failed(result)[hi.APP_FROM_SPEC]


def test_an_alias_bomb_is_blamed_on_the_spec_and_the_code_still_graded(tmp_path):
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"] + [
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]" for i in range(8)]
    folder = make_submission(tmp_path, {SPEC: ("paths:", "x-bomb:\n" + "".join(f"  {line}\n" for line in levels) + "paths:")})
    result = grade(folder, "headers-impl")["headers-impl"]
    assert set(failed(result)) == {hi.APP_FROM_SPEC}
    assert "expands to more than 200,000 values" in failed(result)[hi.APP_FROM_SPEC]


def test_share_message_states_the_confidence_interval(tmp_path):
    folder = make_submission(tmp_path, {API: api_module(f"return {DOWN}")})
    message = failed(grade(folder, "headers-impl")["headers-impl"])[hi.SHARE]
    assert "= 100.0% (95% confidence interval" in message


# (case, api.py) — each must pass status-endpoint and headers-impl
RIGHT_CODE = [
    ("solution", None),
    ("randint-like-the-seed", twenty_percent(draw="randint(1, 5) == 5").replace("import random", "from random import randint")),
    ("secrets-module", twenty_percent(draw="secrets.randbelow(5) == 0").replace("import random", "import secrets")),
    ("numpy-generator", twenty_percent(draw="RNG.random() < 0.2").replace("import random", "import numpy\nRNG = numpy.random.default_rng()")),
    ("lowercase-header-names", twenty_percent(down=DOWN.replace("Retry-After", "retry-after").replace("Cache-Control", "cache-control"),
                                              ok=OK.replace("Cache-Control", "cache-control"))),
    ("extra-cache-directives", twenty_percent(down=DOWN.replace("no-store", "no-cache, no-store, max-age=0"),
                                              ok=OK.replace("no-store", "private, no-store"))),
    ("http-date-retry-after", twenty_percent(down=DOWN.replace('"5"', "format_datetime(datetime.now(timezone.utc) + timedelta(seconds=5), usegmt=True)"))
     .replace("import random", "import random\nfrom datetime import datetime, timedelta, timezone\nfrom email.utils import format_datetime")),
    ("problem-exception", twenty_percent(down='raise_unavailable()').replace("from connexion import problem", (
        "from connexion import problem\nfrom connexion.exceptions import ProblemException\n\n"
        "def raise_unavailable():\n    raise ProblemException(status=503, title='Unavailable', detail='later',\n"
        "                           headers={'Retry-After': '5', 'Cache-Control': 'no-store'})\n"))),
    ("tuple-returns", api_module(
        "headers = {'Cache-Control': 'no-store', 'Content-Type': 'application/problem+json'}\n"
        "if random.random() < 0.2:\n"
        "    return {'title': 'Unavailable', 'status': 503}, 503, {**headers, 'Retry-After': '30'}\n"
        "return {'title': 'OK', 'status': 200}, 200, headers", "import random")),
    ("prints-a-lot", twenty_percent().replace("def get_status():\n", "print('hello ' * 100)\n\ndef get_status():\n    print('{\"event\": \"done\"}')\n    import sys; print('noise', file=sys.stderr)\n")),
]


def test_a_base_path_in_servers_is_where_requests_go(tmp_path):
    """The original workshop's spec serves GET /status below `servers: [{url: /datetime/v1}]`."""
    folder = make_submission(tmp_path, {SPEC: ("paths:", "servers:\n  - url: /datetime/v1\npaths:")})
    results = grade(folder, "headers-spec", "headers-impl", "reusable-responses")
    assert all(result.passed for result in results.values()), {k: str(v) for k, v in results.items()}
    runs_check = next(check for check in results["headers-impl"].checks if check.name == runs.RUNS)
    assert "below your spec's base path /datetime/v1" in runs_check.message  # it says where it asked


@pytest.mark.parametrize("case, api", RIGHT_CODE, ids=[c[0] for c in RIGHT_CODE])
def test_correct_handler_variants_pass(tmp_path, case, api):
    folder = make_submission(tmp_path, {API: api} if api else {})
    for result in grade(folder, "status-endpoint", "headers-impl").values():
        assert result.passed, f"{case}: {result}"


def test_starter_api_passes_status_endpoint_and_fails_headers_impl():
    results = grade(STARTERS, "status-endpoint", "headers-impl")
    assert results["status-endpoint"].passed
    assert set(failed(results["headers-impl"])) == {hi.SHARE, hi.RETRY_AFTER, hi.NO_STORE}
    assert failed(results["headers-impl"])[hi.RETRY_AFTER].startswith(hi.NO_503_SEEN)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="orphans are adopted through Linux's prctl")
def test_processes_learner_code_starts_do_not_outlive_the_grading(tmp_path):
    token = f"checker-test-orphan-{tmp_path.name}"
    spawn = ("import subprocess, sys\n"
             f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', '{token}'], start_new_session=True)\n")
    folder = make_submission(tmp_path, {API: ("import random\n", "import random\n" + spawn)})
    results = grade(folder, "status-endpoint", "headers-impl")
    assert all(result.passed for result in results.values())  # detaching a process is not an error...
    survivors = [p for p in Path("/proc").iterdir() if p.name.isdigit() and token in _cmdline(p)]
    assert not survivors  # ...but nothing it started is left running


def _cmdline(process: Path) -> str:
    try:
        return (process / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


# (case, api.py, fragment of the RUNS message) — hostile or broken code, every exercise still graded
HOSTILE = [
    ("sleeps-at-import", "import time\ntime.sleep(600)\n", "did not finish within"),
    ("input-at-import", "name = input('name? ')\n", "raised EOFError"),
    ("busy-loop-in-handler", api_module("while True:\n    pass"), "did not answer request #1"),
    ("sleeps-in-handler", api_module("import time\ntime.sleep(600)"), "did not answer request #1"),
    ("os-exit-in-handler", api_module("import os\nos._exit(3)"), "exit code 3"),
    ("sys-exit-at-import", "import sys\nsys.exit('bye')\n", "calls sys.exit() while it is imported"),
    ("memory-hog-at-import", "hog = bytearray(8 * 1024 ** 3)\n", "MemoryError"),
    ("missing-file", None, "api.py is missing"),
]


@pytest.mark.parametrize("case, api, fragment", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_code_fails_clearly_and_quickly(tmp_path, case, api, fragment):
    folder = make_submission(tmp_path, {API: api})
    started = time.monotonic()
    results = grade(folder, "status-endpoint", "headers-spec", "headers-impl", "reusable-responses")
    elapsed = time.monotonic() - started
    assert elapsed < 30, f"{case} took {elapsed:.1f} s"
    for exercise in ("status-endpoint", "headers-impl"):
        message = failed(results[exercise])[runs.RUNS]
        assert fragment in message, f"{case}/{exercise}: {message}"
        assert "Traceback" not in message
    assert results["headers-spec"].passed  # YAML verdicts survive whatever api.py does when it runs
    if api is None:  # ... but `connexion run` needs the module and function the operationId names
        assert "there is no oas3/api.py" in failed(results["reusable-responses"])[rr.CONNEXION_LOADS]
    elif "def get_status" not in api:
        assert "api.py has no function `get_status`" in failed(results["reusable-responses"])[rr.CONNEXION_LOADS]
    else:
        assert results["reusable-responses"].passed


SLOW_BUT_ANSWERING = api_module("""
    import random, time
    time.sleep(0.05)
    if random.random() < 0.2:
        return problem(title="Service Unavailable", status=503, headers={"Retry-After": "5", "Cache-Control": "no-store"})
    return problem(title="OK", status=200, headers={"Cache-Control": "no-store"})
""")


def test_a_grading_cut_by_the_overall_deadline_says_so_instead_of_calling_the_code_hung(tmp_path):
    """Each answer comes in 50 ms, well within a request's limit; the process's 3 s run out first. The learner
    is told that, and how to give more time, not "does your code sleep or loop forever?"."""
    folder = make_submission(tmp_path, {API: SLOW_BUT_ANSWERING})
    message = failed(grade(folder, "headers-impl", deadline=3.0)["headers-impl"])[runs.RUNS]
    assert "the checker stopped your code during request #" in message, message
    assert "it had run 3 s in all" in message and "--checker-deadline 60" in message, message
    assert "did not answer" not in message and "forever" not in message, message
