"""correlation-id: a W3C Trace Context trace, joined or started, passed on, returned and logged.

Every submission is solutions/oas3/ with services_api.py edited; all are graded at once, in parallel workers.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from checker_support import SOLUTIONS, STARTERS, edited, failed, grade, make_submission

from checker.exercises import correlation_id as cid
from checker.exercises import services as common

MODULE = "oas3/services_api.py"
SOLUTION = (SOLUTIONS / MODULE).read_text()
EXERCISE = "correlation-id"
MATCH = '    match = TRACEPARENT.fullmatch(traceparent or "")\n'
ZEROS = '    if match and match[1] != "0" * 32 and match[2] != "0" * 16:\n'
JOIN = "        return Trace(match[1], secrets.token_hex(8), match[3])\n"
NEW = '    return Trace(secrets.token_hex(16), secrets.token_hex(8), "00")\n'
OUTGOING = '    return await client.request(method, url, headers={"traceparent": current_trace().traceparent()},\n'
FILTER = "log.addFilter(TraceIdFilter())\n"
MIDDLEWARE = "    app.add_middleware(TraceMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION)\n"
START = SOLUTION[SOLUTION.index("def start_trace("):SOLUTION.index("CURRENT: contextvars")]


def patched(*edits: tuple[str, str]) -> str:
    return edited(SOLUTION, *edits)


# (case, services_api.py, failed checks, the check whose message is examined, a fragment it must hold)
WRONG = [
    ("fail-starter", (STARTERS / MODULE).read_text(), {cid.CHILD, cid.RESTARTS, cid.ERRORS, cid.LOGS}, cid.CHILD,
     "carried no traceparent"),
    ("fail-trusts-any-four-fields", patched((START, '''def start_trace(traceparent):
    fields = (traceparent or "").split("-")
    if len(fields) == 4:
        return Trace(fields[1], secrets.token_hex(8), fields[3])
    return Trace(secrets.token_hex(16), secrets.token_hex(8), "00")


''')), {cid.CHILD, cid.RESTARTS}, cid.RESTARTS, "(an all-zero trace-id): the answer kept its trace-id"),
    ("fail-match-not-fullmatch", patched((MATCH, MATCH.replace("fullmatch", "match"))), {cid.RESTARTS}, cid.RESTARTS,
     "(version 00 with more after the flags): the answer kept its trace-id 0af7651916cd43dd8448eb211c80319c"),
    ("fail-zero-ids-accepted", patched((ZEROS, "    if match:\n")), {cid.CHILD, cid.RESTARTS}, cid.RESTARTS,
     "(an all-zero parent-id): the answer kept its trace-id"),
    ("fail-case-insensitive", patched(('r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")',
                                       'r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})", re.I)')),
     {cid.CHILD, cid.RESTARTS}, cid.RESTARTS, "(upper-case hex): the answer kept its trace-id 0AF7651916CD43DD"),
    ("fail-callers-parent-id-passed-on", patched((JOIN, "        return Trace(match[1], match[2], match[3])\n")),
     {cid.CHILD}, cid.CHILD, "passed on the caller's parent-id b7ad6b7169203331"),
    ("fail-no-outgoing-traceparent", patched((OUTGOING, "    return await client.request(method, url,\n")),
     {cid.CHILD}, cid.CHILD, "carried no traceparent"),
    ("fail-same-new-trace-every-time", patched((NEW, '    return Trace("0" * 31 + "1", secrets.token_hex(8), "00")\n')),
     {cid.RESTARTS}, cid.RESTARTS, "two requests without a traceparent both got the trace-id 00000000000000000000000000000001"),
    ("fail-no-log-filter", patched((FILTER, "")), {cid.LOGS}, cid.LOGS, "has no trace_id attribute"),
    ("fail-log-attribute-misspelt", patched(("        record.trace_id = current_trace().trace_id\n",
                                             "        record.traceid = current_trace().trace_id\n")),
     {cid.LOGS}, cid.LOGS, "the line INFO 'prices answered 200' has no trace_id attribute"),
    ("fail-log-trace-id-of-the-caller-header", patched((
        "        record.trace_id = current_trace().trace_id\n",
        "        record.trace_id = '0af7651916cd43dd8448eb211c80319c'\n")),
     {cid.LOGS}, cid.LOGS, "has trace_id '0af7651916cd43dd8448eb211c80319c', but the request's trace-id is"),
    ("fail-middleware-inside-error-handling", patched((MIDDLEWARE, "    app.add_middleware(TraceMiddleware)\n")),
     {cid.RETURNS}, cid.RETURNS, "GET /checker/crash with no traceparent: answered 500 with no traceresponse"),
    ("fail-error-handler-new-trace", patched(('ext={"trace_id": trace.trace_id}',
                                              'ext={"trace_id": start_trace(None).trace_id}')),
     {cid.ERRORS}, cid.ERRORS, "the problem says trace_id"),
    ("fail-no-middleware", patched((MIDDLEWARE, "")),
     {cid.KEEPS, cid.RETURNS}, cid.KEEPS, "carried the trace-id"),
]

RIGHT = [
    ("pass-solution", SOLUTION),
    ("pass-split-and-check", patched((START, '''def start_trace(traceparent):
    parts = (traceparent or "").split("-")
    hex_digits = set("0123456789abcdef")
    if (len(parts) == 4 and parts[0] == "00" and [len(p) for p in parts[1:]] == [32, 16, 2]
            and set("".join(parts[1:])) <= hex_digits and int(parts[1], 16) and int(parts[2], 16)):
        return Trace(parts[1], secrets.token_hex(8), parts[3])
    return Trace(secrets.token_hex(16), secrets.token_hex(8), "01")


'''))),
    ("pass-logger-adapter", patched(
        ('log = logging.getLogger("services_api")\nlog.setLevel(logging.INFO)\n',
         'logging.getLogger("services_api").setLevel(logging.INFO)\n'),
        (FILTER, '''

class TraceAdapter(logging.LoggerAdapter):
    def process(self, msg, kwargs):
        kwargs.setdefault("extra", {})["trace_id"] = current_trace().trace_id
        return msg, kwargs


log = TraceAdapter(logging.getLogger("services_api"), {})
'''))),
    ("pass-record-factory", patched((FILTER, '''_make_record = logging.getLogRecordFactory()


def _record_with_trace(*args, **kwargs):
    record = _make_record(*args, **kwargs)
    record.trace_id = current_trace().trace_id
    return record


logging.setLogRecordFactory(_record_with_trace)
'''))),
    ("pass-filter-on-a-handler", patched((FILTER, '''_handler = logging.StreamHandler()
_handler.addFilter(TraceIdFilter())
log.addHandler(_handler)
'''))),
    ("pass-new-span-per-call", patched((OUTGOING, OUTGOING.replace(
        'current_trace().traceparent()', 'f"00-{current_trace().trace_id}-{secrets.token_hex(8)}-01"')))),
    ("pass-httpx-event-hook", patched(
        (OUTGOING, "    return await client.request(method, url,\n"),
        ("    async with httpx.AsyncClient() as client:\n",
         "    async def trace_it(request):\n"
         "        request.headers[\"traceparent\"] = current_trace().traceparent()\n\n"
         "    async with httpx.AsyncClient(event_hooks={\"request\": [trace_it]}) as client:\n"))),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    """Grade every case of this file once, three workers at a time; case -> result."""
    cases = {case: text for case, text, *_ in WRONG} | dict(RIGHT)
    folders = {case: make_submission(tmp_path_factory.mktemp(case), {MODULE: text}) for case, text in cases.items()}
    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(cases, pool.map(lambda case: grade(folders[case], EXERCISE)[EXERCISE], cases)))


@pytest.mark.parametrize("case, text, checks, check, fragment", WRONG, ids=[c[0] for c in WRONG])
def test_wrong_trace_handling_fails_the_right_check(graded, case, text, checks, check, fragment):
    problems = failed(graded[case])
    assert set(problems) == checks, f"{case}: {graded[case]}"
    assert fragment in problems[check], f"{case}: {problems[check]}"
    assert problems[check].endswith(f"See {cid.LESSON}, “{cid.SECTION}”."), problems[check]


@pytest.mark.parametrize("case", [c[0] for c in RIGHT])
def test_correct_trace_handling_variant_passes(graded, case):
    assert graded[case].passed, str(graded[case])


def test_every_malformed_value_is_invalid_and_the_valid_one_is_valid():
    assert common.trace_of(cid.VALID) is not None
    assert all(common.trace_of(value) is None for _name, value, _why in cid.MALFORMED)
