"""The code behind ex-04-01-headers.yaml: each operationId `api.NAME` is NAME here."""

import random

from connexion import problem

UNAVAILABLE_SHARE = 0.2  # refuse one request in five, to rehearse failure
RETRY_AFTER_SECONDS = 5  # a fixed delay, independent of the dice roll


def get_status():
    """Tell the caller whether the service is up, as an application/problem+json document."""
    # A status must never come from a cache, so every answer says no-store.
    headers = {"Cache-Control": "no-store"}
    if random.random() < UNAVAILABLE_SHARE:
        return problem(
            status=503,
            title="Service Unavailable",
            detail="Retry after the number of seconds in the Retry-After header.",
            headers={**headers, "Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return problem(
        status=200,
        title="OK",
        detail="So far so good.",
        headers=headers,
    )
