"""Probes: checker code that drives a learner's module inside the sandboxed worker.

A probe is a function `run(module, folder, events, **params)` named in
`Submission.start_probe(key, module=..., probe="checker.probes.<file>:run", ...)`.
It calls learner code, reports what happened with `events("name", **json_data)`,
and never judges: the exercise module that started it reads the events in the
parent process and decides what passed.

* `send`: POST/GET a fixed list of requests through a connexion app built from the learner's spec;
* `ratelimit`: drive a rate-limited operation with a fake clock the learner's module reads.

`apps` and `fields` are shared by both sides: building the app in the worker,
and reading HTTP Structured Fields (RFC 9651) such as `RateLimit` anywhere.
"""
