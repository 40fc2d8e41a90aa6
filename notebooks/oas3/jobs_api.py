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

import threading
import time
import uuid

from connexion import problem

# Read the time through `clock()`, never time.monotonic() directly: the lesson
# and the checker replace `clock` with a fake one, so jobs progress without waiting.
clock = time.monotonic

QUEUED = 2  # seconds a job is `new`
DONE_AFTER = 10  # seconds from creation until a job is `ready` (or `error`)
KEEP = 600  # seconds a finished job, and its thumbnail, are kept
JSON = {"Content-Type": "application/json"}

_lock = threading.Lock()  # connexion may run two requests at once, in two threads
_jobs = {}  # job id -> {"id", "url", "created"}


def enqueue(job):
    """Hand a new job to the workers. Here the timeline does the work; in a real service this
    writes to a queue, which takes a while and may fail."""


def create_job(body):
    """Start a job. Exercise jobs-impl: answer 202 with Location and Retry-After.
    Exercise idempotency-key: the Idempotency-Key header (connexion.request.headers)."""
    with _lock:
        job = {"id": uuid.uuid4().hex, "url": body["url"], "created": clock()}
    enqueue(job)  # the slow part: never hold the lock while calling it
    with _lock:
        _jobs[job["id"]] = job
    return {"id": job["id"], "state": "new", "url": job["url"]}, 202, JSON


def get_job(job_id):
    """How far a job got. Exercise jobs-impl: the state as time passes, 303 when ready, 404, 410."""
    job = _jobs.get(job_id)
    if job is None:
        return problem(status=404, title="No such job", detail=f"There is no job {job_id!r}.")
    return {"id": job["id"], "state": "new", "url": job["url"]}, 200, JSON


def get_thumbnail(job_id):
    """The thumbnail of a ready job. Exercise jobs-impl: 200 when ready, 410 once expired, else 404."""
    return problem(status=404, title="No thumbnail", detail=f"Job {job_id} has no thumbnail yet.")
