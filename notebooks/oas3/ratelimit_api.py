"""The code behind ex-05-02-ratelimit.yaml: each operationId `ratelimit_api.NAME` is NAME here."""

import itertools
import time

QUOTES = itertools.cycle([
    {"text": "Be conservative in what you send, be liberal in what you accept.", "author": "Jon Postel"},
    {"text": "Errors should never pass silently.", "author": "Tim Peters"},
    {"text": "Everything fails, all the time.", "author": "Werner Vogels"},
])
JSON = {"Content-Type": "application/json"}

# Read the time through `clock()`, never time.monotonic() or time.time() directly:
# the lesson and the checker replace `clock` with a fake one, to move through
# rate-limit windows without waiting for them.
clock = time.monotonic


def get_quote():
    """Return the next quote. Not limited yet."""
    return next(QUOTES), 200, JSON
