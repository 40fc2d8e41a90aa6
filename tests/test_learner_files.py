"""The learner's oas3/ files, starter and solution: valid, as the lessons describe, and servable.

The checker grades these same files; here we hold them to the contract the lessons and the
checker share, and run them with `connexion run` exactly as lesson 1 tells learners to.
"""

from __future__ import annotations

import importlib.util
import json
import random
import shutil
import sys
from pathlib import Path

import pytest
from connexion.cli import parser as connexion_cli
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from labtools import refs
from labtools.cli import ConnexionRun

REPO = Path(__file__).resolve().parent.parent
SPEC = "oas3/ex-04-01-headers.yaml"
COMPONENTS = "oas3/components.oas3.yaml"
API = "oas3/api.py"
STARTER = REPO / "notebooks"
SOLUTION = REPO / "solutions"


def import_api(folder: Path):
    """Import `folder`/oas3/api.py under a private name, so no test sees another's module."""
    spec = importlib.util.spec_from_file_location(f"api_under_test_{abs(hash(folder))}", folder / API)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def status_operation(folder: Path) -> dict:
    return refs.load(folder / SPEC)["paths"]["/status"]["get"]


# --- every file is valid OpenAPI 3 ------------------------------------------------------------


@pytest.mark.parametrize("path", [STARTER / SPEC, STARTER / COMPONENTS, SOLUTION / SPEC, SOLUTION / COMPONENTS])
def test_file_is_valid_openapi_3_0_3_with_its_external_refs(path):
    document, base_uri = read_from_filename(str(path))
    validate(document, base_uri=base_uri)  # raises with the first problem it finds
    assert document["openapi"] == "3.0.3"
    refs.resolve(path)  # every $ref, local and external, leads somewhere


def test_starter_and_solution_share_the_same_components_file():
    assert (STARTER / COMPONENTS).read_text() == (SOLUTION / COMPONENTS).read_text()


# --- the shared components -------------------------------------------------------------------


def test_components_file_serves_nothing_itself():
    assert refs.load(STARTER / COMPONENTS)["paths"] == {}


def test_retry_after_header_is_delay_seconds_and_cites_rfc_9110():
    header = refs.load(STARTER / COMPONENTS)["components"]["headers"]["Retry-After"]
    assert header["schema"]["type"] == "integer" and header["schema"]["minimum"] == 0
    assert "RFC 9110" in header["description"] and "10.2.3" in header["description"]
    assert "delay-seconds" in header["description"] and "HTTP-date" in header["description"]


def test_problem_schema_has_the_rfc_9457_members():
    problem = refs.load(STARTER / COMPONENTS)["components"]["schemas"]["Problem"]
    members = problem["properties"]
    assert list(members) == ["type", "title", "status", "detail", "instance"]
    assert members["type"]["format"] == "uri-reference" and members["type"]["default"] == "about:blank"
    assert members["instance"]["format"] == "uri-reference"
    assert (members["status"]["minimum"], members["status"]["maximum"]) == (100, 599)
    assert members["title"]["type"] == members["detail"]["type"] == "string"
    assert problem.get("additionalProperties", True) is not False  # extension members are allowed


def test_shared_503_response_declares_retry_after_and_cache_control():
    response = refs.resolve(STARTER / COMPONENTS)["components"]["responses"]["503ServiceUnavailable"]
    assert set(response["headers"]) == {"Retry-After", "Cache-Control"}
    assert list(response["content"]) == ["application/problem+json"]


# --- the starter: lesson 2's state -----------------------------------------------------------


def test_starter_spec_has_only_a_200_problem_response_for_api_get_status():
    operation = status_operation(STARTER)
    assert operation["operationId"] == "api.get_status"
    assert list(operation["responses"]) == ["200"]
    assert list(operation["responses"]["200"]["content"]) == ["application/problem+json"]
    assert "parameters" not in operation and "security" not in operation  # a heartbeat needs neither


def test_starter_get_status_answers_ok_without_extra_headers():
    response = import_api(STARTER).get_status()
    assert response.status_code == 200
    assert response.content_type == "application/problem+json"
    assert set(response.headers) == {"Content-Type"}
    assert json.loads(response.body) == {
        "type": "about:blank",
        "title": "OK",
        "detail": "So far so good.",
        "status": 200,
    }


# --- the solution: lesson 4's state ----------------------------------------------------------


def test_solution_status_503_is_the_local_reusable_response():
    operation = status_operation(SOLUTION)
    assert operation["responses"]["503"] == {"$ref": "#/components/responses/503ServiceUnavailable"}
    assert "503ServiceUnavailable" in refs.load(SOLUTION / SPEC)["components"]["responses"]


def test_solution_declares_the_headers_each_response_carries():
    responses = refs.operation_responses(refs.resolve(SOLUTION / SPEC))
    assert set(responses["200"]["headers"]) == {"Cache-Control"}
    assert set(responses["503"]["headers"]) == {"Retry-After", "Cache-Control"}
    assert responses["503"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    for code in ("200", "503"):
        assert list(responses[code]["content"]) == ["application/problem+json"]


def test_solution_refuses_about_one_request_in_five():
    api = import_api(SOLUTION)
    random.seed(2024)
    codes = [api.get_status().status_code for _ in range(4000)]
    assert set(codes) == {200, 503}
    assert 0.18 < codes.count(503) / len(codes) < 0.22  # seeded, so exact; bounds are 20% ± 3 SE


def test_solution_sends_no_store_on_every_response_and_retry_after_on_each_503():
    api = import_api(SOLUTION)
    random.seed(1)
    for _ in range(300):
        response = api.get_status()
        body = json.loads(response.body)
        assert response.headers["Cache-Control"] == "no-store"
        assert response.content_type == "application/problem+json"
        assert body["status"] == response.status_code and body["title"]
        if response.status_code == 503:
            assert response.headers["Retry-After"].isdigit()
        else:
            assert "Retry-After" not in response.headers


@pytest.mark.parametrize("roll", [0.0, 0.05, 0.19])
def test_solution_retry_after_does_not_depend_on_the_dice_roll(monkeypatch, roll):
    # The original workshop's code reused its random number as the delay; the fix keeps them apart.
    api = import_api(SOLUTION)
    monkeypatch.setattr(api.random, "random", lambda: roll)
    response = api.get_status()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(api.RETRY_AFTER_SECONDS)


# --- `connexion run`, as lesson 1 tells learners ---------------------------------------------


def connexion_script() -> list[str]:
    """The venv's `connexion` console script: what a learner's terminal runs."""
    found = shutil.which("connexion", path=str(Path(sys.executable).parent))
    assert found, "the connexion console script is missing from the environment"
    return [found]


def test_connexion_run_defaults_to_the_port_lesson_1_names():
    args = connexion_cli.parse_args(["run", SPEC])
    assert (args.port, args.host) == (5000, "127.0.0.1")


@pytest.mark.parametrize("state", ["starter", "solution"])
def test_connexion_run_serves_status_and_swagger_ui(state, request, monkeypatch):
    folder = request.getfixturevalue(f"{state}_copy")
    monkeypatch.chdir(folder)  # the lesson's terminal is in notebooks/, next to oas3/
    with ConnexionRun(SPEC, program=connexion_script()) as run:
        status = run.get("/status")
        assert status.status_code in ((200,) if state == "starter" else (200, 503))
        assert status.headers["content-type"] == "application/problem+json"
        assert status.json()["status"] == status.status_code
        ui = run.get("/ui/")
        assert ui.status_code == 200 and "<title>Swagger UI</title>" in ui.text
        served = run.get("/openapi.json").json()
        assert served["paths"]["/status"]["get"]["operationId"] == "api.get_status"
    assert run.stop() == 0
