"""Tests for checker/results.py: what a learner reads after check(), as text and as HTML in a notebook."""

from __future__ import annotations

import re

import pytest

from checker.results import VERDICTS, ExerciseResult

PASS_COLOUR, FAIL_COLOUR = VERDICTS[True][1], VERDICTS[False][1]


def result_with(*checks: tuple[str, bool, str]) -> ExerciseResult:
    """An exercise result holding the given (name, passed, message) checks."""
    result = ExerciseResult("headers-spec", "Headers", "03-Service-Unavailable.ipynb", 2)
    for name, passed, message in checks:
        result.add(name, passed, message, info=message)
    return result


def badges(html: str) -> list[tuple[str, str]]:
    """Return (colour, word) of every verdict badge, in order."""
    return re.findall(r"<span style='[^']*background:(#[0-9a-f]{6})[^']*'>(PASS|FAIL)</span>", html)


def test_every_check_says_pass_or_fail_in_words_on_its_colour():
    html = result_with(("loads as YAML", True, ""), ("declares a 503", False, "add one"))._repr_html_()
    assert badges(html) == [(FAIL_COLOUR, "FAIL"), (PASS_COLOUR, "PASS"), (FAIL_COLOUR, "FAIL")]  # headline first
    assert "✅" not in html and "❌" not in html  # without a colour-emoji font both are the same box


def test_a_passed_exercise_has_a_green_pass_headline():
    html = result_with(("loads as YAML", True, ""))._repr_html_()
    assert badges(html) == [(PASS_COLOUR, "PASS"), (PASS_COLOUR, "PASS")]
    assert f"<strong style='color:{PASS_COLOUR}'>headers-spec: all 1 checks passed</strong>" in html


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("Add `Retry-After` under `headers:`.", "Add <code>Retry-After</code> under <code>headers:</code>."),
        ("`$ref: '#/a'` leads nowhere", "<code>$ref: &#x27;#/a&#x27;</code> leads nowhere"),
        ("one ` backtick stays as written", "one ` backtick stays as written"),
        ("`a\nb` is not a span across lines", "`a<br>b` is not a span across lines"),
    ],
)
def test_backticks_become_code(message, shown):
    assert shown in result_with(("check", False, message))._repr_html_()


@pytest.mark.parametrize(
    ("learner_text", "shown"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("`<img src=x onerror=alert(1)>`", "<code>&lt;img src=x onerror=alert(1)&gt;</code>"),
        ("a & b", "a &amp; b"),
        ("\x1b[2J\rscore: 27/27", "\\x1b[2J\\rscore: 27/27"),  # control characters are shown, never obeyed
    ],
)
def test_learner_text_is_escaped_in_messages_and_names(learner_text, shown):
    html = result_with((f"title {learner_text}", False, f"found {learner_text}"))._repr_html_()
    assert f"title {shown}" in html and f"found {shown}" in html
    assert "<script>" not in html and "<img" not in html and "\x1b" not in html and "\r" not in html


def test_plain_text_keeps_its_marks_and_backticks():
    result = result_with(("loads as YAML", True, ""), ("declares a 503", False, "Add `Retry-After`.\nThen save."))
    assert repr(result) == (
        "headers-spec: 1 of 2 checks failed (see 03-Service-Unavailable.ipynb)\n"
        "✓ loads as YAML\n"
        "✗ declares a 503\n"
        "    Add `Retry-After`.\n"
        "    Then save."
    )
