"""Show an HTTP response the way it travels on the wire: status line, headers, blank line, body."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from http import HTTPStatus

import httpx

MAX_BODY_LINES = 12


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _pretty_body(content_type: str, body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            return text
    lines = text.splitlines()
    if len(lines) > MAX_BODY_LINES:
        hidden = len(lines) - MAX_BODY_LINES
        return "\n".join([*lines[:MAX_BODY_LINES], f"… ({hidden} more lines)"])
    return text


@dataclass
class HttpMessage:
    """A response as text; renders as plain text anywhere and as a <pre> block in Jupyter."""

    status: int
    headers: list[tuple[str, str]]
    body: str
    http_version: str = "HTTP/1.1"
    note: str = ""
    reason: str = field(default="")

    def __post_init__(self) -> None:
        self.reason = self.reason or _reason(self.status)

    @property
    def status_line(self) -> str:
        return f"{self.http_version} {self.status} {self.reason}".rstrip()

    def header(self, name: str) -> str | None:
        """Return the first value of header `name` (any case), or None."""
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def __str__(self) -> str:
        head = "\n".join([self.status_line, *(f"{k}: {v}" for k, v in self.headers)])
        text = f"{head}\n\n{self.body}".rstrip()
        return f"{self.note}\n\n{text}" if self.note else text

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.status < 400 else "#b35900" if self.status < 500 else "#cf222e"
        head = "\n".join(f"<b>{html.escape(k)}</b>: {html.escape(v)}" for k, v in self.headers)
        note = f"<p><em>{html.escape(self.note)}</em></p>" if self.note else ""
        return (
            f"{note}<pre><span style='color:{colour};font-weight:bold'>{html.escape(self.status_line)}</span>\n"
            f"{head}\n\n{html.escape(self.body)}</pre>"
        )


def show(response: httpx.Response, expect_status: int | None = None) -> HttpMessage:
    """Return `response` as an HttpMessage; note it when its status is not `expect_status`."""
    note = ""
    if expect_status is not None and response.status_code != expect_status:
        note = f"No {expect_status} response came back; this is the last response instead."
    return HttpMessage(
        status=response.status_code,
        reason=response.reason_phrase,
        http_version=response.http_version,
        headers=list(response.headers.multi_items()),
        body=_pretty_body(response.headers.get("content-type", ""), response.content),
        note=note,
    )
