"""What a check found, in a form learners read (text, HTML) and tools read (dict)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  #: terminal control characters, all but \t and \n


def printable(text: str) -> str:
    """Text safe to print on a teacher's terminal: learner code's control characters (a screen clear, a
    fake title, a carriage return over the score) are shown as escapes, never obeyed."""
    return CONTROL.sub(lambda found: repr(found.group())[1:-1], text)


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
        colour = "#1a7f37" if self.passed else "#cf222e"
        rows = []
        for check in self.checks:
            mark = "✅" if check.passed else "❌"
            message = html.escape(check.message).replace("\n", "<br>")
            detail = f"<div style='margin-left:1.8em;white-space:pre-wrap'>{message}</div>" if message else ""
            rows.append(f"<li style='list-style:none'>{mark} {html.escape(check.name)}{detail}</li>")
        return (
            f"<div><strong style='color:{colour}'>{html.escape(self.headline)}</strong>"
            f"<ul style='padding-left:0.5em'>{''.join(rows)}</ul></div>"
        )

    def as_dict(self) -> dict:
        return {
            "passed": self.passed,
            "score": self.score,
            "max_score": self.points,
            "checks": [{"name": c.name, "passed": c.passed, "message": c.message} for c in self.checks],
        }
