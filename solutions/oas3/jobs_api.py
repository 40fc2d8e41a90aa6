"""The code behind ex-08-01-jobs.yaml: each operationId `jobs_api.NAME` is NAME here.

A job's life is fixed by the time since it was created (read through `clock()`):

    0 s .. 2 s     new           waiting for a worker
    2 s .. 10 s    in progress   fetching the page, shrinking it
    10 s .. 610 s  ready         (or error: the page could not be fetched)
    from 610 s     expired       the thumbnail is gone: 410 Gone

Hosts under the reserved top-level domains of RFC 6761 fail on purpose:
`.invalid` can never exist (retrying cannot help), `.test` stands for a site
that is down for now (a new job later may succeed).
"""

import hashlib
import json
import math
import threading
import time
import uuid
from urllib.parse import urlsplit

from connexion import problem, request

# Read the time through `clock()`, never time.monotonic() directly: the lesson
# and the checker replace `clock` with a fake one, so jobs progress without waiting.
clock = time.monotonic

QUEUED = 2  # seconds a job is `new`
DONE_AFTER = 10  # seconds from creation until a job is `ready` (or `error`)
KEEP = 600  # seconds a finished job, and its thumbnail, are kept
KEY_TTL = 24 * 3600  # seconds an Idempotency-Key is remembered
JSON = {"Content-Type": "application/json"}
IDEMPOTENCY_DOCS = "https://datatracker.ietf.org/doc/html/draft-ietf-httpapi-idempotency-key-header-07"

_lock = threading.Lock()
_jobs = {}  # job id -> {"id", "url", "created"}
_keys = {}  # Idempotency-Key -> {"fingerprint", "at", "answer"}


def _state(job, now):
    age = now - job["created"]
    if age < QUEUED:
        return "new"
    if age < DONE_AFTER:
        return "in progress"
    if age >= DONE_AFTER + KEEP:
        return "expired"
    host = urlsplit(job["url"]).hostname or ""
    return "error" if host.endswith((".invalid", ".test")) else "ready"


def _failure(job):
    """The problem a failed job carries: `retryable` says whether a new job may succeed."""
    host = urlsplit(job["url"]).hostname or ""
    if host.endswith(".invalid"):
        return {"type": "https://example.com/problems/unresolvable-host", "title": "Host cannot exist",
                "detail": f"{host} is under .invalid (RFC 6761), which never resolves: a retry cannot help.",
                "retryable": False}
    return {"type": "https://example.com/problems/site-unreachable", "title": "Site unreachable",
            "detail": f"{host} did not answer; it may be back later: submit a new job then.", "retryable": True}


def _wait(job, now):
    """Whole seconds until the job is due to end, at least 1."""
    return str(max(1, math.ceil(job["created"] + DONE_AFTER - now)))


def _view(job, state):
    body = {"id": job["id"], "state": state, "url": job["url"]}
    if state == "error":
        body["error"] = _failure(job)
    return body


def enqueue(job):
    """Hand a new job to the workers. Here the timeline does the work; in a real service this
    writes to a queue, which takes a while and may fail."""


def create_job(body):
    """Start a job: 202 Accepted, Location of the job, Retry-After. The same Idempotency-Key and
    body again replays that answer and starts no second job (draft-ietf-httpapi-idempotency-key-header-07)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return problem(status=400, title="Idempotency-Key is missing", type=IDEMPOTENCY_DOCS,
                       detail='Send a fresh Idempotency-Key with every new job, e.g. Idempotency-Key: "<a UUID>".')
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    with _lock:
        now = clock()
        for old in [k for k, v in _keys.items() if now - v["at"] >= KEY_TTL]:
            del _keys[old]  # keys expire: the same key later starts a new job
        seen = _keys.get(key)
        if seen is not None and seen["fingerprint"] != fingerprint:
            return problem(status=422, title="Idempotency-Key is already used", type=IDEMPOTENCY_DOCS,
                           detail="This key came with another body; make a new key for a new job.")
        if seen is not None and seen["answer"] is None:
            return problem(status=409, title="A request is outstanding for this Idempotency-Key", type=IDEMPOTENCY_DOCS,
                           detail="The first request with this key is still being processed; retry in a moment.",
                           headers={"Retry-After": "1"})
        if seen is not None:
            return seen["answer"]  # a retry: the first answer again, and no second job
        _keys[key] = {"fingerprint": fingerprint, "at": now, "answer": None}  # in flight
        job = {"id": uuid.uuid4().hex, "url": body["url"], "created": now}
    try:
        enqueue(job)  # the slow part, outside the lock: a retry meanwhile gets 409
    except Exception:
        with _lock:
            del _keys[key]  # nothing was started: the same key may try again
        raise
    answer = (_view(job, "new"), 202, {**JSON, "Location": f"/jobs/{job['id']}", "Retry-After": _wait(job, now)})
    with _lock:
        _jobs[job["id"]] = job
        _keys[key]["answer"] = answer
    return answer


def _find(job_id, now):
    job = _jobs.get(job_id)
    if job is None:
        return None, problem(status=404, title="No such job", detail=f"There is no job {job_id!r}.")
    state = _state(job, now)
    if state == "expired":
        return None, problem(status=410, title="Job expired",
                             detail=f"Job {job_id} ended more than {KEEP} s ago; its thumbnail is gone.")
    return job, state


def get_job(job_id):
    """How far a job got: 200 while not done (with Retry-After) or failed, 303 when ready."""
    with _lock:
        now = clock()
        job, state = _find(job_id, now)
    if job is None:
        return state
    if state in ("new", "in progress"):
        return _view(job, state), 200, {**JSON, "Retry-After": _wait(job, now)}
    if state == "ready":
        return _view(job, state), 303, {**JSON, "Location": f"/thumbnails/{job_id}"}
    return _view(job, state), 200, JSON


def get_thumbnail(job_id):
    """The thumbnail of a ready job; 404 before that, 410 once it expired."""
    with _lock:
        job, state = _find(job_id, clock())
    if job is None:
        return state
    if state != "ready":
        return problem(status=404, title="No thumbnail", detail=f"Job {job_id} is {state}: it has no thumbnail.")
    return {"url": job["url"], "width": 160, "height": 120}, 200, JSON
