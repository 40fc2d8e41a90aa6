"""fan-out-deadline: upstreams called through their descriptions, at once, each within its timeout, under a deadline.

Every submission is solutions/oas3/ with services_api.py edited; all are graded at once, in parallel workers.
The parent plays the upstreams and the clock, so no test waits for any of the modelled seconds.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from checker_support import SOLUTIONS, STARTERS, edited, failed, grade, make_submission

from checker.drivers import services as driver
from checker.exercises import fan_out_deadline as fod
from checker.exercises import services as common

MODULE = "oas3/services_api.py"
SOLUTION = (SOLUTIONS / MODULE).read_text()
EXERCISE = "fan-out-deadline"
TIMEOUTS = 'TIMEOUTS = {"prices": 1.0, "stock": 4.0}'
URL = '    url = spec["servers"][0]["url"].rstrip("/") + path\n'
FIND = '    method, template = find_operation(spec, operation_id)\n'
CALL = "        response = await call_operation(client, api, operation_id, timeout=TIMEOUTS[api], productId=product_id)\n"
GATHER = SOLUTION[SOLUTION.index("        tasks = {\"prices\""):SOLUTION.index("    missing = [api for api")]
STATUS_CHECK = "    if response.status_code != 200:\n"
ALL_MISSING = "    if len(missing) == len(got):\n"
RETRY = '                       headers={"Retry-After": str(RETRY_AFTER)}, ext={"trace_id": current_trace().trace_id})\n'


def patched(*edits: tuple[str, str]) -> str:
    return edited(SOLUTION, *edits)


def gathered(body: str) -> tuple[str, str]:
    """Replace the solution's fan-out (inside `async with httpx.AsyncClient() as client:`) with `body`."""
    return GATHER, body


SEQUENTIAL = gathered('''        got = {"prices": await fetch(client, "prices", "getPrice", productId),
               "stock": await fetch(client, "stock", "getStock", productId)}
''')
NO_DEADLINE = gathered('''        prices, stock = await asyncio.gather(fetch(client, "prices", "getPrice", productId),
                                             fetch(client, "stock", "getStock", productId))
        got = {"prices": prices, "stock": stock}
''')
ALL_OR_NOTHING = gathered('''        try:
            prices, stock = await asyncio.wait_for(asyncio.gather(
                fetch(client, "prices", "getPrice", productId), fetch(client, "stock", "getStock", productId)), DEADLINE)
        except asyncio.TimeoutError:
            prices = stock = None
        got = {"prices": prices, "stock": stock}
''')

#: a learner who tampers with the shim: reads when (and whether) the checker's upstream will answer, and makes up
#: the answer at once instead of waiting for it
PEEK = '''async def peek(api, operation_id, product_id):
    import __main__
    spec = UPSTREAMS[api]
    method, template = find_operation(spec, operation_id)
    url = spec["servers"][0]["url"].rstrip("/") + template.format(productId=product_id)
    reply = __main__.CHANNEL.ask(kind="http", method=method, url=url, headers=[], timeout=None)
    if reply.get("at") is None or reply.get("refuse"):
        raise httpx.ConnectError("it will never answer", request=httpx.Request(method, url))
    return httpx.Response(200, json={"amount": 12.5, "currency": "EUR"} if api == "prices" else {"available": 7})


'''
#: get_summary() as a plain def with a blocking client: one upstream after the other
BLOCKING = '''    got = {}
    with httpx.Client() as client:
        for api, operation_id in (("prices", "getPrice"), ("stock", "getStock")):
            spec = UPSTREAMS[api]
            method, template = find_operation(spec, operation_id)
            url = spec["servers"][0]["url"].rstrip("/") + template.format(productId=productId)
            try:
                response = client.request(method, url, timeout=TIMEOUTS[api])
                got[api] = response.json() if response.status_code == 200 else None
            except httpx.HTTPError:
                got[api] = None
'''

# (case, services_api.py, failed checks, the check whose message is examined, a fragment it must hold)
WRONG = [
    ("fail-starter", (STARTERS / MODULE).read_text(),
     {fod.SPEC_DRIVEN, fod.PARALLEL, fod.OWN_TIMEOUTS, fod.DEADLINE_CHECK, fod.ANSWERS, fod.UNAVAILABLE}, fod.PARALLEL,
     "and the second only at +0.8 s, once the first had answered"),
    ("fail-hand-built-urls", patched((URL, '    url = f"http://{api}.internal:8080/v1/{api}/{params[\'productId\']}"\n')),
     {fod.SPEC_DRIVEN}, fod.SPEC_DRIVEN, "called GET http://prices.internal:8080/v1/prices/teapot-42; the description "
     "the checker serves puts getPrice at http://prices.checker.invalid/pricing/v3/catalogue/teapot-42/current-price"),
    ("fail-first-path-of-the-spec", patched((FIND, '    method, template = "GET", next(iter(spec["paths"]))\n')),
     {fod.SPEC_DRIVEN, fod.ANSWERS}, fod.SPEC_DRIVEN,
     "called GET http://prices.checker.invalid/pricing/v3/catalogue/teapot-42, which is getProduct there;"),
    ("fail-one-after-the-other", patched(SEQUENTIAL), {fod.PARALLEL, fod.DEADLINE_CHECK}, fod.PARALLEL,
     "the first upstream was asked at +0 s and the second only at +0.8 s, once the first had answered"),
    ("fail-no-own-timeouts", patched((CALL, CALL.replace("timeout=TIMEOUTS[api]", "timeout=None"))),
     {fod.OWN_TIMEOUTS}, fod.OWN_TIMEOUTS,
     "prices never answers: GET /products/teapot-42/summary took 2.5 s: the prices service's own timeout is 1 s"),
    ("fail-no-deadline", patched(NO_DEADLINE), {fod.DEADLINE_CHECK}, fod.DEADLINE_CHECK,
     "stock never answers: GET /products/teapot-42/summary took 4 s, past the 2.5 s deadline"),
    ("fail-waits-for-ever", patched(NO_DEADLINE, (CALL, CALL.replace("timeout=TIMEOUTS[api]", "timeout=None"))),
     {fod.DEADLINE_CHECK}, fod.DEADLINE_CHECK, "never answered: your code waited for ever"),
    ("fail-retries-once", patched((CALL, CALL + "        if response.status_code != 200:\n" + CALL.replace("        ", "            ", 1))),
     {fod.NO_RETRY}, fod.NO_RETRY, "stock answers 503 with Retry-After: 30: GET /products/teapot-42/summary asked stock 2 times"),
    ("fail-timeouts-swapped", patched((TIMEOUTS, 'TIMEOUTS = {"prices": 4.0, "stock": 1.0}')),
     {fod.OWN_TIMEOUTS}, fod.OWN_TIMEOUTS, "(stock answered within its timeout and the deadline: was it given up too early?)"),
    ("fail-all-or-nothing", patched(ALL_OR_NOTHING), {fod.ANSWERS}, fod.ANSWERS,
     "stock never answers: GET /products/teapot-42/summary answered 503 after 2.5 s"),
    ("fail-503-without-retry-after", patched((RETRY, '                       ext={"trace_id": current_trace().trace_id})\n')),
     {fod.UNAVAILABLE}, fod.UNAVAILABLE, "(no Retry-After)"),
    ("fail-200-when-nothing-came", patched((ALL_MISSING, "    if False:\n")), {fod.UNAVAILABLE}, fod.UNAVAILABLE,
     "both answer 503: GET /products/teapot-42/summary answered 200 after 0.1 s"),
    ("fail-no-missing-marker", patched(('"stock": got["stock"], "missing": missing}', '"stock": got["stock"]}')),
     {fod.ANSWERS}, fod.ANSWERS, "`missing` is null, expected []"),
    ("fail-error-bodies-passed-on", patched((STATUS_CHECK, "    if False:\n")), {fod.ANSWERS, fod.UNAVAILABLE},
     fod.ANSWERS,
     "stock answers 503 with Retry-After: 30: GET /products/teapot-42/summary: `missing` is [], expected [\"stock\"]"),
    ("fail-answers-from-the-checkers-plan", patched((CALL, "        response = await peek(api, operation_id, product_id)\n"),
                                                    ("async def fetch(", PEEK + "async def fetch(")),
     {fod.OWN_TIMEOUTS, fod.ANSWERS, fod.UNAVAILABLE}, fod.OWN_TIMEOUTS,
     "both answer: GET /products/teapot-42/summary answered after 0 s; with the lesson's limits"),
    ("fail-plain-def-summary", patched(("async def get_summary(productId: str):", "def get_summary(productId: str):"),
                                       ("    async with httpx.AsyncClient() as client:\n" + GATHER, BLOCKING)),
     {fod.PARALLEL, fod.ANSWERS}, fod.PARALLEL, "get_summary() is a plain `def`"),
    ("fail-one-timeout-for-all", patched((TIMEOUTS, 'TIMEOUTS = {"prices": 1.0, "stock": 1.0}')),
     {fod.OWN_TIMEOUTS}, fod.OWN_TIMEOUTS, "stock after 2.2 s, within its 4 s and the deadline"),
]

RIGHT = [
    ("pass-solution", SOLUTION),
    ("pass-gather-and-wait-for", patched(
        gathered('''        prices, stock = await asyncio.gather(
            asyncio.wait_for(fetch(client, "prices", "getPrice", productId), DEADLINE),
            asyncio.wait_for(fetch(client, "stock", "getStock", productId), DEADLINE), return_exceptions=True)
        got = {api: None if isinstance(body, BaseException) else body
               for api, body in (("prices", prices), ("stock", stock))}
'''))),
    ("pass-task-group-under-asyncio-timeout", patched(
        gathered('''        got = {"prices": None, "stock": None}

        async def keep(api, operation_id):
            got[api] = await fetch(client, api, operation_id, productId)

        try:
            async with asyncio.timeout(DEADLINE):
                async with asyncio.TaskGroup() as group:
                    group.create_task(keep("prices", "getPrice"))
                    group.create_task(keep("stock", "getStock"))
        except TimeoutError:
            pass
'''))),
    ("pass-anyio-move-on-after", patched(
        ("import asyncio\n", "import asyncio\n\nimport anyio\n"),
        gathered('''        got = {"prices": None, "stock": None}

        async def keep(api, operation_id):
            got[api] = await fetch(client, api, operation_id, productId)

        with anyio.move_on_after(DEADLINE):
            async with anyio.create_task_group() as group:
                group.start_soon(keep, "prices", "getPrice")
                group.start_soon(keep, "stock", "getStock")
'''))),
    ("pass-wait-for-per-call-and-as-completed", patched(
        (CALL, "        response = await asyncio.wait_for(call_operation(client, api, operation_id, timeout=None, "
               "productId=product_id), TIMEOUTS[api])\n"),
        ("    except httpx.HTTPError as error:\n", "    except (httpx.HTTPError, asyncio.TimeoutError) as error:\n"),
        gathered('''        got = {"prices": None, "stock": None}

        async def named(api, operation_id):
            return api, await fetch(client, api, operation_id, productId)

        try:
            for done in asyncio.as_completed([named("prices", "getPrice"), named("stock", "getStock")],
                                             timeout=DEADLINE):
                api, body = await done
                got[api] = body
        except asyncio.TimeoutError:
            pass
'''))),
    ("pass-base-url-and-replace", patched(
        (URL, '    url = path\n'),
        ('    path = template.format(**{name: quote(str(value), safe="") for name, value in params.items()})\n',
         '    path = template\n    for name, value in params.items():\n'
         '        path = path.replace("{" + name + "}", quote(str(value), safe=""))\n'),
        ("    return await client.request(method, url,",
         '    client = httpx.AsyncClient(base_url=spec["servers"][0]["url"].rstrip("/") + "/")\n'
         '    return await client.request(method, url.lstrip("/"),'))),
    ("pass-503-carries-the-longest-upstream-wait", patched((RETRY, RETRY.replace("str(RETRY_AFTER)", '"30"')))),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    """Grade every case of this file once, three workers at a time; case -> result."""
    cases = {case: text for case, text, *_ in WRONG} | dict(RIGHT)
    folders = {case: make_submission(tmp_path_factory.mktemp(case), {MODULE: text}) for case, text in cases.items()}
    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(cases, pool.map(lambda case: grade(folders[case], EXERCISE)[EXERCISE], cases)))


@pytest.mark.parametrize("case, text, checks, check, fragment", WRONG, ids=[c[0] for c in WRONG])
def test_wrong_fan_out_fails_the_right_check(graded, case, text, checks, check, fragment):
    problems = failed(graded[case])
    assert set(problems) == checks, f"{case}: {graded[case]}"
    assert fragment in problems[check], f"{case}: {problems[check]}"
    assert problems[check].endswith(f"See {fod.LESSON}, “{fod.SECTION}”."), problems[check]


@pytest.mark.parametrize("case", [c[0] for c in RIGHT])
def test_correct_fan_out_variant_passes(graded, case):
    assert graded[case].passed, str(graded[case])


def test_no_scenario_sits_on_a_limit():
    """Every upstream answer comes at least 0.1 s away from the timeout and the deadline that could cut it."""
    for scenario in fod.SCENARIOS:
        for api, plan in scenario["plan"].items():
            after = plan.get("after")
            if after is not None:
                assert min(abs(after - fod.TIMEOUTS[api]), abs(after - fod.DEADLINE)) >= 0.1 - 1e-9, scenario


def test_the_upstreams_hand_over_an_answer_only_when_the_parents_clock_has_reached_it():
    from checker.drivers.fakes import FakeClock

    clock = FakeClock(driver.T0)
    upstreams = driver.Upstreams({"prices": {"after": 0.8, "status": 200}}, clock, "teapot-42")
    reply = upstreams({"kind": "http", "method": "GET", "url": driver.expected_url("prices", "teapot-42"),
                       "headers": [], "timeout": 1.0})
    assert reply == {"id": 1, "at": driver.T0 + 0.8}
    assert upstreams({"kind": "body", "id": 1}) == {"early": True}
    assert upstreams({"kind": "idle", "seconds": 0.8}) == {"now": driver.T0 + 0.8}
    assert upstreams({"kind": "body", "id": 1})["status"] == 200
    assert upstreams({"kind": "idle", "seconds": None}) == {"stop": "waited-forever"}
    assert upstreams.requests[0]["described"] and upstreams.requests[0]["at"] == 0.0
