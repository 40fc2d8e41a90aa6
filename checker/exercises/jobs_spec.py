"""`jobs-spec`: the thumbnail API's contract for work that takes time.

`oas3/ex-08-01-jobs.yaml`: POST /jobs answers 202 with `Location` and
`Retry-After`; the job it describes has a `state` from the lesson's enum;
GET /jobs/{job_id} answers 200 (with Retry-After) while a job is not done,
303 with `Location` when it is ready, and 404 / 410 problems; every error
response of both operations is `application/problem+json`. Read only from
the YAML (every `$ref` followed): no learner code runs.
"""

from __future__ import annotations

from typing import Any

from checker.exercises import Exercise
from checker.exercises.common import lesson_hint, load_document
from checker.exercises.headers_spec import schema_admits_delay_seconds
from checker.exercises.problem_schema import deref, spec_basics
from checker.results import ExerciseResult
from checker.spec import Document, get_ci, where_in
from checker.submission import Submission

LESSON = "08-Long-Running-Jobs.ipynb"
SECTION = "Exercise jobs-spec"
SPEC = "ex-08-01-jobs.yaml"
STATES = ("new", "in progress", "ready", "error", "expired")
JOBS, JOB = "/jobs", "/jobs/{job_id}"
PROBLEM_MEDIA = "application/problem+json"

ACCEPTED = "POST /jobs declares a 202 with Location and Retry-After headers"
JOB_SCHEMA = "the job (202 and GET's 200) has `id` and a `state` whose enum is new, in progress, ready, error, expired"
NOT_DONE = "GET /jobs/{job_id} declares a 200 with Retry-After, for a job that is not done"
SEE_OTHER = "GET /jobs/{job_id} declares a 303 with Location, for a ready job"
GONE = "GET /jobs/{job_id} declares 404 and 410, as problems"
PROBLEMS = "every 4xx and 5xx response of /jobs and /jobs/{job_id} is application/problem+json"

NO_PATH = "{where}: there is no `{path}` with a `{method}` operation; keep the paths and operations of the starter file."
NO_RESPONSE = ("{where}: {operation} lists responses {codes} but no \"{code}\". Add one with a description{extra}.")
NO_HEADER = ("{where}: the {code} response of {operation} has no {name} under `headers:`. {fix}")
FIX_LOCATION = "$ref `'#/components/headers/Location'` (a string, `format: uri-reference`)."
FIX_RETRY_AFTER = "$ref `'components.oas3.yaml#/components/headers/Retry-After'` (whole seconds)."
RETRY_AFTER_SCHEMA = ("{where}: Retry-After's schema does not admit delay-seconds such as 5; use "
                      "`{{type: integer, minimum: 0}}` (or $ref the shared header).")
NO_JSON = ("{where}: the {code} response of {operation} has no `application/json` content with a schema; the job "
           "goes there: `$ref: '#/components/schemas/Job'`.")
NO_STATE = "{where}: the job schema of the {code} response of {operation} has no `state` property."
STATE_ENUM = ("{where}: `state` of the {code} response of {operation} has enum {found}; it must list exactly "
              "new, in progress, ready, error and expired (quote \"in progress\": it holds a space).")
STATE_NOT_REQUIRED = ("{where}: the job schema of the {code} response of {operation} does not list {names} under "
                      "`required:`; every job has an id and a state.")
NOT_PROBLEM = ("{where}: the {code} response of {operation} has content {media}; make it `{problem}` with the "
               "Problem schema (`$ref: '#/components/responses/Problem'` does both).")


def operation_at(document: Document, path: str, method: str, result: ExerciseResult, names: list[str], hint: str):
    """(the operation with every $ref followed, where its responses are) or None after failing `names`."""
    paths = document.data.get("paths") if isinstance(document.data.get("paths"), dict) else {}
    item = deref(document, paths.get(path), document.uri, document.shown_as) if path in paths else None
    operation = item.get(method) if isinstance(item, dict) else None
    if not isinstance(operation, dict):
        where = where_in(paths or document.data, document.shown_as, path if path in paths else None)
        for name in names:
            result.add(name, False, NO_PATH.format(where=where, path=path, method=method) + hint)
        return None
    raw = paths[path].get(method) if isinstance(paths[path], dict) else None
    return operation, where_in(raw if isinstance(raw, dict) else paths, document.shown_as,
                               "responses" if isinstance(raw, dict) else path)


def responses(operation: dict) -> dict:
    found = operation.get("responses")
    return found if isinstance(found, dict) else {}


def response_issue(operation: dict, code: str, name: str, where, extra: str = "") -> tuple[Any, str | None]:
    found = responses(operation).get(code)
    if isinstance(found, dict):
        return found, None
    codes = ", ".join(f'"{c}"' for c in responses(operation)) or "nothing"
    return None, NO_RESPONSE.format(where=where, operation=name, codes=codes, code=code, extra=extra)


def header_issues(response: dict, code: str, operation: str, where, names: tuple[str, ...]) -> list[str]:
    headers = response.get("headers") if isinstance(response.get("headers"), dict) else {}
    issues = []
    for name in names:
        found = get_ci(headers, name)
        if found is None:
            issues.append(NO_HEADER.format(where=where, code=code, operation=operation, name=name,
                                           fix=FIX_LOCATION if name == "Location" else FIX_RETRY_AFTER))
        elif name == "Retry-After":
            schema = found[1].get("schema") if isinstance(found[1], dict) else None
            if not schema_admits_delay_seconds(schema):
                issues.append(RETRY_AFTER_SCHEMA.format(where=where))
    return issues


def json_schema(response: dict) -> dict | None:
    content = response.get("content") if isinstance(response.get("content"), dict) else {}
    for media, body in content.items():
        if str(media).split(";")[0].strip().lower() == "application/json" and isinstance(body, dict):
            schema = body.get("schema")
            return schema if isinstance(schema, dict) else None
    return None


def properties_of(schema: dict) -> tuple[dict, set]:
    """Properties and required names of a schema, its allOf parts merged."""
    properties, required = {}, set()
    parts = [schema] + [p for p in schema.get("allOf", []) if isinstance(p, dict)] if isinstance(schema.get("allOf"), list) else [schema]
    for part in parts:
        if isinstance(part.get("properties"), dict):
            properties.update(part["properties"])
        if isinstance(part.get("required"), list):
            required |= {str(n) for n in part["required"]}
    return properties, required


def job_issues(response: dict, code: str, operation: str, where) -> list[str]:
    schema = json_schema(response)
    if schema is None:
        return [NO_JSON.format(where=where, code=code, operation=operation)]
    properties, required = properties_of(schema)
    state = properties.get("state")
    if not isinstance(state, dict):
        return [NO_STATE.format(where=where, code=code, operation=operation)]
    issues = []
    enum = state.get("enum")
    if not isinstance(enum, list) or sorted(map(str, enum)) != sorted(STATES) or len(enum) != len(STATES):
        issues.append(STATE_ENUM.format(where=where, code=code, operation=operation,
                                        found=enum if isinstance(enum, list) else "missing"))
    missing = [name for name in ("id", "state") if name not in required]
    if missing:
        issues.append(STATE_NOT_REQUIRED.format(where=where, code=code, operation=operation,
                                                names=" and ".join(f"`{n}`" for n in missing)))
    return issues


def problem_issue(response: dict, code: str, operation: str, where) -> str | None:
    content = response.get("content") if isinstance(response.get("content"), dict) else {}
    media = [str(m).split(";")[0].strip().lower() for m in content]
    if PROBLEM_MEDIA in media:
        return None
    return NOT_PROBLEM.format(where=where, code=code, operation=operation, media=", ".join(media) or "none",
                              problem=PROBLEM_MEDIA)


def grade(submission: Submission, result: ExerciseResult) -> None:
    """Read the contract from the YAML; report every missing promise at once."""
    hint = " " + lesson_hint(LESSON, SECTION)
    document = load_document(submission, SPEC, result, SECTION)
    if document is None or not spec_basics(document, result, hint):
        return
    post = operation_at(document, JOBS, "post", result, [ACCEPTED], hint)
    get = operation_at(document, JOB, "get", result, [NOT_DONE, SEE_OTHER, GONE], hint)
    job = []  # the job-schema issues of both operations
    if post:
        operation, where = post
        accepted, missing = response_issue(operation, "202", "POST /jobs", where,
                                           ", the headers Location and Retry-After, and the job as application/json")
        issues = [missing] if missing else header_issues(accepted, "202", "POST /jobs", where, ("Location", "Retry-After"))
        result.add(ACCEPTED, not issues, "\n".join(issues) + hint)
        if accepted:
            job += job_issues(accepted, "202", "POST /jobs", where)
        else:
            job.append("POST /jobs has no 202 response to describe the job (see above).")
    if get:
        operation, where = get
        name = "GET /jobs/{job_id}"
        ok, missing = response_issue(operation, "200", name, where, ", a Retry-After header, and the job as application/json")
        result.add(NOT_DONE, ok is not None and not header_issues(ok, "200", name, where, ("Retry-After",)),
                   "\n".join([missing] if missing else header_issues(ok, "200", name, where, ("Retry-After",))) + hint)
        if ok:
            job += job_issues(ok, "200", name, where)
        see, missing = response_issue(operation, "303", name, where, " and a Location header")
        issues = [missing] if missing else header_issues(see, "303", name, where, ("Location",))
        result.add(SEE_OTHER, not issues, "\n".join(issues) + hint)
        issues = []
        for code in ("404", "410"):
            found, missing = response_issue(operation, code, name, where, f" and `{PROBLEM_MEDIA}` content")
            issues.append(missing or problem_issue(found, code, name, where))
        issues = [i for i in issues if i]
        result.add(GONE, not issues, "\n".join(issues) + hint)
    if post or get:
        result.add(JOB_SCHEMA, not job, "\n".join(job) + hint)
    issues = []
    for found, name in ((post, "POST /jobs"), (get, "GET /jobs/{job_id}")):
        if found:
            for code, response in responses(found[0]).items():
                if str(code)[:1] in ("4", "5") and isinstance(response, dict):
                    issue = problem_issue(response, str(code), name, found[1])
                    if issue:
                        issues.append(issue)
    result.add(PROBLEMS, not issues, "\n".join(issues) + hint)


EXERCISE = Exercise(
    id="jobs-spec",
    title="The contract of a long-running job: 202 Accepted, a job with a state, 303, 404 and 410",
    lesson=LESSON,
    points=2,
    grade=grade,
)
