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


# -- idempotency-key: the same POST again, with and without its key ---------------------------

HOOK = "enqueue"  #: the module's function create_job() hands each new job to, once
MAX_ENQUEUED = 20  #: enqueue() calls one request may make before the parent stops it
BODY, OTHER_BODY = {"url": "https://example.com/a"}, {"url": "https://example.com/b"}
DAY = 86400

#: (step, seconds after T0, key or None, body, send the same request again while the first is in enqueue())
KEY_SCRIPT = (
    ("k-missing", 0.0, None, BODY, False),
    ("k-first", 1.0, "A", BODY, False),
    ("k-replay", 2.0, "A", BODY, False),
    ("k-other-body", 3.0, "A", OTHER_BODY, False),
    ("k-new-key", 4.0, "C", BODY, False),
    ("k-held", 5.0, "B", BODY, True),
    ("k-after-held", 6.0, "B", BODY, False),
    ("k-later", 3600.0, "A", BODY, False),
    ("k-expired", DAY + 3600.0, "A", BODY, False),
)


def key_header(name: str | None) -> dict:
    return {} if name is None else {"Idempotency-Key": f'"checker-key-{name}-7d1e4f0a"'}


def run_keys(shim, events, module: str, specs: list) -> None:
    """Build the app with the parent's clock; send KEY_SCRIPT's POSTs, counting each one's calls of enqueue()
    as the questions the parent was asked (the shim makes every call of the learner's enqueue() ask first)."""
    from checker.worker import REQUEST_TIMEOUT, bounded

    base = build_app(shim, events, specs, module, clock=True, catch_errors=True)
    if base is None:
        return
    for number, (step, at, name, body, hold) in enumerate(KEY_SCRIPT, start=1):
        request = {"method": "POST", "path": base + "/jobs", "body": json.dumps(body),
                   "headers": {"content-type": "application/json", **key_header(name)}}
        during = {**request, "body": request["body"]} if hold else None
        enqueued: list[dict] = []  # the parent owns the queue: every enqueue() is a question to it, counted here

        def queue(question: dict) -> dict:
            if question.get("kind") != HOOK or len(enqueued) >= MAX_ENQUEUED:
                return {"stop": "flooded"}
            enqueued.append(question)
            return {}

        reply = shim.call("request-during", REQUEST_TIMEOUT * 2, on_ask=queue, module=module, hook=HOOK,
                          during=during, now=T0 + at, **request)
        if not isinstance(reply, dict) or reply.get("hook", 0) is None:
            events("no-hook", hook=HOOK)
            return
        calls = len(enqueued)
        if "crashed" in reply or not isinstance(reply.get("answer"), dict):
            events("request-crashed", request=number, error=bounded({"crashed": reply.get("crashed", {})})["crashed"])
            return
        extra = {"step": step, "at": at, "key": name, "hook_calls": calls}
        if hold:
            during_answer = reply.get("during")
            if not isinstance(during_answer, dict):
                events("not-held", step=step)
            elif during_answer.get("held"):
                events("held-too-long", step=step)
            elif "crashed" in during_answer:
                events("during-crashed", step=step, error=bounded(during_answer)["crashed"])
            else:
                events("response", request=number, **{**extra, "step": step + "-retry", "hook_calls": None},
                       **bounded(during_answer))
        events("response", request=number, **extra, **bounded(reply["answer"]))
