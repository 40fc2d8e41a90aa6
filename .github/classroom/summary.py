"""Print the checker's --grade-json as a Markdown score table, for a GitHub Actions job summary.

    python .github/classroom/summary.py checker-grades.json >> "$GITHUB_STEP_SUMMARY"
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MISSING = ("The checker wrote no grades, so no score can be shown. Open the step "
           "\"Check every exercise\" above to see what went wrong.")


def cell(text: str) -> str:
    """Text that stays inside one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", "<br>")


def render(grades: dict) -> str:
    """A heading with the score, one row per exercise, and every failed check's message."""
    lines = [f"## Workbook score: {grades['score']}/{grades['max_score']}", "",
             "| exercise | points | result |", "| --- | ---: | --- |"]
    for exercise_id, exercise in grades["exercises"].items():
        failed = [check for check in exercise["checks"] if not check["passed"]]
        verdict = "passed" if exercise["passed"] else f"{len(failed)} of {len(exercise['checks'])} checks failed"
        lines.append(f"| `{exercise_id}` | {exercise['score']}/{exercise['max_score']} | {verdict} |")
    for exercise_id, exercise in grades["exercises"].items():
        failed = [check for check in exercise["checks"] if not check["passed"]]
        if failed:
            lines += ["", f"### {exercise_id}", ""]
            lines += [f"- ✗ **{cell(check['name'])}**: {cell(check['message'])}" for check in failed]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "checker-grades.json")
    try:
        grades = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        print(f"## Workbook score: unknown\n\n{MISSING}")
        return 0
    print(render(grades), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
