"""Driver: send a fixed list of requests to the app built from the learner's spec, and report each answer.

Params: `specs` (the learner's spec first, then a fallback, as `Shim.spec` names
them), `requests` (each {"method", "path", "json" or "body", "headers"}), and
optionally `options_from` ({connexion option: module attribute}, e.g.
{"validator_map": "VALIDATOR_MAP"}) so connexion is configured as the module asks.
"""

from __future__ import annotations

import json

from checker.worker import build_app, send


def as_request(request: dict) -> dict:
    """The shim's `request` arguments for one scripted request."""
    body = request.get("body", "") if "json" not in request else json.dumps(request["json"])
    headers = dict(request.get("headers", {}))
    if "json" in request:
        headers.setdefault("content-type", "application/json")
    return {"method": request.get("method", "GET"), "path": request["path"], "headers": headers, "body": body}


def run(shim, events, module: str, specs: list, requests: list, options_from: dict | None = None) -> None:
    """Build the app (with the module's options, if it defines them) and send every request."""
    base = build_app(shim, events, specs, module, options_from=options_from or {}, catch_errors=True)
    if base is not None:
        send(shim, events, [as_request({**request, "path": base + request["path"]}) for request in requests])
