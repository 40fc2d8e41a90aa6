"""Turn what a worker saw (checker.sandbox.WorkerRun) into checks about a learner's handler."""

from __future__ import annotations

import json

from checker.results import ExerciseResult
from checker.sandbox import STALL_LIMITS, WorkerRun
from checker.worker import REQUEST_TIMEOUT

RUNS = "api.py imports and get_status() answers every request"

IMPORT_FAILED = "oas3/{file}{position}: importing it raised {type}: {text}{code}"
SYNTAX_ERROR = "oas3/{file}:{line}:{column}: Python cannot read this line ({text}){code}"
EXITED_AT_IMPORT = "oas3/{file}{position}: the module calls sys.exit() while it is imported; keep module level to imports and definitions"
HUNG_IMPORTING = "importing oas3/api.py did not finish within {seconds:g} s: is there a loop, sleep or input() at module level?"
HUNG_SERVING = "get_status() did not answer request #{request} within {seconds:g} s: does it sleep, wait or loop forever?"
CRASHED = "the process running your code ended during request #{request} (exit code {code}): does get_status() call os._exit() or sys.exit()?"
APP_FAILED = "connexion could not build the app: {text}"
HANDLER_RAISED = "{count} of {total} requests failed because get_status() raised {type}: {text} (oas3/{file}:{line}: `{code}`)"


def _position(error: dict) -> str:
    return f":{error['line']}" if error.get("line") else ""


def describe_import_failure(error: dict) -> str:
    """Say where and why importing the learner's module failed."""
    code = f"\n    {error['code']}" if error.get("code") else ""
    if error["type"] in ("SyntaxError", "IndentationError", "TabError"):
        return SYNTAX_ERROR.format(file=error.get("file", "api.py"), line=error.get("line"), column=error.get("column"),
                                   text=error["text"].split(" (")[0], code=code)
    if error["type"] == "SystemExit":
        return EXITED_AT_IMPORT.format(file=error.get("file", "api.py"), position=_position(error))
    return IMPORT_FAILED.format(file=error.get("file", "api.py"), position=_position(error),
                                type=error["type"], text=error["text"], code=code)


def responses(run: WorkerRun) -> list[dict]:
    return run.of("response")


def report_run(run: WorkerRun, result: ExerciseResult, hint: str) -> list[dict]:
    """Add the 'your code runs' check; return the responses that did come back."""
    answers = responses(run)
    problems = []
    failed_import = run.first("import-failed")
    if failed_import:
        problems.append(describe_import_failure(failed_import["error"]))
    if not run.of("app-ready"):
        problems += [APP_FAILED.format(text=e["error"]["text"]) for e in run.of("app-failed")]
    timeout = run.first("request-timeout")
    if timeout:
        problems.append(HUNG_SERVING.format(request=timeout["request"], seconds=REQUEST_TIMEOUT))
    elif run.ended == "hung":
        if run.hung_while == "importing":
            problems.append(HUNG_IMPORTING.format(seconds=STALL_LIMITS["importing"]))
        else:
            problems.append(HUNG_SERVING.format(request=len(answers) + 1, seconds=STALL_LIMITS["serving"]))
    elif run.ended == "crashed":
        problems.append(CRASHED.format(request=len(answers) + 1, code=run.exit_code))
    raised = [a for a in answers if a.get("error")]
    if raised:
        error = raised[0]["error"]
        problems.append(HANDLER_RAISED.format(count=len(raised), total=len(answers), type=error["type"],
                                              text=error["text"], file=error.get("file", "api.py"),
                                              line=error.get("line", "?"), code=error.get("code", "")))
    if problems and run.output.strip() and run.ended != "finished":
        problems.append("What your code printed last:\n" + indent_tail(run.output))
    result.add(RUNS, not problems, "\n".join(problems) + (" " + hint if problems else ""))
    return answers


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
