"""The client of lesson 09-Idempotency-Keys for the thumbnail API: submit a job once, then wait for it.

Graded by exercise jobs-client. Nothing here sleeps or reads the clock by itself:
`sleep` and `clock` are parameters, so a notebook (or the checker) can pass fakes
and never wait. Keep the names and signatures: the checker calls them.
"""

from __future__ import annotations

import time
import uuid
from urllib.parse import urljoin  # resolves a Location against the URL it came from

import httpx

NO_ADVICE_WAIT = 1.0  #: seconds to wait when an answer that asks us to wait has no usable Retry-After
MAX_POSTS = 3  #: POSTs in all for one job, the first included, while answers get lost


def make_key() -> str:
    """A fresh Idempotency-Key for a new job: a random UUID, as a Structured Field String (in quotes)."""
    return f'"{uuid.uuid4()}"'


def submit_and_wait(base_url: str, url: str, *, client: httpx.Client | None = None, sleep=time.sleep,
                    clock=time.monotonic, deadline: float = 120.0) -> httpx.Response:
    """POST a thumbnail job for `url`, then poll it until it is done; return the last response."""
    if client is None:
        with httpx.Client() as own:
            return submit_and_wait(base_url, url, client=own, sleep=sleep, clock=clock, deadline=deadline)
    # Exercise jobs-client: this POSTs once, without a key, and does not wait for the job.
    return client.post(urljoin(base_url + "/", "jobs"), json={"url": url})
