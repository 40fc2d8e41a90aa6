"""headers-spec and reusable-responses: wrong YAML fails the right check, every correct variant passes."""

from __future__ import annotations

import pytest
from checker_support import SPEC, STARTERS, assert_fails, failed, grade, make_submission

from checker.exercises import headers_spec as hs
from checker.exercises import reusable_responses as rr

INLINE_503 = '''        "503":
          description: Try again later.
          headers:
            Retry-After:
              schema:
                type: integer
                minimum: 0
          content:
            application/problem+json:
              schema:
                $ref: 'components.oas3.yaml#/components/schemas/Problem'
'''
REF_503 = "        \"503\":\n          $ref: '#/components/responses/503ServiceUnavailable'\n"
RETRY_REF = "        Retry-After:\n          $ref: 'components.oas3.yaml#/components/headers/Retry-After'\n"
LOAD = f"{SPEC} loads as YAML"


def inline_503(header: str = "Retry-After", schema: str = "type: integer\n                minimum: 0") -> tuple:
    """Replace the solution's 503 $ref by an inline response with this header and schema."""
    block = INLINE_503.replace("Retry-After", header).replace("type: integer\n                minimum: 0", schema)
    return (REF_503, block)


# (case, edit of the spec, exercise, failing check, fragment of its message)
WRONG_SPECS = [
    ("syntax-error", (REF_503, REF_503 + "      oops: [unclosed\n"), "headers-spec", LOAD, f"{SPEC}:"),
    ("tab-indentation", ("paths:\n", "paths:\n\t/x: {}\n"), "headers-spec", LOAD, f"{SPEC}:"),
    ("unsafe-python-tag", ("openapi: 3.0.3\n", "openapi: 3.0.3\nx-run: !!python/object/apply:os.getcwd []\n"),
     "headers-spec", LOAD, "refused, never run"),
    ("empty-file", "", "headers-spec", LOAD, "holds nothing"),
    ("alias-bomb", "openapi: 3.0.3\na: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi")),
     "headers-spec", LOAD, "expands to more than 200,000 values"),
    ("alias-cycle", "openapi: 3.0.3\nx: &a\n  - 1\n  - *a\n", "headers-spec", LOAD, "contains itself"),
    ("a-list-not-a-mapping", "- openapi\n- 3.0.3\n", "headers-spec", LOAD, "not a mapping"),
    ("repeated-responses-key", ("      responses:\n", "      responses:\n        \"500\": {description: x}\n      responses:\n"),
     "headers-spec", hs.NO_DUPLICATES, "written again (first on line"),
    ("broken-local-ref", ("'#/components/responses/503ServiceUnavailable'", "'#/components/responses/503Unavailable'"),
     "headers-spec", hs.REFS_RESOLVE, "leads nowhere"),
    ("broken-external-pointer", (RETRY_REF, RETRY_REF.replace("headers/Retry-After", "headers/RetryAfter")),
     "headers-spec", hs.REFS_RESOLVE, "components.oas3.yaml#/components/headers/RetryAfter"),
    ("missing-external-file", (RETRY_REF, RETRY_REF.replace("components.oas3.yaml", "common.yaml")),
     "headers-spec", hs.REFS_RESOLVE, "the file is missing"),
    ("no-info-version", ('  version: "1.0.0"\n', ""), "headers-spec", hs.VALID_OPENAPI, "version"),
    ("swagger-2", ("openapi: 3.0.3", "swagger: '2.0'"), "headers-spec", hs.VALID_OPENAPI, "3.x version"),
    ("response-without-description", ("          description: The service is up.\n", ""), "headers-spec",
     hs.VALID_OPENAPI, "`description` is missing here"),
    ("no-503", (REF_503, ""), "headers-spec", hs.HAS_503, 'no `"503"`'),
    ("no-retry-after", inline_503(header="Retry-Later"), "headers-spec", hs.HAS_RETRY_AFTER, "Retry-After"),
    ("retry-after-string", inline_503(schema="type: string"), "headers-spec", hs.RETRY_AFTER_INTEGER, "type: integer"),
    ("retry-after-date-only", inline_503(schema="type: string\n                format: date-time"), "headers-spec",
     hs.RETRY_AFTER_INTEGER, "number of seconds"),
    ("ref-into-a-plain-value", ("'#/components/responses/503ServiceUnavailable'", "'#/openapi/x'"),
     "headers-spec", hs.REFS_RESOLVE, "runs into a value that is neither a mapping nor a list"),
    ("lesson-3-state", inline_503(), "reusable-responses", rr.STATUS_USES_REF, "written out in full"),
    ("component-misnamed", ("    503ServiceUnavailable:\n", "    ServiceUnavailable:\n"), "reusable-responses",
     rr.COMPONENT_EXISTS, "components: responses: 503ServiceUnavailable"),
    ("component-without-retry-after", (RETRY_REF, ""), "reusable-responses", rr.COMPONENT_RETRY_AFTER, "Retry-After"),
    ("ref-into-shared-file", ("'#/components/responses/503ServiceUnavailable'",
                              "'components.oas3.yaml#/components/responses/503ServiceUnavailable'"),
     "reusable-responses", rr.STATUS_USES_REF, "should be `$ref: '#/components/responses/503ServiceUnavailable'`"),
    ("connexion-template-error", ("  title: Status API\n", "  title: Status API {% broken\n"),
     "reusable-responses", rr.CONNEXION_LOADS, "connexion could not load"),
    ("headers-under-a-media-type", ("          headers:\n            Cache-Control:\n              $ref: 'components.oas3.yaml#/components/headers/Cache-Control'\n          content:\n            application/problem+json:\n",
                                    "          content:\n            application/problem+json:\n              headers:\n                Cache-Control:\n                  $ref: 'components.oas3.yaml#/components/headers/Cache-Control'\n"),
     "headers-spec", hs.VALID_OPENAPI, "`headers:` is not allowed inside `application/problem+json:`; it belongs under a response"),
    ("responses-nested-under-headers", ("components:\n  responses:\n    503ServiceUnavailable:",
                                        "components:\n  headers:\n    responses:\n      503ServiceUnavailable:"),
     "headers-spec", hs.REFS_RESOLVE, "under `components: headers: responses:`; the $ref looks for it under `components: responses:`"),
    ("components-indented-under-paths", ("\ncomponents:\n  responses:\n    503ServiceUnavailable:",
                                         "\n  components:\n    responses:\n      503ServiceUnavailable:"),
     "headers-spec", hs.REFS_RESOLVE, "under `paths: components: responses:`; the $ref looks for it under `components: responses:`"),
    ("refactor-dropped-cache-control", ("        Cache-Control:\n          $ref: 'components.oas3.yaml#/components/headers/Cache-Control'\n      content:",
                                        "      content:"),
     "reusable-responses", rr.COMPONENT_RETRY_AFTER, "the refactor dropped a header"),
    ("operation-id-names-no-function", ("operationId: api.get_status", "operationId: api.getStatus"),
     "reusable-responses", rr.CONNEXION_LOADS, "getStatus"),
]


@pytest.mark.parametrize("case, edit, exercise, check, fragment", WRONG_SPECS, ids=[c[0] for c in WRONG_SPECS])
def test_wrong_spec_fails_the_right_check(tmp_path, case, edit, exercise, check, fragment):
    folder = make_submission(tmp_path, {SPEC: edit})
    assert_fails(grade(folder, exercise)[exercise], case, check, fragment)


def test_unsafe_tag_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    folder = make_submission(tmp_path / "s", {SPEC: ("openapi: 3.0.3\n", f"openapi: 3.0.3\nx: !!python/object/apply:os.mkdir ['{marker}']\n")})
    problems = failed(grade(folder, "headers-spec", "reusable-responses")["headers-spec"])
    assert problems[LOAD].startswith(f"{SPEC}:3:")  # the comment line, openapi:, then the tag
    assert not marker.exists()


def test_yaml_problem_names_line_and_column(tmp_path):
    folder = make_submission(tmp_path, {SPEC: "openapi: 3.0.3\ninfo:\n  title: [x\n"})
    message = failed(grade(folder, "headers-spec")["headers-spec"])[LOAD]
    assert message.startswith(f"{SPEC}:4:1:") or message.startswith(f"{SPEC}:3:")


def test_every_broken_ref_is_reported_at_once(tmp_path):
    edits = {SPEC: (RETRY_REF, RETRY_REF.replace("Retry-After'", "Nope1'"))}
    folder = make_submission(tmp_path, edits)
    spec = folder / SPEC
    spec.write_text(spec.read_text().replace("schemas/Problem'", "schemas/Nope2'"))
    message = failed(grade(folder, "headers-spec")["headers-spec"])[hs.REFS_RESOLVE]
    assert "Nope1" in message and "Nope2" in message
    assert message.count("leads nowhere") >= 3  # Nope1 once, Nope2 in the 200 and in the 503


def test_messages_point_at_the_yaml_line(tmp_path):
    folder = make_submission(tmp_path, {SPEC: (REF_503, "")})
    message = failed(grade(folder, "headers-spec")["headers-spec"])[hs.HAS_503]
    lines = (folder / SPEC).read_text().splitlines()
    line = int(message.split(":")[1])
    assert lines[line - 1].strip() == "responses:"


def test_starter_spec_fails_with_the_lesson_3_message():
    results = grade(STARTERS, "headers-spec", "reusable-responses")
    assert set(failed(results["headers-spec"])) == {hs.HAS_503}
    assert "See 03-Service-Unavailable.ipynb" in failed(results["headers-spec"])[hs.HAS_503]
    assert set(failed(results["reusable-responses"])) == {rr.COMPONENT_EXISTS, rr.STATUS_USES_REF}


LOCAL_HEADER = '''components:
  headers:
    RetryAfter:
      description: Seconds to wait.
      schema:
        type: integer
  responses:
'''

# (case, edit of the spec) — each must pass headers-spec and reusable-responses
RIGHT_SPECS = [
    ("solution", None),
    ("unquoted-503-key", ('        "503":\n', "        503:\n")),
    ("lowercase-header-name", (RETRY_REF, RETRY_REF.replace("        Retry-After:", "        retry-after:"))),
    ("inline-retry-after", (RETRY_REF, "        Retry-After:\n          description: seconds\n          schema: {type: integer, minimum: 0}\n")),
    ("local-header-ref", (RETRY_REF, "        Retry-After:\n          $ref: '#/components/headers/RetryAfter'\n")),
    ("seconds-or-date", (RETRY_REF, "        Retry-After:\n          schema:\n            oneOf:\n"
                                    "              - {type: integer, minimum: 0}\n              - {type: string}\n")),
    ("extra-503-headers", (RETRY_REF, RETRY_REF + "        X-Incident:\n          schema: {type: string}\n")),
    ("null-values", ("  version: \"1.0.0\"\n", "  version: \"1.0.0\"\n  x-note: null\n  x-list: [null, ~]\n")),
    ("flow-style-ref", (REF_503, "        \"503\": {$ref: '#/components/responses/503ServiceUnavailable'}\n")),
    ("component-is-the-shared-one", ("components:\n  responses:\n    503ServiceUnavailable:\n",
                                     "components:\n  responses:\n    503ServiceUnavailable:\n      $ref: "
                                     "'components.oas3.yaml#/components/responses/503ServiceUnavailable'\n"
                                     "    Unused:\n")),
]


@pytest.mark.parametrize("case, edit", RIGHT_SPECS, ids=[c[0] for c in RIGHT_SPECS])
def test_correct_spec_variants_pass(tmp_path, case, edit):
    folder = make_submission(tmp_path, {SPEC: edit} if edit else {})
    if case == "local-header-ref":
        spec = folder / SPEC
        spec.write_text(spec.read_text().replace("components:\n  responses:\n", LOCAL_HEADER))
    results = grade(folder, "headers-spec", "reusable-responses")
    for result in results.values():
        assert result.passed, f"{case}: {result}"


def test_openapi_31_is_valid_but_connexion_3_refuses_it(tmp_path):
    folder = make_submission(tmp_path, {SPEC: ("openapi: 3.0.3", "openapi: 3.1.0")})
    results = grade(folder, "headers-spec", "reusable-responses")
    assert results["headers-spec"].passed
    message = failed(results["reusable-responses"])[rr.CONNEXION_LOADS]
    assert "'3.1.0' does not match" in message and "Failed validating" not in message


def test_inline_503_passes_headers_spec(tmp_path):
    folder = make_submission(tmp_path, {SPEC: inline_503(header="retry-after")})
    assert grade(folder, "headers-spec")["headers-spec"].passed


def test_a_broken_shared_file_is_read_once_and_reported_by_every_spec_that_refers_to_it(tmp_path, monkeypatch):
    from checker import spec

    folder = make_submission(tmp_path)
    (folder / "oas3" / "components.oas3.yaml").write_text("components:\n  schemas: [unclosed\n")
    reads = []
    real = spec.load_yaml
    monkeypatch.setattr(spec, "load_yaml", lambda path, shown: reads.append(path.name) or real(path, shown))
    results = grade(folder, "headers-spec", "reusable-responses", "jobs-spec")
    for exercise in ("headers-spec", "jobs-spec"):
        messages = "\n".join(failed(results[exercise]).values())
        assert "oas3/components.oas3.yaml:3:1" in messages, (exercise, messages)
    assert reads.count("components.oas3.yaml") == 1
