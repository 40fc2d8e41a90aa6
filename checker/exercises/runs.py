"""Turn what a worker saw (checker.sandbox.WorkerRun) into checks about a learner's code.

`report` adds the "your code runs" check every code exercise starts with: the
module imported, connexion built the app, every request was answered; each
message names the learner's module and operation (`api.py`, `get_status()`).
"""

from __future__ import annotations

import json

from checker.results import ExerciseResult
from checker.worker import REQUEST_TIMEOUT, STALL_LIMITS, WorkerRun
from checker.submission import API_MODULE, HEADERS_SPEC

RUNS = "api.py imports and get_status() answers every request"

IMPORT_FAILED = "oas3/{file}{position}: importing it raised {type}: {text}{code}"
SYNTAX_ERROR = "oas3/{file}:{line}:{column}: Python cannot read this line ({text}){code}"
EXITED_AT_IMPORT = "oas3/{file}{position}: the module calls sys.exit() while it is imported; keep module level to imports and definitions"
MISSING_MODULE = "oas3/{module}.py is missing: the operationIds of oas3/{spec} point into it. Create it (the starter is in notebooks/oas3/)."
MISSING_FILE = "oas3/{module}.py is missing. Create it (the starter is in notebooks/oas3/)."
HUNG_IMPORTING = "importing oas3/{module}.py did not finish within {seconds:g} s: is there a loop, sleep or input() at module level?"
HUNG_REQUEST = "{operation} did not answer request #{request} within {seconds:g} s: does your code sleep, wait or loop forever?"
CRASHED_IMPORTING = "importing oas3/{module}.py ended the process (exit code {code}): does it call os._exit() at module level?"
CRASHED = "the process running your code ended during request #{request} (exit code {code}): does your code call os._exit() or sys.exit()?"
APP_FAILED = "connexion could not build the app from {spec}: {text}"
APP_FAILED_BOTH = ("connexion could not build the app, from your spec or from the checker's copy alike, so the cause is "
                   "in {module}.py (what it hands connexion): {text}")
OPERATION_MISSING = ("{text}. `connexion run` refuses to start for the same reason: name the function as the "
                     "operationId says, or change the operationId in oas3/{spec}.")
RAISED = "{count} of {total} requests answered 500 because your code raised {type}: {text} (oas3/{file}:{line}: `{code}`)"
RAISED_IN_CONNEXION = ("{count} of {total} requests answered 500 because connexion raised {type}: {text}, on no line "
                       "of yours: check what your module hands connexion (its options, its return values).")
NOTHING_TO_CHECK = "no answer came back to check; fix the problem above first."
FLOODED = ("the process running your code sent the checker {flood}, so it was stopped: the checker reads only the "
           "answers it asked for. Does your code write to file descriptors it did not open?")
OUT_OF_TIME = ("the checker stopped your code during {doing}: it had run {seconds:g} s in all, the checker's limit for "
               "one process. Is your code slow on every call, or was this computer very busy? Grade again, or give "
               "it more time: `pytest checker/ --checker-deadline 60`.")
REQUEST_CRASHED = ("connexion could not answer request #{request} at all: {type}: {text}. Check what your module "
                   "hands connexion (its options, its return values).")


def describe_import_failure(error: dict, module: str, spec: str | None = None) -> str:
    """Say where and why importing the learner's module failed (`spec`: the file whose operationIds need it)."""
    if error["type"] == "Refused":  # a link, device or oversized file: checker.staging says why
        return error["text"]
    if error["type"] == "FileNotFoundError" and "file" not in error:
        return (MISSING_MODULE if spec else MISSING_FILE).format(module=module, spec=spec)
    file = error.get("file", f"{module}.py")
    code = f"\n    {error['code']}" if error.get("code") else ""
    position = f":{error['line']}" if error.get("line") else ""
    if error["type"] in ("SyntaxError", "IndentationError", "TabError"):
        return SYNTAX_ERROR.format(file=file, line=error.get("line"), column=error.get("column"),
                                   text=error["text"].split(" (")[0], code=code)
    if error["type"] == "SystemExit":
        return EXITED_AT_IMPORT.format(file=file, position=position)
    return IMPORT_FAILED.format(file=file, position=position, type=error["type"], text=error["text"], code=code)


def out_of_time(run: WorkerRun, doing: str) -> str:
    """The worker's deadline, not a limit of the learner's own, ended it: say so, not "your code hung"."""
    return OUT_OF_TIME.format(doing=doing, seconds=run.out_of_time)


def report(run: WorkerRun, result: ExerciseResult, name: str, module: str, spec: str, operation: str, hint: str) -> list[dict]:
    """Add check `name` (learner code imported, the app was built, every request answered); return the answers."""
    answers = run.of("response")
    problems = []
    failed_import = run.first("import-failed")
    if failed_import:
        problems.append(describe_import_failure(failed_import["error"], module, spec))
    failures = run.of("app-failed")
    if not run.of("app-ready") and len(failures) > 1 and len({e["error"]["text"] for e in failures}) == 1:
        if failures[0]["error"]["type"] == "OperationMissing":
            problems.append(app_failure(failures[0], spec))
        else:  # the checker's own spec fails alike, so the cause is in the module, not the spec
            problems.append(APP_FAILED_BOTH.format(text=first_paragraph(failures[0]["error"]["text"]), module=module))
    elif not run.of("app-ready"):
        problems += unique(app_failure(e, spec) for e in failures)
    crashed = run.first("request-crashed")
    if crashed:
        error = crashed["error"]
        problems.append(REQUEST_CRASHED.format(request=crashed["request"], type=error["type"], text=error["text"]))
    timeout = run.first("request-timeout")
    if run.ended == "flooded":
        problems.append(FLOODED.format(flood=run.flood or "more than it asked for"))
    elif run.out_of_time:
        doing = {"importing": f"the import of oas3/{module}.py", "starting": "its start"}.get(
            run.hung_while, f"request #{len(answers) + 1}")
        problems.append(out_of_time(run, doing))
    elif timeout:
        problems.append(HUNG_REQUEST.format(operation=operation, request=timeout["request"], seconds=REQUEST_TIMEOUT))
    elif run.ended == "hung":
        if run.hung_while == "importing":
            problems.append(HUNG_IMPORTING.format(module=module, seconds=STALL_LIMITS["importing"]))
        else:
            problems.append(HUNG_REQUEST.format(operation=operation, request=len(answers) + 1, seconds=STALL_LIMITS["serving"]))
    elif run.ended == "crashed" and not run.of("imported"):
        problems.append(CRASHED_IMPORTING.format(module=module, code=run.exit_code))
    elif run.ended == "crashed":
        problems.append(CRASHED.format(request=len(answers) + 1, code=run.exit_code))
    raised = [a for a in answers if a.get("error")]
    if raised:
        error = raised[0]["error"]
        if "line" in error:
            problems.append(RAISED.format(count=len(raised), total=len(answers), type=error["type"], text=error["text"],
                                          file=error.get("file", f"{module}.py"), line=error["line"],
                                          code=error.get("code", "")))
        else:
            problems.append(RAISED_IN_CONNEXION.format(count=len(raised), total=len(answers), type=error["type"],
                                                       text=error["text"]))
    if problems and run.output.strip() and run.ended != "finished":
        problems.append("What your code printed last:\n" + indent_tail(run.output))
    ready = run.first("app-ready")
    base = ready.get("base_path") if ready else ""
    info = f"requests went below your spec's base path {base} (from `servers`), where connexion serves them" if base else ""
    result.add(name, not problems, "\n".join(problems) + (" " + hint if problems else ""), info=info)
    return answers


def app_failure(event: dict, spec: str) -> str:
    """Why connexion could not build the app from a spec, in one sentence."""
    if event["error"]["type"] == "OperationMissing":  # the same whichever spec was tried
        return OPERATION_MISSING.format(text=event["error"]["text"], spec=spec)
    shown = f"oas3/{spec}" if event["spec"].endswith(spec) else "the checker's copy of the spec"
    return APP_FAILED.format(spec=shown, text=first_paragraph(event["error"]["text"]))


def first_paragraph(text: str) -> str:
    return text.strip().split("\n\n")[0]


def unique(lines) -> list[str]:
    return list(dict.fromkeys(lines))


def report_run(run: WorkerRun, result: ExerciseResult, hint: str) -> list[dict]:
    """`report` for api.py's get_status() behind GET /status."""
    return report(run, result, RUNS, API_MODULE, HEADERS_SPEC, "get_status()", hint)


def indent_tail(text: str, lines: int = 8) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


def header_values(answer: dict, name: str) -> list[str]:
    """All values of header `name` in a response, ignoring case."""
    return [value for key, value in answer["headers"] if key.lower() == name.lower()]


def problem_issue(answer: dict) -> str | None:
    """Why a response is not an RFC 9457 problem whose `status` matches, or None if it is."""
    types = header_values(answer, "content-type")
    media = types[0].split(";")[0].strip().lower() if types else ""
    if media != "application/problem+json":
        return f"Content-Type is {types[0] if types else 'missing'!s}, not application/problem+json"
    try:
        body = json.loads(answer["body"])
    except ValueError:
        return "the body is not JSON"
    if not isinstance(body, dict):
        return "the body is JSON but not an object"
    if not isinstance(body.get("title"), str):
        return "the body has no `title` string"
    if body.get("status") != answer["status"]:
        return f"the body's `status` is {body.get('status')!r} but the response status is {answer['status']}"
    return None


def status_issues(answers: list[dict], allowed: tuple[int, ...] = (200, 503)) -> list[tuple[int, str]]:
    """(request, issue) for every answer whose status is not allowed, with connexion's reason for a 500."""
    issues = []
    for answer in answers:
        if answer["status"] in allowed:
            continue
        issue = f"status {answer['status']}"
        if answer["status"] >= 500 and not answer.get("error"):
            try:
                detail = json.loads(answer["body"]).get("detail", "")
            except (ValueError, AttributeError):
                detail = ""
            if detail and "server encountered an internal error" not in detail:
                issue += f", connexion says: {detail}"
            else:
                issue += " from connexion, after get_status() returned (is the return value a response, "
                issue += "a body, or a (body, status[, headers]) tuple?)"
        issues.append((answer["request"], issue))
    return issues


def summarise(issues: list[tuple[int, str]], total: int, what: str) -> str:
    """'3 of 40 responses …: first at request #2 (…)' — one line per kind of issue."""
    by_kind: dict[str, list[int]] = {}
    for request, issue in issues:
        by_kind.setdefault(issue, []).append(request)
    lines = []
    for issue, requests in by_kind.items():
        first = ", ".join(f"#{r}" for r in requests[:3])
        lines.append(f"{len(requests)} of {total} {what}: {issue} (request {first}{', …' if len(requests) > 3 else ''})")
    return "\n".join(lines)
