"""`reusable-responses`: the 503 lives in components/responses and /status refers to it."""

from __future__ import annotations

from checker.exercises import Exercise
from checker.exercises.common import follow_or_report, lesson_hint, load_document, responses_of, status_get
from checker.exercises.headers_spec import check_no_duplicates
from checker.exercises.runs import first_paragraph
from checker.operations import operation_problems
from checker.results import ExerciseResult
from checker.spec import get_ci, where_in
from checker.submission import HEADERS_SPEC, SPEC_LOAD, Submission

LESSON = "04-Reusable-Responses.ipynb"
SECTION = "Exercise reusable-responses"
NAME = "503ServiceUnavailable"
REF = f"#/components/responses/{NAME}"

COMPONENT_EXISTS = f"components/responses/{NAME} exists"
COMPONENT_RETRY_AFTER = f"{NAME} declares a Retry-After header (and Cache-Control, if the 200 does)"
STATUS_USES_REF = f"GET /status's 503 is `$ref: '{REF}'`"
CONNEXION_LOADS = "connexion loads the file, as `connexion run` would"

MISSING_COMPONENT = ("{where}: there is no `components: responses: {name}:`. Move the 503 response you wrote "
                     "under /status there, keeping its description, headers and content.")
MISSING_HEADER = "{where}: {name} has no Retry-After under `headers:`; carry the header over when you move the response."
DROPPED_CACHE_CONTROL = ("{where}: {name} has no Cache-Control under `headers:`, while the 200 of GET /status declares "
                         "it: the refactor dropped a header, so the file no longer means the same. Carry every header "
                         "over when you move the response.")
NOT_A_REF = "{where}: the 503 of GET /status is written out in full; replace it with `$ref: '{ref}'`."
WRONG_REF = ("{where}: the 503 of GET /status points to {found!r}; it should be `$ref: '{ref}'`. To reuse the shared "
             "file's response, let your own component point at it: `503ServiceUnavailable: {{$ref: "
             "'components.oas3.yaml#/components/responses/503ServiceUnavailable'}}`.")
NO_503 = "{where}: GET /status has no \"503\" response; add `\"503\": {{$ref: '{ref}'}}` under its responses."
CONNEXION_FAILED = "connexion could not load {spec}: {text}"
OPERATION_FIX = (".\n`connexion run` would refuse to serve it: name the function as the operationId says, or change "
                 "the operationId in {spec}.")
CONNEXION_HUNG = "connexion did not finish loading {spec}; the checker gave up after a while."


def grade(submission: Submission, result: ExerciseResult) -> None:
    """Check the component, the reference to it, and that connexion accepts the result."""
    hint = " " + lesson_hint(LESSON, SECTION)
    run = submission.app_run(sampling=False)  # started early; runs while we read the YAML
    document = load_document(submission, HEADERS_SPEC, result, SECTION)
    if document is not None:
        check_no_duplicates(document, result, hint)
        data, shown = document.data, document.shown_as
        components = data.get("components") if isinstance(data.get("components"), dict) else {}
        responses = components.get("responses") if isinstance(components.get("responses"), dict) else {}
        if NAME not in responses:
            where = where_in(responses or components or data, shown, "responses" if not responses and components else None)
            result.add(COMPONENT_EXISTS, False, MISSING_COMPONENT.format(where=where, name=NAME) + hint)
        else:
            result.add(COMPONENT_EXISTS, True)
            followed = follow_or_report(document, responses[NAME], document.uri, shown, result, COMPONENT_RETRY_AFTER)
            if followed is not None:
                headers = followed[0].get("headers") if isinstance(followed[0], dict) else None
                where = where_in(responses, shown, NAME)
                problems = [] if get_ci(headers, "Retry-After") else [MISSING_HEADER.format(where=where, name=NAME)]
                if ok_declares_cache_control(document) and get_ci(headers, "Cache-Control") is None:
                    problems.append(DROPPED_CACHE_CONTROL.format(where=where, name=NAME))
                result.add(COMPONENT_RETRY_AFTER, not problems, "\n".join(problems) + hint)
        check_status_ref(document, result, hint)
    check_connexion_loads(submission, run, result, hint)


def ok_declares_cache_control(document) -> bool:
    """True if GET /status's 200 declares Cache-Control (lesson 3's bonus puts it on both responses)."""
    try:
        operation, base, shown = status_get(document)
        ok, _base, _shown = document.follow(responses_of(operation).get("200"), base, shown)
    except Exception:  # noqa: BLE001 - a missing operation or broken ref is reported by the other checks
        return False
    return isinstance(ok, dict) and get_ci(ok.get("headers"), "Cache-Control") is not None


def check_status_ref(document, result: ExerciseResult, hint: str) -> None:
    try:
        operation, _base, shown = status_get(document)
    except LookupError as missing:
        result.add(STATUS_USES_REF, False, f"{missing}.{hint}")
        return
    responses = responses_of(operation)
    entry = responses.get("503")
    if entry is None:
        result.add(STATUS_USES_REF, False, NO_503.format(where=where_in(operation, shown, "responses"), ref=REF) + hint)
    elif not (isinstance(entry, dict) and "$ref" in entry):
        result.add(STATUS_USES_REF, False, NOT_A_REF.format(where=where_in(responses, shown, "503"), ref=REF) + hint)
    elif entry["$ref"] != REF:
        result.add(STATUS_USES_REF, False, WRONG_REF.format(where=where_in(entry, shown, "$ref"), found=entry["$ref"], ref=REF) + hint)
    else:
        result.add(STATUS_USES_REF, True)


def check_connexion_loads(submission: Submission, run, result: ExerciseResult, hint: str) -> None:
    spec = submission.shown(HEADERS_SPEC)
    loaded = run.first("spec-loaded")
    if loaded:
        problems = operation_problems(submission.path(HEADERS_SPEC).parent, loaded.get("operation_ids", []))
        result.add(CONNEXION_LOADS, not problems, "\n".join(problems) + OPERATION_FIX.format(spec=spec) + hint)
    elif run.first("spec-failed"):
        result.add(CONNEXION_LOADS, False, CONNEXION_FAILED.format(spec=spec, text=first_paragraph(run.first("spec-failed")["error"]["text"])) + hint)
    else:
        result.add(CONNEXION_LOADS, False, CONNEXION_HUNG.format(spec=spec) + hint)


EXERCISE = Exercise(
    id="reusable-responses",
    title="Move the 503 into components/responses and $ref it",
    lesson=LESSON,
    points=2,
    grade=grade,
    needs=frozenset({SPEC_LOAD}),
)
