"""`problem-schema`: a Problem schema per RFC 9457, used by every error response of the orders spec."""

from __future__ import annotations

from typing import Any

from checker.exercises import Exercise
from checker.exercises.common import follow_or_report, lesson_hint, load_document
from checker.exercises.headers_spec import (REFS_RESOLVE, VALID_OPENAPI, broken_ref_messages, check_no_duplicates,
                                            validation_errors, warm_in_background)
from checker.results import ExerciseResult
from checker.spec import BrokenRef, Document, where_in
from checker.submission import Submission

LESSON = "05-Problem-Details.ipynb"
SECTION = "Exercise problem-schema"
SPEC = "ex-05-01-problems.yaml"
PROBLEM_REF = "#/components/schemas/Problem"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PROBLEM_MEDIA = ("application/problem+json", "application/problem+xml")

PROBLEM_EXISTS = "components/schemas/Problem exists"
PROBLEM_MEMBERS = "Problem declares type, title, status, detail and instance with RFC 9457's JSON types"
PROBLEM_URIS = "`type` and `instance` are URI references, and `type` defaults to about:blank"
PROBLEM_OPEN = "Problem accepts extension members, and problems that leave out optional members"
ERRORS_USE_PROBLEM = "every 4xx, 5xx and default response is application/problem+json with the Problem schema"
KEEPS_ERRORS = "the operations still document their error responses"

NO_PROBLEM = ("{where}: there is no `Problem` under `components: schemas:`. Add one with the five RFC 9457 members "
              "(type, title, status, detail, instance); `type: object` and a `properties:` map.")
MEMBER_MISSING = "{where}: Problem has no `{name}` under `properties:`; add `{name}: {suggestion}`."
MEMBER_TYPE = "{where}: `{name}` is declared as {found}, but in RFC 9457 it is a JSON {what}: write `type: {json}`."
STATUS_RANGE = "{where}: `status` rejects {codes} (check minimum/maximum): any HTTP status code, 100 to 599, must fit."
NOT_OBJECT = "{where}: Problem should say `type: object`: a problem details document is a JSON object."
URI_FORMAT = ("{where}: `{name}` has {found}. RFC 9457 makes it a URI *reference*, so relative ones such as "
              "`/problems/out-of-stock` are allowed too: write `format: uri-reference`.")
TYPE_DEFAULT = ("{where}: `type` has {found}. A problem without `type` means `about:blank` (RFC 9457 §3.1.1): "
                "say so with `default: about:blank`.")
CLOSED = ("{where}: `additionalProperties: false` refuses extension members such as `balance` or `errors`, which "
          "RFC 9457 §3.2 lets every problem type add. Remove it (or write `additionalProperties: true`).")
REQUIRES_OPTIONAL = ("{where}: `required` lists {names}, but a problem may leave {them} out (a missing `type` means "
                     "about:blank). Only `title` and `status` may be required.")
NOT_DECLARED = "`type` and `instance` are not declared yet: add them first (see the check above)."
REJECTS_EXAMPLE = "{where}: Problem rejects the valid problem {sample}: {reason}. Loosen the schema so it fits."
NO_CONTENT = "{where}: the {code} response of {op} has no `content`; give it `application/problem+json` with the Problem schema."
NOT_PROBLEM_MEDIA = ("{where}: the {code} response of {op} is {media}; errors are `application/problem+json` "
                     "(RFC 9457 §3), even when the client asked for application/json. Replace it.")
ALSO_OTHER_MEDIA = ("{where}: the {code} response of {op} offers {media} next to application/problem+json; "
                    "remove it, so that clients meet one error format.")
NO_SCHEMA = "{where}: the {code} response of {op} has application/problem+json without a `schema`; add `schema: {{$ref: '{ref}'}}`."
OTHER_SCHEMA = ("{where}: the {code} response of {op} uses a schema that is not Problem. Write `schema: {{$ref: '{ref}'}}` "
                "(or `allOf: [{{$ref: '{ref}'}}, ...]` to add extension members).")
MISSING_ERROR = ("{where}: {op} no longer documents {what}. Keep the error responses of the starter file and change "
                 "their content instead.")

#: error responses the starter documents; the learner changes their content, not whether they exist
KEPT = [("/orders", "post", ("400", "4XX"), "its 400 (a body that is not a JSON order)"),
        ("/orders", "post", ("422", "4XX"), "its 422 validation problems"),
        ("/orders", "post", ("default",), "a `default` response"),
        ("/orders/{order_id}", "get", ("404", "4XX"), "its 404"),
        ("/orders/{order_id}", "get", ("default",), "a `default` response")]

JSON_TYPES = {"type": ("string", "string"), "title": ("string", "string"),
              "status": ("integer", "whole number (an HTTP status code)"),
              "detail": ("string", "string"), "instance": ("string", "string")}
SUGGESTIONS = {"type": "{type: string, format: uri-reference, default: about:blank}", "title": "{type: string}",
               "status": "{type: integer}", "detail": "{type: string}", "instance": "{type: string, format: uri-reference}"}
OPTIONAL = ("type", "detail", "instance")
#: problems RFC 9457 allows, which every Problem schema must accept (§3's own example among them)
SAMPLES = [
    {"type": "https://example.com/probs/out-of-credit", "title": "You do not have enough credit.", "status": 403,
     "detail": "Your current balance is 30, but that costs 50.", "instance": "/account/12345/msgs/abc",
     "balance": 30, "accounts": ["/account/12345", "/account/67890"]},
    {"title": "Not Found", "status": 404},
]


def is_error_code(code: str) -> bool:
    code = str(code).upper()
    return code == "DEFAULT" or (len(code) == 3 and code[0] in "45" and (code[1:].isdigit() or code[1:] == "XX"))


def spec_basics(document: Document, result: ExerciseResult, hint: str) -> bool:
    """Add the duplicate-key, $ref and OpenAPI-validity checks; False if refs are broken (nothing more can be read)."""
    check_no_duplicates(document, result, hint)
    broken = broken_ref_messages(document)
    result.add(REFS_RESOLVE, not broken, "\n".join(broken) + hint)
    if broken:
        return False
    problems = validation_errors(document)
    result.add(VALID_OPENAPI, not problems, "\n".join(problems) + hint)
    return True


def deref(document: Document, node: Any, base: str, shown: str, depth: int = 0) -> Any:
    """A plain copy of `node` with every `$ref` replaced by its target (recursive ones cut off)."""
    if depth > 40:
        return {}
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            try:
                node, base, shown = document.follow(node, base, shown)
            except BrokenRef:
                return {}
            return deref(document, node, base, shown, depth + 1)
        return {key: deref(document, value, base, shown, depth + 1) for key, value in node.items()}
    if isinstance(node, list):
        return [deref(document, value, base, shown, depth + 1) for value in node]
    return node


def parts(document: Document, schema: Any, base: str, shown: str, depth: int = 0):
    """Yield (schema, base, shown) for `schema` and every allOf part it is built from, refs followed."""
    try:
        schema, base, shown = document.follow(schema, base, shown)
    except BrokenRef:
        return
    if not isinstance(schema, dict) or depth > 10:
        return
    yield schema, base, shown
    all_of = schema.get("allOf")
    for part in all_of if isinstance(all_of, list) else []:
        yield from parts(document, part, base, shown, depth + 1)


def members(document: Document, schema: Any, base: str, shown: str) -> dict:
    """name -> (member schema followed, its base, its file, where it is written), across allOf parts."""
    found = {}
    for part, part_base, part_shown in parts(document, schema, base, shown):
        properties = part.get("properties")
        if not isinstance(properties, dict):
            continue
        for name, member in properties.items():
            if name in found:
                continue
            where = where_in(properties, part_shown, name)
            try:
                member, member_base, member_shown = document.follow(member, part_base, part_shown)
            except BrokenRef:
                continue
            found[name] = (member, member_base, member_shown, where)
    return found


def declared_types(member: Any) -> set:
    if not isinstance(member, dict):
        return set()
    declared = member.get("type")
    types = set(declared) if isinstance(declared, list) else {declared} if declared is not None else set()
    return types - {"null"}


def check_members(document: Document, problem: Any, where_problem, result: ExerciseResult, hint: str) -> dict:
    found = members(document, problem, document.uri, document.shown_as)
    issues = []
    for name, (json_type, what) in JSON_TYPES.items():
        if name not in found:
            issues.append(MEMBER_MISSING.format(where=where_problem, name=name, suggestion=SUGGESTIONS[name]))
            continue
        member, _base, _shown, where = found[name]
        types = declared_types(member)
        if types != {json_type}:
            shown_type = f"`type: {', '.join(sorted(map(str, types)))}`" if types else "without a `type`"
            issues.append(MEMBER_TYPE.format(where=where, name=name, found=shown_type, what=what, json=json_type))
    if "status" in found and declared_types(found["status"][0]) == {"integer"}:
        member, base, shown, where = found["status"]
        refused = [code for code in (100, 200, 404, 429, 503, 599) if not accepts(deref(document, member, base, shown), code)]
        if refused:
            issues.append(STATUS_RANGE.format(where=where, codes=", ".join(map(str, refused))))
    part_types = [part.get("type") for part, _b, _s in parts(document, problem, document.uri, document.shown_as)]
    if "object" not in part_types:
        issues.append(NOT_OBJECT.format(where=where_problem))
    result.add(PROBLEM_MEMBERS, not issues, "\n".join(issues) + hint)
    return found


def check_uris(found: dict, result: ExerciseResult, hint: str) -> None:
    issues = []
    for name in ("type", "instance"):
        if name not in found or not isinstance(found[name][0], dict):
            continue
        member, where = found[name][0], found[name][3]
        if member.get("format") != "uri-reference":
            shown_format = f"`format: {member['format']}`" if "format" in member else "no `format`"
            issues.append(URI_FORMAT.format(where=where, name=name, found=shown_format))
    if "type" in found and isinstance(found["type"][0], dict) and found["type"][0].get("default") != "about:blank":
        member = found["type"][0]
        shown_default = f"`default: {member['default']}`" if "default" in member else "no `default`"
        issues.append(TYPE_DEFAULT.format(where=found["type"][3], found=shown_default))
    if "type" not in found and "instance" not in found:
        issues.append(NOT_DECLARED)
    result.add(PROBLEM_URIS, not issues, "\n".join(issues) + hint)


def validator_for(document: Document, schema: Any):
    from openapi_schema_validator import OAS30Validator, OAS31Validator

    version = str(document.data.get("openapi", ""))
    return (OAS31Validator if version.startswith("3.1") else OAS30Validator)(schema)


def accepts(schema: Any, instance: Any) -> bool:
    from openapi_schema_validator import OAS30Validator

    try:
        return OAS30Validator(schema).is_valid(instance)
    except Exception:  # noqa: BLE001 - a malformed schema accepts nothing we can tell
        return False


def check_open(document: Document, problem: Any, where_problem, result: ExerciseResult, hint: str) -> None:
    issues = []
    for part, _base, shown in parts(document, problem, document.uri, document.shown_as):
        if part.get("additionalProperties") is False:
            issues.append(CLOSED.format(where=where_in(part, shown, "additionalProperties")))
        required = part.get("required")
        if isinstance(required, list) and (named := [n for n in OPTIONAL if n in required]):
            names = ", ".join(f"`{n}`" for n in named)
            issues.append(REQUIRES_OPTIONAL.format(where=where_in(part, shown, "required"), names=names,
                                                   them="it" if len(named) == 1 else "them"))
    if not issues:
        schema = deref(document, problem, document.uri, document.shown_as)
        for sample in SAMPLES:
            try:
                errors = list(validator_for(document, schema).iter_errors(sample))
            except Exception as error:  # noqa: BLE001 - the schema itself is malformed
                errors = [error]
            # a member of the wrong type is the members check's business; here only the object as a whole
            errors = [e for e in errors if not (getattr(e, "absolute_path", None) and e.absolute_path[0] in JSON_TYPES)]
            if errors:
                reason = getattr(errors[0], "message", str(errors[0]))
                issues.append(REJECTS_EXAMPLE.format(where=where_problem, sample=sample, reason=reason))
    result.add(PROBLEM_OPEN, not issues, "\n".join(issues) + hint)


def operations(document: Document):
    """Yield (label, operation, its base, its file) for every operation of every path."""
    paths = document.data.get("paths")
    if not isinstance(paths, dict):
        return
    for path, item in paths.items():
        try:
            item, base, shown = document.follow(item)
        except BrokenRef:
            continue
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            if isinstance(item.get(method), dict):
                yield path, method, item[method], base, shown


def response_issue(document: Document, label: str, code: str, response, base: str, shown: str, where, problem_data) -> str | None:
    """Why an error response is not application/problem+json with the Problem schema, or None."""
    content = response.get("content") if isinstance(response, dict) else None
    fmt = {"where": where, "code": code, "op": label, "ref": PROBLEM_REF}
    if not isinstance(content, dict) or not content:
        return NO_CONTENT.format(**fmt)
    others = [media for media in content if str(media).split(";")[0].strip().lower() not in PROBLEM_MEDIA]
    media = next((m for m in content if str(m).split(";")[0].strip().lower() == "application/problem+json"), None)
    if media is None:
        return NOT_PROBLEM_MEDIA.format(**fmt, media=", ".join(map(str, content)))
    if others:
        return ALSO_OTHER_MEDIA.format(**fmt, media=", ".join(others))
    entry = content[media]
    if not isinstance(entry, dict) or "schema" not in entry:
        return NO_SCHEMA.format(**fmt)
    schema, schema_base, schema_shown = document.follow(entry["schema"], base, shown)
    candidates = [schema]
    if isinstance(schema, dict) and isinstance(schema.get("allOf"), list):
        candidates += schema["allOf"]
    for candidate in candidates:
        if problem_data is not None and deref(document, candidate, schema_base, schema_shown) == problem_data:
            return None
    return OTHER_SCHEMA.format(**fmt)


def check_responses(document: Document, problem_data, result: ExerciseResult, hint: str) -> None:
    issues, seen, present = [], 0, set()
    for path, method, operation, base, shown in operations(document):
        label = f"{method.upper()} {path}"
        responses = operation.get("responses")
        if not isinstance(responses, dict):
            continue
        for code, response in responses.items():
            if not is_error_code(code):
                continue
            present.add((path, method, str(code).upper()))
            where = where_in(responses, shown, code)
            followed = follow_or_report(document, response, base, shown, result, ERRORS_USE_PROBLEM)
            if followed is None:
                return
            seen += 1
            issue = response_issue(document, label, str(code), *followed, where, problem_data)
            if issue:
                issues.append(issue)
    result.add(ERRORS_USE_PROBLEM, seen and not issues, ("\n".join(issues) or "no error response found.") + hint,
               info=f"{seen} error responses checked")
    missing = []
    for path, method, codes, what in KEPT:
        if not any((path, method, code.upper()) in present for code in codes):
            where = where_in(document.data.get("paths"), document.shown_as, path)
            missing.append(MISSING_ERROR.format(where=where, op=f"{method.upper()} {path}", what=what))
    result.add(KEEPS_ERRORS, not missing, "\n".join(missing) + hint)


def grade(submission: Submission, result: ExerciseResult) -> None:
    """Load the orders spec, then judge its Problem schema and every error response."""
    hint = " " + lesson_hint(LESSON, SECTION)
    document = load_document(submission, SPEC, result, SECTION)
    if document is None or not spec_basics(document, result, hint):
        return
    data, shown = document.data, document.shown_as
    components = data.get("components") if isinstance(data.get("components"), dict) else {}
    schemas = components.get("schemas") if isinstance(components.get("schemas"), dict) else {}
    if "Problem" not in schemas:
        where = where_in(schemas or components or data, shown, None if schemas or components else "paths")
        result.add(PROBLEM_EXISTS, False, NO_PROBLEM.format(where=where) + hint)
        check_responses(document, None, result, hint)
        return
    result.add(PROBLEM_EXISTS, True)
    where_problem = where_in(schemas, shown, "Problem")
    problem = schemas["Problem"]
    found = check_members(document, problem, where_problem, result, hint)
    check_uris(found, result, hint)
    check_open(document, problem, where_problem, result, hint)
    check_responses(document, deref(document, problem, document.uri, shown), result, hint)


EXERCISE = Exercise(
    id="problem-schema",
    title="Describe every error of the orders API as an RFC 9457 problem",
    lesson=LESSON,
    points=2,
    grade=grade,
    prestart=lambda _submission: warm_in_background(),
)
