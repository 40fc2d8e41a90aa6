"""Tests for labtools, the helpers the notebooks call: one section per module."""

from __future__ import annotations

import asyncio
import errno
import importlib.util
import json
import logging
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from labtools import asgi, net, plots, refs, sampling, wire
from connexion.exceptions import ResolverError

from labtools.app import forget_modules_in, load_app
from labtools.cli import ConnexionRun, connexion_run
from labtools.server import LiveServer, OneLineErrors, serve

SPEC = "oas3/ex-04-01-headers.yaml"
API = "oas3/api.py"


def write_api(folder: Path, title: str) -> None:
    """Give `folder`'s api.py a get_status answering 200 with `title`."""
    (folder / API).write_text(
        "from connexion import problem\n\n"
        "def get_status():\n"
        f"    return problem(status=200, title={title!r}, detail='test')\n"
    )


@pytest.fixture(autouse=True)
def _forget_learner_modules():
    """Every test imports its own `api`; never let one test's module leak into the next."""
    yield
    sys.modules.pop("api", None)


# --- net -------------------------------------------------------------------------------------


def test_bound_socket_holds_a_loopback_port_no_one_else_can_bind():
    with net.bound_socket() as held:
        host, port = held.getsockname()
        assert host == "127.0.0.1" and port > 0
        with socket.socket() as other, pytest.raises(OSError) as error:
            other.bind(("127.0.0.1", port))
        assert error.value.errno == errno.EADDRINUSE


def test_free_port_can_be_bound_right_away():
    port = net.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_wait_until_answering_times_out_when_nothing_listens():
    with pytest.raises(TimeoutError, match="Nothing answered"):
        net.wait_until_answering(f"http://127.0.0.1:{net.free_port()}/", timeout=0.3)


def test_requests_to_loopback_ignore_proxy_settings(solution_copy, monkeypatch):
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    with LiveServer(solution_copy / SPEC) as server:
        assert server.get().status_code in (200, 503)


def test_wait_until_answering_gives_up_when_the_server_is_gone():
    with pytest.raises(RuntimeError, match="stopped before"):
        net.wait_until_answering(f"http://127.0.0.1:{net.free_port()}/", still_starting=lambda: False)


# --- asgi ------------------------------------------------------------------------------------


async def teapot(scope, receive, send):
    """A tiny ASGI app: 418 with a JSON body, whatever the request."""
    await send({"type": "http.response.start", "status": 418, "headers": [(b"x-kind", b"teapot")]})
    await send({"type": "http.response.body", "body": b'{"short": "stout"}'})


def test_run_sync_works_inside_a_running_event_loop_like_jupyters():
    async def inside_a_loop():
        return asgi.run_sync(asgi.request(teapot, "GET", "/brew"))

    status, headers, body = asyncio.run(inside_a_loop())
    assert (status, headers["x-kind"], json.loads(body)) == (418, "teapot", {"short": "stout"})


def test_run_sync_raises_the_coroutines_own_error():
    async def broken():
        raise KeyError("lost")

    with pytest.raises(KeyError, match="lost"):
        asgi.run_sync(broken())


def test_statuses_sends_one_request_per_count():
    assert asgi.run_sync(asgi.statuses(teapot, 3)) == [418, 418, 418]


def test_startup_reports_a_failed_lifespan():
    async def refuses(scope, receive, send):
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    with pytest.raises(RuntimeError, match="no database"):
        asgi.startup(refuses)


# --- app -------------------------------------------------------------------------------------


def test_load_app_serves_the_starter_status(starter_copy):
    status, headers, body = asgi.run_sync(asgi.request(load_app(starter_copy / SPEC)))
    assert status == 200
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["title"] == "OK"


def test_load_app_reads_an_edit_saved_in_the_same_second(starter_copy):
    write_api(starter_copy, "one")
    load_app(starter_copy / SPEC)
    write_api(starter_copy, "two")  # same size, same mtime second: stale bytecode would win
    _, _, body = asgi.run_sync(asgi.request(load_app(starter_copy / SPEC)))
    assert json.loads(body)["title"] == "two"


def test_load_app_prefers_the_api_next_to_the_spec(starter_copy, solution_copy):
    write_api(solution_copy, "solution")
    write_api(starter_copy, "starter")
    load_app(solution_copy / SPEC)
    _, _, body = asgi.run_sync(asgi.request(load_app(starter_copy / SPEC)))
    assert json.loads(body)["title"] == "starter"


def test_load_app_fails_at_once_when_the_operation_id_has_no_function(starter_copy):
    (starter_copy / API).write_text("def get_status2():\n    return {}\n")
    with pytest.raises(ResolverError, match="operationId in ex-04-01-headers.yaml .*'api' has no attribute 'get_status'"):
        load_app(starter_copy / SPEC)


def test_load_app_names_a_missing_spec(tmp_path):
    with pytest.raises(FileNotFoundError, match="No OpenAPI file"):
        load_app(tmp_path / "nowhere.yaml")


def test_forget_modules_in_drops_only_that_folders_modules(starter_copy):
    load_app(starter_copy / SPEC)
    assert "api" in sys.modules
    assert forget_modules_in(starter_copy / "oas3") == ["api"]
    assert "api" not in sys.modules and "json" in sys.modules


# --- server ----------------------------------------------------------------------------------


def test_serve_answers_real_http_and_frees_the_port_when_stopped(solution_copy):
    with LiveServer(solution_copy / SPEC) as server:
        assert server.url.startswith("http://127.0.0.1:")
        response = server.get("/status")
        assert response.status_code in (200, 503)
        assert response.headers["cache-control"] == "no-store"
        url = server.url
    assert "stopped" in repr(server)
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/status", timeout=2)


def test_start_again_serves_the_edited_api(starter_copy):
    server = LiveServer(starter_copy / SPEC).start()
    try:
        assert server.get().json()["title"] == "OK"
        write_api(starter_copy, "Edited")
        server.start()
        assert server.get().json()["title"] == "Edited"
    finally:
        server.stop()


def test_serve_and_sample_request_below_the_specs_base_path(solution_copy):
    spec = solution_copy / SPEC
    spec.write_text(spec.read_text().replace("paths:", "servers:\n  - url: /datetime/v1\npaths:", 1))
    with LiveServer(spec) as server:
        assert server.url.endswith("/datetime/v1")
        assert server.get("/status").status_code in (200, 503)
    assert set(sampling.sample_statuses(load_app(spec), 20)) <= {200, 503}


def test_first_finds_a_rare_status(solution_copy):
    with LiveServer(solution_copy / SPEC) as server:
        response = server.first(503, tries=200)
    assert response.status_code == 503
    assert response.headers["retry-after"].isdigit()


def test_first_returns_the_last_response_when_the_status_never_comes(starter_copy):
    with LiveServer(starter_copy / SPEC) as server:
        assert server.first(503, tries=3).status_code == 200


def test_serve_again_stops_the_server_it_started_before_for_that_spec(starter_copy):
    first = serve(starter_copy / SPEC)
    second = serve(starter_copy / SPEC)
    try:
        assert not first.running and second.running
        assert second.get().status_code == 200
    finally:
        second.stop()


NOTEBOOK_10_BROKEN = """\
import labtools
from labtools.services import LogLines
log_lines = LogLines("services_api")
server = labtools.serve("oas3/ex-09-01-services.yaml", configure="services_api")
print(server.get("/products/teapot-42/broken").status_code)
server.stop()
"""


def test_a_crashing_handler_logs_one_short_line_not_a_traceback(starter_copy):
    """Lesson 10's cells on the starter: its planted bug answers 500, and stderr (red in the notebook) says
    in one line what was raised where, with none of connexion's frames."""
    result = subprocess.run(
        [sys.executable, "-c", NOTEBOOK_10_BROKEN], cwd=starter_copy, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["500"]
    source = (starter_copy / "oas3/services_api.py").read_text().splitlines()
    line = next(number for number, text in enumerate(source, 1) if 'settings["discount"]' in text)
    assert "Traceback" not in result.stderr and "site-packages" not in result.stderr, result.stderr
    assert result.stderr.strip() == (
        f"connexion answered 500: the handler raised KeyError: 'discount' (services_api.py line {line})"
    )


def test_one_line_errors_names_the_learner_line_even_under_a_library_error(tmp_path):
    """An exception raised in a library while handling the learner's is placed at the learner's line."""
    (tmp_path / "learner_code.py").write_text("def handler():\n    return 1 / 0\n")
    spec = importlib.util.spec_from_file_location("learner_code", tmp_path / "learner_code.py")
    learner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(learner)
    try:
        try:
            learner.handler()
        except ZeroDivisionError:
            raise TypeError("'coroutine' object is not callable")  # what connexion does then
    except TypeError as error:
        caught = error
    record = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application",
                               (), (TypeError, caught, caught.__traceback__))
    shorten = OneLineErrors("the server answered 500")
    shorten.folders.add(tmp_path.resolve())
    assert shorten.filter(record) and record.exc_info is None
    assert record.getMessage() == (
        "the server answered 500: the handler raised ZeroDivisionError: division by zero (learner_code.py line 2)"
    )
    outside = OneLineErrors("connexion answered 500")  # no learner folder: the exception, no place
    assert outside.describe(caught) == "the handler raised TypeError: 'coroutine' object is not callable"


def test_get_on_a_stopped_server_says_how_to_start_it(starter_copy):
    with pytest.raises(RuntimeError, match="start"):
        LiveServer(starter_copy / SPEC).get()


# --- cli -------------------------------------------------------------------------------------


def test_connexion_run_serves_and_a_rerun_replaces_the_previous_process(starter_copy, monkeypatch):
    monkeypatch.chdir(starter_copy)  # connexion run watches its working folder for changes
    first = connexion_run(SPEC)
    assert first.command == f"connexion run {SPEC} --port {first.port}"
    assert first.get("/status").json()["title"] == "OK"
    ui = first.get("/ui/")
    assert ui.status_code == 200 and "Swagger UI" in ui.text
    second = connexion_run(SPEC)  # what re-running the notebook cell does
    try:
        assert not first.running and first.stop() == 0
        assert "Uvicorn running on" in first.output
        assert second.get("/status").status_code == 200
    finally:
        assert second.stop() == 0


def test_connexion_run_does_not_outlive_python(starter_copy):
    started = "from labtools.cli import connexion_run; print(connexion_run('oas3/ex-04-01-headers.yaml').url)"
    result = subprocess.run(
        [sys.executable, "-c", started], cwd=starter_copy, capture_output=True, text=True, timeout=120, check=True
    )
    with pytest.raises(httpx.ConnectError):
        httpx.get(result.stdout.strip() + "/status", timeout=2)


def test_connexion_run_shows_why_a_bad_operation_id_fails(starter_copy, monkeypatch):
    monkeypatch.chdir(starter_copy)
    spec = starter_copy / SPEC
    spec.write_text(spec.read_text().replace("api.get_status", "api.get_state"))
    with pytest.raises(RuntimeError, match="fails every request:\n    .*ResolverError: module 'api' has no attribute 'get_state'"):
        ConnexionRun(SPEC).start()


def test_connexion_run_shows_why_a_broken_ref_fails(starter_copy, monkeypatch):
    monkeypatch.chdir(starter_copy)
    spec = starter_copy / SPEC
    spec.write_text(spec.read_text().replace("schemas/Problem", "schemas/Nope"))
    with pytest.raises(RuntimeError, match="(?s)did not start.*Nope"):
        ConnexionRun(SPEC).start()


# --- wire ------------------------------------------------------------------------------------


def problem_response(status: int, **headers: str) -> httpx.Response:
    body = {"type": "about:blank", "title": "Service Unavailable", "status": status}
    return httpx.Response(status, headers={"content-type": "application/problem+json", **headers}, json=body)


def test_show_writes_status_line_headers_blank_line_and_pretty_json():
    text = str(wire.show(problem_response(503, **{"retry-after": "5"})))
    head, body = text.split("\n\n", 1)
    assert head.splitlines()[0] == "HTTP/1.1 503 Service Unavailable"
    assert "retry-after: 5" in head.splitlines()
    assert body.splitlines()[1] == '  "type": "about:blank",'
    assert json.loads(body)["status"] == 503


def test_show_notes_when_the_expected_status_never_came():
    message = wire.show(httpx.Response(200, text="fine"), expect_status=503)
    assert str(message).startswith("No 503 response came back")
    assert wire.show(problem_response(503), expect_status=503).note == ""


def test_show_cuts_long_non_json_bodies():
    html_page = "\n".join(f"<p>{n}</p>" for n in range(40))
    body = str(wire.show(httpx.Response(200, headers={"content-type": "text/html"}, text=html_page))).split("\n\n")[1]
    assert body.splitlines()[-1] == f"… ({40 - wire.MAX_BODY_LINES} more lines)"


def test_show_escapes_html_in_notebooks():
    rendered = wire.show(httpx.Response(200, headers={"x-note": "<b>"}, text="<script>"))._repr_html_()
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered and "&lt;b&gt;" in rendered


# --- sampling --------------------------------------------------------------------------------


def test_sample_statuses_repeats_with_a_seed_and_lands_near_20_percent(solution_copy):
    app = load_app(solution_copy / SPEC)
    first = sampling.sample_statuses(app, 1000, seed=7)
    assert sampling.sample_statuses(app, 1000, seed=7) == first
    share = sampling.shares(first)[503]
    assert 0.17 < share < 0.23  # seeded, so exact; the bounds say what it means (20% ± 2.4 SE)


def test_shares_gives_each_codes_fraction():
    assert sampling.shares([200, 503, 200, 200]) == {200: 0.75, 503: 0.25}


# --- plots -----------------------------------------------------------------------------------


def test_plot_share_draws_the_running_share_and_the_expected_line():
    chart = plots.plot_share([503, 200, 200, 200], status=503, expected=0.2)
    assert chart.running_share.tolist() == [1.0, 0.5, pytest.approx(1 / 3), 0.25]
    share_line, expected_line = chart.figure.axes[0].get_lines()
    assert share_line.get_ydata().tolist()[-1] == 25.0
    assert set(expected_line.get_ydata()) == {20.0}
    assert repr(chart) == "503 share after 4 requests: 25.0% (expected 20%)"
    assert chart._repr_png_().startswith(b"\x89PNG")


def test_plot_share_of_no_503_stays_at_zero():
    chart = plots.plot_share([200] * 50)
    assert chart.final_share == 0.0 and chart.figure.axes[0].get_ylim() == (0.0, 50.0)


# --- refs ------------------------------------------------------------------------------------

INLINE_503 = {
    "description": "The service is temporarily unavailable. Retry after the number of\n"
    "seconds given in the Retry-After header.",
    "headers": {
        "Retry-After": {"$ref": "components.oas3.yaml#/components/headers/Retry-After"},
        "Cache-Control": {"$ref": "components.oas3.yaml#/components/headers/Cache-Control"},
    },
    "content": {
        "application/problem+json": {"schema": {"$ref": "components.oas3.yaml#/components/schemas/Problem"}}
    },
}


def lesson_3_form(solution_copy: Path) -> Path:
    """Write the solution with its 503 inline under /status, as it stood after lesson 3."""
    document = refs.load(solution_copy / SPEC)
    document["paths"]["/status"]["get"]["responses"]["503"] = INLINE_503
    del document["components"]
    path = solution_copy / "oas3" / "lesson-3.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_resolve_follows_local_refs_then_external_ones(solution_copy):
    responses = refs.operation_responses(refs.resolve(solution_copy / SPEC))
    retry_after = responses["503"]["headers"]["Retry-After"]
    assert retry_after["schema"] == {"type": "integer", "minimum": 0, "example": 5}
    assert "$ref" not in json.dumps(responses)


def test_resolve_looks_up_local_refs_in_the_file_that_holds_them(starter_copy):
    # The shared 503 refers to '#/components/headers/...' of components.oas3.yaml, not of the main file.
    spec = starter_copy / SPEC
    document = refs.load(spec)
    document["paths"]["/status"]["get"]["responses"]["503"] = {
        "$ref": "components.oas3.yaml#/components/responses/503ServiceUnavailable"
    }
    spec.write_text(yaml.safe_dump(document))
    headers = refs.operation_responses(refs.resolve(spec))["503"]["headers"]
    assert headers["Retry-After"]["schema"]["type"] == "integer"


def test_resolve_agrees_with_connexion(solution_copy):
    from connexion.spec import Specification

    connexion_view = Specification.load(str((solution_copy / SPEC).resolve())).spec
    assert refs.resolve(solution_copy / SPEC)["paths"] == connexion_view["paths"]


def test_inline_and_reusable_503_are_semantically_equivalent(solution_copy):
    inline = refs.operation_responses(refs.resolve(lesson_3_form(solution_copy)))
    reusable = refs.operation_responses(refs.resolve(solution_copy / SPEC))
    assert refs.load(lesson_3_form(solution_copy)) != refs.load(solution_copy / SPEC)
    comparison = refs.compare(inline, reusable)
    assert comparison and comparison.differences == []
    assert repr(comparison).startswith("Semantically equivalent")


def test_compare_names_each_place_that_differs(solution_copy):
    before = refs.operation_responses(refs.resolve(solution_copy / SPEC))
    after = refs.operation_responses(refs.resolve(solution_copy / SPEC))
    after["503"]["headers"]["Retry-After"]["schema"]["type"] = "string"
    del after["503"]["headers"]["Cache-Control"]
    comparison = refs.compare(before, after)
    assert not comparison
    assert [d.where for d in comparison.differences] == [
        "/503/headers/Cache-Control",
        "/503/headers/Retry-After/schema/type",
    ]
    assert str(comparison.differences[1]) == '/503/headers/Retry-After/schema/type: "integer" → "string"'
    assert "(missing)" in str(comparison.differences[0])
    assert "✘ Different in 2 place(s)" in comparison._repr_html_()


FIX_AND_RERUN = "then save the file and run this cell again."


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        (
            "missing.yaml#/components/schemas/Problem",
            "names missing.yaml, but no such file is next to ex-04-01-headers.yaml; check the file name before `#`",
        ),
        (
            "components.oas3.yaml#/components/schemas/Nope",
            "points at nothing, as components.oas3.yaml has no `Nope` under `#/components/schemas`;"
            " check the spelling and the indentation of each name after `#`",
        ),
        (
            "#/components/schemas/Problem",
            "points at nothing, as ex-04-01-headers.yaml has no `components` at its top level;"
            " check the spelling and the indentation of each name after `#`",
        ),
    ],
    ids=["missing-file", "missing-key", "missing-local-key"],
)
def test_a_broken_ref_is_one_sentence_with_its_file_line_and_fix(starter_copy, ref, message):
    spec = starter_copy / SPEC
    text = spec.read_text()
    line = text[: text.index("components.oas3.yaml#/components/schemas/Problem")].count("\n") + 1
    spec.write_text(text.replace("components.oas3.yaml#/components/schemas/Problem", ref))
    with pytest.raises(refs.RefError) as error:
        refs.resolve(spec)
    assert str(error.value) == f"ex-04-01-headers.yaml, line {line}: `$ref: {ref}` {message}, {FIX_AND_RERUN}"


def test_a_file_is_named_as_the_notebook_wrote_it(starter_copy, monkeypatch):
    monkeypatch.chdir(starter_copy)  # a notebook's working directory
    spec = starter_copy / SPEC
    spec.write_text(spec.read_text().replace("schemas/Problem", "schemas/Nope"))
    with pytest.raises(refs.RefError, match=r"^oas3/ex-04-01-headers\.yaml, line \d+: `\$ref: "):
        refs.resolve(SPEC)


@pytest.mark.parametrize("broken", ["spec", "components"])
def test_a_file_that_is_not_yaml_is_named_with_its_line_and_column(starter_copy, broken):
    target = starter_copy / (SPEC if broken == "spec" else "oas3/components.oas3.yaml")
    target.write_text(target.read_text().replace("openapi:", "openapi: x:", 1) if broken == "spec"
                      else "components:\n  schemas:\n    Problem: {type: object\n")
    with pytest.raises(refs.SpecError) as error:
        refs.resolve(starter_copy / SPEC)
    assert re.fullmatch(
        rf"{target.name}, line \d+, column \d+, is not valid YAML \([^)]+\); check the indentation and the `:`"
        rf" on that line and the one above, {FIX_AND_RERUN}",
        str(error.value),
    ), str(error.value)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("oas3/no-such.yaml", "There is no file oas3/no-such.yaml; check its name and folder in this cell"
                              " (a path starts from the notebook's folder)."),
        ("oas3", "oas3 is a folder; name a file in it in this cell."),
    ],
)
def test_a_spec_that_is_not_a_file_is_one_sentence(starter_copy, monkeypatch, path, message):
    monkeypatch.chdir(starter_copy)
    for helper in (refs.load, refs.resolve):
        with pytest.raises(refs.SpecError) as error:
            helper(path)
        assert str(error.value) == message


def test_a_ref_loop_is_reported_instead_of_recursing_forever(tmp_path):
    spec = tmp_path / "loop.yaml"
    spec.write_text("a: {$ref: '#/b'}\nb: {$ref: '#/a'}\n")
    with pytest.raises(refs.RefError, match=r"^loop\.yaml, line \d: `\$ref: #/\w` leads back to itself"):
        refs.resolve(spec)


def test_a_notebook_shows_a_spec_error_as_its_sentence_alone():
    """IPython prints what _render_traceback_ returns instead of the frames of labtools."""
    error = refs.RefError("oas3/x.yaml, line 3: `$ref: #/a` leads back to itself; fix it.")
    assert error._render_traceback_() == [str(error)]


@pytest.mark.parametrize("document", [None, [], {"paths": []}, {"paths": {"/status": None}}])
def test_operation_responses_of_a_document_without_them_is_empty(document):
    assert refs.operation_responses(document) == {}


def test_as_yaml_writes_multiline_text_as_a_block_and_says_when_empty():
    text = refs.as_yaml({"description": "two\nlines", "n": 1})
    assert text == "description: |-\n  two\n  lines\nn: 1\n"
    assert repr(text) == str(text)
    assert refs.as_yaml({}) == refs.as_yaml(None) == "# (nothing here yet)\n"
