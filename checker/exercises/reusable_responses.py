"""`reusable-responses`: the 503 lives in components/responses and /status refers to it."""

from __future__ import annotations

from checker.exercises import Exercise
from checker.exercises.common import follow_or_report, lesson_hint, load_document, responses_of, status_get
from checker.results import ExerciseResult
from checker.spec import get_ci, where_in
from checker.submission import HEADERS_SPEC, SPEC_LOAD, Submission

LESSON = "04-Reusable-Responses.ipynb"
SECTION = "Exercise reusable-responses"
NAME = "503ServiceUnavailable"
REF = f"#/components/responses/{NAME}"

COMPONENT_EXISTS = f"components/responses/{NAME} exists"
COMPONENT_RETRY_AFTER = f"{NAME} declares a Retry-After header"
STATUS_USES_REF = f"GET /status's 503 is `$ref: '{REF}'`"
CONNEXION_LOADS = "connexion loads the file, as `connexion run` would"

MISSING_COMPONENT = ("{where}: there is no `components: responses: {name}:`. Move the 503 response you wrote "
                     "under /status there, keeping its description, headers and content.")
MISSING_HEADER = "{where}: {name} has no Retry-After under `headers:`; carry the header over when you move the response."
NOT_A_REF = "{where}: the 503 of GET /status is written out in full; replace it with `$ref: '{ref}'`."
WRONG_REF = "{where}: the 503 of GET /status points to {found!r}; it should be `$ref: '{ref}'`."
NO_503 = "{where}: GET /status has no \"503\" response; add `\"503\": {{$ref: '{ref}'}}` under its responses."
CONNEXION_FAILED = "connexion could not load {spec}: {text}"
CONNEXION_HUNG = "connexion did not finish loading {spec}; the checker gave up after a while."


def grade(submission: Submission, result: ExerciseResult) -> None:
    """Check the component, the reference to it, and that connexion accepts the result."""
    hint = " " + lesson_hint(LESSON, SECTION)
    run = submission.app_run(sampling=False)  # started early; runs while we read the YAML
    document = load_document(submission, HEADERS_SPEC, result, SECTION)
    if document is not None:
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
                response = followed[0]
                found = get_ci(response.get("headers") if isinstance(response, dict) else None, "Retry-After")
                result.add(COMPONENT_RETRY_AFTER, found is not None,
                           MISSING_HEADER.format(where=where_in(responses, shown, NAME), name=NAME) + hint)
        check_status_ref(document, result, hint)
    check_connexion_loads(submission, run, result, hint)


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


def first_paragraph(text: str) -> str:
    """Connexion's schema errors run to a page; the first paragraph says what matters."""
    return text.strip().split("\n\n")[0]


def check_connexion_loads(submission: Submission, run, result: ExerciseResult, hint: str) -> None:
    spec = submission.shown(HEADERS_SPEC)
    if run.first("spec-loaded"):
        result.add(CONNEXION_LOADS, True)
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
