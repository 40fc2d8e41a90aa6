"""What a check found, in a form learners read (text, HTML) and tools read (dict)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  #: terminal control characters, all but \t and \n


#: The word and colour of each verdict in HTML. Words, not emoji: without a colour-emoji font ✅ and ❌ are
#: the same empty box; and not colour alone, which not every reader tells apart.
VERDICTS = {True: ("PASS", "#1a7f37"), False: ("FAIL", "#cf222e")}
CODE_SPAN = re.compile(r"`([^`\n]+)`")


def printable(text: str) -> str:
    """Text safe to print on a teacher's terminal: learner code's control characters (a screen clear, a
    fake title, a carriage return over the score) are shown as escapes, never obeyed."""
    return CONTROL.sub(lambda found: repr(found.group())[1:-1], text)


def _html_with_code(text: str) -> str:
    """Escape text (learner text included) for HTML, with control characters shown as escapes and each
    `code` span set as <code>."""
    parts = CODE_SPAN.split(printable(text))  # prose, code, prose, code, ..., prose
    return "".join(f"<code>{html.escape(part)}</code>" if i % 2 else html.escape(part) for i, part in enumerate(parts))


def _verdict_badge(passed: bool) -> str:
    """A PASS or FAIL in white on green or red: readable in any font and theme, and without the colour."""
    word, colour = VERDICTS[passed]
    return (f"<span style='display:inline-block;min-width:2.8em;padding:0 0.3em;border-radius:3px;"
            f"background:{colour};color:#fff;font-weight:bold;text-align:center'>{word}</span>")


@dataclass
class Check:
    """One thing the checker looked at: its name, verdict and, when failed, what to do."""

    name: str
    passed: bool
    message: str = ""

    def __repr__(self) -> str:
        mark = "✓" if self.passed else "✗"
        text = f"{mark} {self.name}"
        if self.message:
            text += "\n" + "\n".join("    " + line for line in self.message.splitlines())
        return text


@dataclass
class ExerciseResult:
    """All checks of one exercise; it passes only when every check passes."""

    exercise_id: str
    title: str
    lesson: str
    points: int
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def score(self) -> int:
        return self.points if self.passed else 0

    def add(self, name: str, passed: bool, message: str = "", info: str = "") -> Check:
        """Record a check; `message` is shown when it fails, `info` when it passes."""
        check = Check(name, bool(passed), printable(info if passed else message))
        self.checks.append(check)
        return check

    @property
    def headline(self) -> str:
        failed = sum(not check.passed for check in self.checks)
        if self.passed:
            return f"{self.exercise_id}: all {len(self.checks)} checks passed"
        return f"{self.exercise_id}: {failed} of {len(self.checks)} checks failed (see {self.lesson})"

    def __repr__(self) -> str:
        return "\n".join([self.headline, *(repr(check) for check in self.checks)])

    __str__ = __repr__

    def _repr_html_(self) -> str:
        rows = []
        for check in self.checks:
            message = _html_with_code(check.message).replace("\n", "<br>")
            detail = f"<div style='margin:0.2em 0 0.4em 3.6em;white-space:pre-wrap'>{message}</div>" if message else ""
            verdict = _verdict_badge(check.passed)
            rows.append(f"<li style='list-style:none'>{verdict} {_html_with_code(check.name)}{detail}</li>")
        headline = f"<strong style='color:{VERDICTS[self.passed][1]}'>{_html_with_code(self.headline)}</strong>"
        return (
            f"<div>{_verdict_badge(self.passed)} {headline}"
            f"<ul style='padding-left:0.5em;margin-top:0.4em'>{''.join(rows)}</ul></div>"
        )

    def as_dict(self) -> dict:
        return {
            "passed": self.passed,
            "score": self.score,
            "max_score": self.points,
            "checks": [{"name": c.name, "passed": c.passed, "message": c.message} for c in self.checks],
        }
