"""error-formatter: every unexpected exception becomes a 500 problem with the request's trace_id, nothing more.

Every submission is solutions/oas3/ with services_api.py edited; all are graded at once, in parallel workers.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from checker_support import SOLUTIONS, STARTERS, edited, failed, grade, make_submission

from checker.exercises import error_formatter as ef
from checker.exercises import services as common

MODULE = "oas3/services_api.py"
SOLUTION = (SOLUTIONS / MODULE).read_text()
EXERCISE = "error-formatter"
LOG_LINE = ('    log.error("unexpected %s in %s %s", type(error).__name__, request.method, request.url.path, '
            'exc_info=error)\n')
DETAIL = '"Something went wrong on our side. Quote the trace_id when you report it."'
TRACE_EXT = 'ext={"trace_id": trace.trace_id}'
REGISTER = "    app.add_error_handler(Exception, unexpected_error)\n"
HANDLER_START = "def unexpected_error(request, error: Exception):\n"


def patched(*edits: tuple[str, str]) -> str:
    return edited(SOLUTION, *edits)


# (case, services_api.py, failed checks, the check whose message is examined, a fragment it must hold)
WRONG = [
    ("fail-starter", (STARTERS / MODULE).read_text(), {ef.TRACE_ID, ef.LOGGED}, ef.TRACE_ID,
     "but the problem has no `trace_id` member"),
    ("fail-no-configure", patched(("def configure(app) -> None:", "def setup(app) -> None:")),
     {common.RUNS, ef.TRACE_ID, ef.LOGGED}, common.RUNS, "services_api.py defines no `configure(app)`"),
    ("fail-configure-raises", patched((REGISTER, REGISTER + "    app.add_error_handlers(Exception)\n")),
     {common.RUNS, ef.ANSWERS_500, ef.NO_LEAK, ef.TRACE_ID, ef.LOGGED, ef.KEEPS}, common.RUNS,
     "configure(app) raised AttributeError"),
    ("fail-message-in-detail", patched((DETAIL, "str(error)")), {ef.NO_LEAK}, ef.NO_LEAK,
     "the answer shows 'checker-secret'"),
    ("fail-traceback-in-body", patched((TRACE_EXT, TRACE_EXT[:-1] + ', "trace": traceback.format_exception(error)}'),
                                       ("import asyncio\n", "import asyncio\nimport traceback\n")),
     {ef.ANSWERS_500, ef.NO_LEAK, ef.TRACE_ID}, ef.NO_LEAK, "'Traceback'"),
    ("fail-repr-in-extension", patched((TRACE_EXT, TRACE_EXT[:-1] + ', "error": repr(error)}')),
     {ef.NO_LEAK}, ef.NO_LEAK, "'checker-secret'"),
    ("fail-plain-json", patched(('    return problem(500, "Internal Server Error",\n',
                                 '    return ConnexionResponse(status_code=500, mimetype="application/json", '
                                 'body=json.dumps({"error": "internal", "trace_id": trace.trace_id}))\n'
                                 '    problem(500, "Internal Server Error",\n'),
                                ("import asyncio\n", "import asyncio\nimport json\n"
                                 "from connexion.lifecycle import ConnexionResponse\n")),
     {ef.ANSWERS_500}, ef.ANSWERS_500, "Content-Type is application/json, not application/problem+json"),
    ("fail-no-trace-id", patched((",\n                   " + TRACE_EXT, "")), {ef.TRACE_ID}, ef.TRACE_ID,
     "but the problem has no `trace_id` member"),
    ("fail-new-trace-id", patched((TRACE_EXT, 'ext={"trace_id": start_trace(None).trace_id}')), {ef.TRACE_ID},
     ef.TRACE_ID, "but the problem has `trace_id` '"),
    ("fail-log-exception-in-a-thread", patched((LOG_LINE, '    log.exception("unexpected error")\n')),
     {ef.LOGGED}, ef.LOGGED, "ERROR 'unexpected error' without the exception"),
    ("fail-logged-as-warning", patched((LOG_LINE, LOG_LINE.replace("log.error", "log.warning"))),
     {ef.LOGGED}, ef.LOGGED, "WARNING 'unexpected RuntimeError in GET /checker/crash' with RuntimeError"),
    ("fail-not-logged", patched((LOG_LINE, "")), {ef.LOGGED}, ef.LOGGED, "your code logged nothing"),
    ("fail-registered-for-500", patched((REGISTER, REGISTER.replace("Exception", "500"))),
     {ef.TRACE_ID, ef.LOGGED}, ef.TRACE_ID, "has no `trace_id` member"),
    ("fail-swallows-http-errors", patched((REGISTER, REGISTER + "    app.add_error_handler(HTTPException, "
                                                                 "unexpected_error)\n"),
                                          ("import asyncio\n", "import asyncio\n"
                                           "from starlette.exceptions import HTTPException\n")),
     {ef.KEEPS}, ef.KEEPS, "answered 500 instead of 404"),
    ("fail-handler-raises", patched((LOG_LINE, LOG_LINE + "    log.info(undefined_name)\n")),
     {common.RUNS, ef.ANSWERS_500, ef.NO_LEAK, ef.TRACE_ID, ef.LOGGED}, common.RUNS,
     "escapes connexion's error handling"),
]

RIGHT = [
    ("pass-solution", SOLUTION),
    ("pass-async-handler-log-exception", patched(
        (HANDLER_START, "async " + HANDLER_START),
        (LOG_LINE, '    log.exception("unexpected error")\n'))),
    ("pass-response-built-by-hand", patched(
        ('    return problem(500, "Internal Server Error",\n',
         '    return ConnexionResponse(status_code=500, mimetype="application/problem+json", body=json.dumps({'
         '"type": "about:blank", "title": "Internal Server Error", "status": 500, "trace_id": trace.trace_id}))\n'
         '    problem(500, "Internal Server Error",\n'),
        ("import asyncio\n", "import asyncio\nimport json\nfrom connexion.lifecycle import ConnexionResponse\n"))),
    ("pass-module-logger-critical", patched(
        (LOG_LINE, '    logging.getLogger(__name__).critical("failed", exc_info=(type(error), error, '
                   'error.__traceback__))\n'))),
    ("pass-trace-id-from-the-header", patched(
        (TRACE_EXT, 'ext={"trace_id": request.headers["traceparent"].split("-")[1]}'))),
    ("pass-klue-style-error-type", patched(
        (TRACE_EXT, 'ext={"trace_id": trace.trace_id, "error_type": type(error).__name__}'))),
    ("pass-own-problem-type", patched(
        (DETAIL, DETAIL + ', type="https://example.com/problems/internal", instance="/incidents/1"'))),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    """Grade every case of this file once, three workers at a time; case -> result."""
    cases = {case: text for case, text, *_ in WRONG} | dict(RIGHT)
    folders = {case: make_submission(tmp_path_factory.mktemp(case), {MODULE: text}) for case, text in cases.items()}
    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(cases, pool.map(lambda case: grade(folders[case], EXERCISE)[EXERCISE], cases)))


@pytest.mark.parametrize("case, text, checks, check, fragment", WRONG, ids=[c[0] for c in WRONG])
def test_wrong_error_handler_fails_the_right_check(graded, case, text, checks, check, fragment):
    problems = failed(graded[case])
    assert set(problems) == checks, f"{case}: {graded[case]}"
    assert fragment in problems[check], f"{case}: {problems[check]}"
    assert problems[check].endswith(f"See {ef.LESSON}, “{ef.SECTION}”."), problems[check]


@pytest.mark.parametrize("case", [c[0] for c in RIGHT])
def test_correct_error_handler_variant_passes(graded, case):
    assert graded[case].passed, str(graded[case])
