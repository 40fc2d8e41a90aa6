"""`headers-spec`: the spec declares a 503 on GET /status with a Retry-After header."""

from __future__ import annotations

import functools
import re
import threading

from checker.exercises import Exercise
from checker.exercises.common import follow_or_report, lesson_hint, load_document, responses_of, status_get
from checker.results import ExerciseResult
from checker.sandbox import REFERENCE
from checker.spec import Document, duplicate_keys, find_key, get_ci, load_yaml, where_in
from checker.submission import HEADERS_SPEC, Submission

LESSON = "03-Service-Unavailable.ipynb"
SECTION = "Exercise headers-spec"

NO_DUPLICATES = "no key is written twice"
REFS_RESOLVE = "every $ref points to something"
VALID_OPENAPI = "is a valid OpenAPI 3 document"
HAS_503 = "GET /status declares a 503 response"
HAS_RETRY_AFTER = "the 503 response declares a Retry-After header"
RETRY_AFTER_INTEGER = "Retry-After's schema admits delay-seconds (an integer)"

DUPLICATE_KEY = "{where}: `{key}` is written again (first on line {first}); YAML keeps only the last one, so the first is silently lost. Merge the two."
MISSING_503 = (
    "{where}: GET /status lists responses {codes} but no `\"503\"`. Add a `\"503\"` entry under "
    "`responses:` (with a description and a Retry-After header)."
)
MISSING_RETRY_AFTER = (
    "{where}: the 503 response has no `headers:` entry named Retry-After. Add one, or $ref "
    "`components.oas3.yaml#/components/headers/Retry-After`."
)
RETRY_AFTER_NOT_INTEGER = (
    "{where}: Retry-After's schema does not accept a number of seconds such as 120. Delay-seconds "
    "is a non-negative integer (RFC 9110 §10.2.3): use `schema: {{type: integer, minimum: 0}}`."
)
RETRY_AFTER_NO_SCHEMA = "{where}: Retry-After has no `schema`; give it `schema: {{type: integer, minimum: 0}}`."


def warm_validator() -> None:
    """Import openapi-spec-validator and build its validators: 1–2 s (pydantic-settings and jsonschema-path
    take most) spent once where the grader would otherwise wait, not in the middle of this exercise."""
    from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator

    reference = load_yaml(REFERENCE / "status.oas3.yaml", "status.oas3.yaml")
    for validator in (OpenAPIV30SpecValidator, OpenAPIV31SpecValidator):
        list(validator(reference).iter_errors())


@functools.cache
def warm_in_background() -> None:
    """Warm the validator in a thread while the learner's sandbox starts (the grader mostly waits then)."""
    threading.Thread(target=warm_validator, name="warm-spec-validator", daemon=True).start()


def validation_errors(document: Document) -> list[str]:
    """Every OpenAPI 3 problem, each with the line it is on, using openapi-spec-validator."""
    from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator

    version = str(document.data.get("openapi", ""))
    if not version.startswith("3."):
        where = where_in(document.data, document.shown_as, "openapi")
        return [f"{where}: `openapi:` must be a 3.x version such as `3.0.3` (found {version or 'nothing'!r})."]
    validator = OpenAPIV31SpecValidator if version.startswith("3.1") else OpenAPIV30SpecValidator
    messages = []
    try:
        for error in validator(document.data, base_uri=document.uri).iter_errors():
            error = most_useful(error)
            where = locate(document, list(error.absolute_path))
            moved = misplaced(error)
            messages.append(f"{where}: {moved}\n    (the validator says: {plain(error)})" if moved else f"{where}: {plain(error)}")
    except Exception as error:  # noqa: BLE001 - the validator raises on what it cannot follow
        messages.append(f"{document.shown_as}: the validator stopped: {error}")
    return messages


def most_useful(error):
    """Descend into oneOf/anyOf alternatives to the deepest, most specific complaint."""
    while error.context:
        candidates = [e for e in error.context if not (e.validator == "required" and "'$ref'" in e.message)]
        if not candidates:
            break
        error = max(candidates, key=lambda e: len(e.absolute_path))
    return error


#: where each OpenAPI keyword belongs, for keys written in the wrong place
BELONGS = {
    "components": "at the left margin, beside `paths:`",
    "paths": "at the left margin, beside `openapi:` and `info:`",
    "responses": "under an operation (beside `operationId:`), or under `components:`",
    "headers": "under a response, beside its `description:` and `content:`, or under `components:`",
    "content": "under a response or a request body, beside its `description:`",
    "schema": "under a media type such as `application/problem+json:`, or under a header or parameter",
    "schemas": "under `components:`",
    "description": "under a response, an operation or `info:`",
    "operationId": "under an operation such as `get:`",
}
#: maps whose keys are names the learner chose, not OpenAPI keywords: what each key names there
NAMED = {"headers": "a header name", "responses": "a status code or a response name", "schemas": "a schema name",
         "content": "a media type such as application/problem+json", "paths": "a path such as /status",
         "properties": "a member name"}


def misplaced(error) -> str | None:
    """When the complaint is an OpenAPI keyword in the wrong place, say where it is and where it belongs."""
    path = [str(part) for part in error.absolute_path]
    if error.validator in ("additionalProperties", "patternProperties") or "does not match any of the regexes" in error.message:
        keys = re.findall(r"'([^']+)'", error.message.split(" do")[0]) or []
        key = next((k for k in keys if k in BELONGS), None)
        if key is None:
            return None
        inside = f"`{path[-1]}:`" if path else "the top level"
        return f"`{key}:` is not allowed inside {inside}; it belongs {BELONGS[key]}. Check its indentation."
    if error.validator in ("oneOf", "anyOf") and len(path) >= 2 and path[-1] in BELONGS and path[-2] in NAMED:
        return (f"`{path[-1]}:` sits inside `{path[-2]}:`, where each key is {NAMED[path[-2]]}; `{path[-1]}:` "
                f"belongs {BELONGS[path[-1]]}. Check its indentation.")
    return None


def plain(error) -> str:
    """Say a jsonschema complaint in a sentence a learner can act on."""
    if error.validator == "required":
        key = error.message.split(" is a required")[0].strip("'")
        return f"`{key}` is missing here, and OpenAPI requires it"
    if error.validator in ("oneOf", "anyOf"):
        return "this entry does not match what OpenAPI 3 expects here"
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown key(s)")
    return error.message


def locate(document: Document, path: list) -> str:
    """Find the deepest written node along a validator's path, for its line number."""
    node, where = document.data, where_in(document.data, document.shown_as)
    for part in path:
        if isinstance(node, dict) and str(part) in node:
            where = where_in(node, document.shown_as, str(part))
            node = node[str(part)]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            break
    return str(where)


def schema_admits_delay_seconds(schema) -> bool:
    from openapi_schema_validator import OAS30Validator

    try:
        return OAS30Validator(schema).is_valid(120)
    except Exception:  # noqa: BLE001 - a malformed schema admits nothing we can tell
        return False


def broken_ref_messages(document: Document) -> list[str]:
    """Every `$ref` that leads nowhere; where its target is written somewhere else in the file, say where."""
    messages = []
    for error in document.broken_refs():
        text = f"{error.where}: `$ref: {error.ref}` leads nowhere ({error}). Check the file name and the path after `#`."
        target = error.ref.split("#", 1)[1].strip("/").split("/") if error.ref.startswith("#/") else []
        found = next(find_key(document.data, document.shown_as, target[-1]), None) if target else None
        if found is not None:
            path, where = found
            text += (f"\n    `{target[-1]}:` is written at {where}, under `{': '.join(path) or 'the top level'}:`; "
                     f"the $ref looks for it under `{': '.join(target[:-1])}:`. Check its indentation.")
        messages.append(text)
    return messages


def check_no_duplicates(document, result: ExerciseResult, hint: str) -> None:
    """Add the "no key is written twice" check: YAML silently keeps only the last of two equal keys."""
    repeats = [DUPLICATE_KEY.format(where=w, key=k, first=f) for k, w, f in duplicate_keys(document.data, document.shown_as)]
    result.add(NO_DUPLICATES, not repeats, "\n".join(repeats) + hint)


def grade(submission: Submission, result: ExerciseResult) -> None:
    """Load, validate, then look for the 503 and its Retry-After header."""
    document = load_document(submission, HEADERS_SPEC, result, SECTION)
    if document is None:
        return
    hint = " " + lesson_hint(LESSON, SECTION)
    check_no_duplicates(document, result, hint)
    broken = broken_ref_messages(document)
    result.add(REFS_RESOLVE, not broken, "\n".join(broken) + hint)
    if broken:
        return
    problems = validation_errors(document)
    result.add(VALID_OPENAPI, not problems, "\n".join(problems) + hint)
    check_503_header(document, result, hint)


def check_503_header(document: Document, result: ExerciseResult, hint: str) -> tuple | None:
    """Add the 503 / Retry-After / schema checks; return (response, base, shown) of the 503."""
    try:
        operation, base, shown = status_get(document)
    except LookupError as missing:
        result.add(HAS_503, False, f"{missing}.{hint}")
        return None
    responses = responses_of(operation)
    if "503" not in responses:
        codes = ", ".join(f'"{code}"' for code in responses) or "nothing"
        where = where_in(operation, shown, "responses")
        result.add(HAS_503, False, MISSING_503.format(where=where, codes=codes) + hint)
        return None
    result.add(HAS_503, True)
    followed = follow_or_report(document, responses["503"], base, shown, result, HAS_RETRY_AFTER)
    if followed is None:
        return None
    response, base, shown = followed
    found = get_ci(response.get("headers") if isinstance(response, dict) else None, "Retry-After")
    if found is None:
        where = where_in(responses, document.shown_as, "503") if shown == document.shown_as else where_in(response, shown)
        result.add(HAS_RETRY_AFTER, False, MISSING_RETRY_AFTER.format(where=where) + hint)
        return followed
    result.add(HAS_RETRY_AFTER, True)
    name, header = found
    header_where = where_in(response["headers"], shown, name)
    followed_header = follow_or_report(document, header, base, shown, result, RETRY_AFTER_INTEGER)
    if followed_header is None:
        return followed
    header, header_base, header_shown = followed_header
    if not isinstance(header, dict) or "schema" not in header:
        result.add(RETRY_AFTER_INTEGER, False, RETRY_AFTER_NO_SCHEMA.format(where=header_where) + hint)
        return followed
    schema_followed = follow_or_report(document, header["schema"], header_base, header_shown, result, RETRY_AFTER_INTEGER)
    if schema_followed is None:
        return followed
    schema = schema_followed[0]
    admits = schema_admits_delay_seconds(schema)
    result.add(RETRY_AFTER_INTEGER, admits, RETRY_AFTER_NOT_INTEGER.format(where=where_in(header, header_shown, "schema")) + hint)
    return followed


EXERCISE = Exercise(
    id="headers-spec",
    title="Declare the 503 and its Retry-After header",
    lesson=LESSON,
    points=2,
    grade=grade,
    prestart=lambda _submission: warm_in_background(),
)
