"""Ask the API for its status many times, fast, to see how often it answers each code."""

from __future__ import annotations

import random
from collections import Counter

from labtools.asgi import ASGIApp, run_sync, statuses


def sample_statuses(app: ASGIApp, count: int = 2000, path: str = "/status", seed: int | None = 0) -> list[int]:
    """GET `path` `count` times in-process and return the status codes in order.

    `seed` seeds Python's `random` module first so a run can be repeated; pass None for fresh luck.
    """
    if seed is not None:
        random.seed(seed)
    return run_sync(statuses(app, count, path))


def shares(codes: list[int]) -> dict[int, float]:
    """Return the fraction of responses with each status code, e.g. {200: 0.8, 503: 0.2}."""
    counts = Counter(codes)
    return {code: counts[code] / len(codes) for code in sorted(counts)}
