"""Probe: send a fixed list of requests to the app built from the learner's spec, and report each answer.

Params: `specs` (the learner's spec first, then a fallback), `requests` (each
{"method", "path", "json" or "body", "headers"}), and optionally `options_from`
({connexion option: name of a module attribute}, e.g. {"validator_map": "VALIDATOR_MAP"})
so that connexion is configured the way the learner's module asks.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from checker.probes.apps import RequestCrashed, ask, build_first


def run(module, folder: Path, events, specs: list, requests: list, options_from: dict | None = None) -> None:
    """Build the app (with the module's options, if it defines them) and send every request."""
    options = {}
    for option, attribute in (options_from or {}).items():
        if getattr(module, attribute, None) is not None:
            options[option] = getattr(module, attribute)
            events("option", option=option, attribute=attribute)
    last_error: dict = {}
    app = build_first(specs, folder, module, last_error, events, **options)
    if app is not None:
        asyncio.run(send_all(app, requests, events, last_error, folder))


async def send_all(app, requests: list, events, last_error: dict, folder: Path) -> None:
    for number, request in enumerate(requests, start=1):
        body = request.get("body", "").encode() if "json" not in request else json.dumps(request["json"]).encode()
        headers = dict(request.get("headers", {}))
        if "json" in request:
            headers.setdefault("content-type", "application/json")
        try:
            answer = await ask(app, last_error, request["path"], folder, method=request.get("method", "GET"),
                               body=body, headers=headers)
        except RequestCrashed as crash:
            events("request-crashed", request=number, error=crash.summary)
            return
        if answer is None:
            events("request-timeout", request=number)
            return
        events("response", request=number, **answer)
