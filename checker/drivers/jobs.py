"""Driver: the life of thumbnail jobs on a fake clock, so minutes pass without waiting.

The learner's module reads the time through a module-level `clock`; the shim swaps it for
a clock the parent sets before each request (as for `rate-limit`). Times are seconds after
T0, when three jobs are submitted, each with a fresh Idempotency-Key:

    post-ok, post-terminal, post-retryable   +0    POST /jobs, https://example.com/, https://nowhere.invalid/,
                                                  https://down.test/            -> 202, Location, Retry-After
    ok-new                                   +1.5  GET the ok job's Location   -> 200, state new
    ok-in-progress                           +5.5                               -> 200, state in progress
    ok-ready, ok-thumbnail                   +20   -> 303 with Location, and that Location -> 200
    terminal-failed, retryable-failed        +20   -> 200, state error, error.retryable false / true
    unknown-job, unknown-thumbnail           +20   /jobs/<no such id>, /thumbnails/<no such id> -> 404
    ok-still-ready                           +300  -> 303
    ok-expired, ok-thumbnail-expired,
    terminal-expired                         +700  -> 410

No request sits on a boundary of the lesson's timeline (2 s, 10 s, 610 s). Each answer is a
`response` event with its `step` and fake time `at`; Locations the driver could not follow are
`unfollowed` events. The exercise module judges them.
"""

from __future__ import annotations

import json
from urllib.parse import urljoin, urlsplit

from checker.worker import build_app, send

T0 = 1_000_000.0  #: far beyond any machine's monotonic clock, so a clock the learner reads directly stands out
URLS = {"ok": "https://example.com/", "terminal": "https://nowhere.invalid/", "retryable": "https://down.test/"}
UNKNOWN_ID = "no-such-job-3f9c"


def key(number: int) -> str:
    """A fresh Idempotency-Key, a Structured Field String as the draft defines it."""
    return f'"checker-{number:04d}-5b7e2c1a"'


def location(answer: dict, path: str) -> str | None:
    """The path a response's Location leads to, resolved against the request's path (RFC 9110 §10.2.2)."""
    values = [v for k, v in answer["headers"] if k.lower() == "location"]
    if len(values) != 1 or not values[0].strip():
        return None
    parts = urlsplit(urljoin("http://localhost" + path, values[0].strip()))
    if parts.scheme not in ("http", "https") or not parts.path.startswith("/"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


class Player:
    """Send the script's requests in order, numbering them and setting the clock for each."""

    def __init__(self, shim, events, base: str):
        self.shim, self.events, self.base = shim, events, base
        self.number = 0
        self.alive = True

    def send(self, step: str, at: float, method: str, path: str, body: dict | None = None,
             headers: dict | None = None) -> dict | None:
        if not self.alive:
            return None
        self.number += 1
        request = {"method": method, "path": path, "now": T0 + at, "headers": dict(headers or {}),
                   "body": json.dumps(body) if body is not None else ""}
        if body is not None:
            request["headers"]["content-type"] = "application/json"
        answers = send(self.shim, self.events, [request], first=self.number, step=step, at=at, method=method,
                       path=path)
        if not answers:
            self.alive = False
            return None
        return answers[0]


def run(shim, events, module: str, specs: list) -> None:
    """Build the app with the parent's clock, and play the script (see the module docstring)."""
    base = build_app(shim, events, specs, module, clock=True, catch_errors=True)
    if base is not None:
        play(Player(shim, events, base), events)


def play(player: Player, events) -> None:
    jobs, number = {}, 0
    for name, url in URLS.items():
        number += 1
        answer = player.send(f"post-{name}", 0.0, "POST", player.base + "/jobs", {"url": url},
                             {"Idempotency-Key": key(number)})
        if answer is None:
            return
        jobs[name] = location(answer, player.base + "/jobs")
        if jobs[name] is None:
            events("unfollowed", step=f"post-{name}", status=answer["status"])
    ok, terminal, retryable = jobs["ok"], jobs["terminal"], jobs["retryable"]
    if ok:
        player.send("ok-new", 1.5, "GET", ok)
        player.send("ok-in-progress", 5.5, "GET", ok)
    thumbnail = None
    if ok:
        ready = player.send("ok-ready", 20.0, "GET", ok)
        if ready is not None and ready["status"] == 303:
            thumbnail = location(ready, ok)
            if thumbnail is None:
                events("unfollowed", step="ok-ready", status=303)
            else:
                player.send("ok-thumbnail", 20.0, "GET", thumbnail)
    if terminal:
        player.send("terminal-failed", 20.0, "GET", terminal)
    if retryable:
        player.send("retryable-failed", 20.0, "GET", retryable)
    player.send("unknown-job", 20.0, "GET", f"{player.base}/jobs/{UNKNOWN_ID}")
    player.send("unknown-thumbnail", 20.0, "GET", f"{player.base}/thumbnails/{UNKNOWN_ID}")
    if ok:
        player.send("ok-still-ready", 300.0, "GET", ok)
        player.send("ok-expired", 700.0, "GET", ok)
    if thumbnail:
        player.send("ok-thumbnail-expired", 700.0, "GET", thumbnail)
    if terminal:
        player.send("terminal-expired", 700.0, "GET", terminal)
