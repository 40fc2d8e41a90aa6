"""Probes: checker code that drives a learner's module inside the sandboxed worker.

A probe is a function `run(module, folder, events, **params)` named in
`Submission.start_probe(key, module=..., probe="checker.probes.<file>:run", ...)`.
It calls learner code, reports what happened with `events("name", **json_data)`
(at least one event a second), and never judges: the exercise module that
started it reads the events in the parent process and decides what passed.

Shared pieces: `apps` builds a connexion app from the learner's spec inside the
worker and sends it requests; `fields` reads HTTP Structured Fields (RFC 9651)
such as `RateLimit`. (The parent side, turning a probe's run into the "your code
runs" check, is `checker.exercises.runs.report`.)
`retry_harness` holds the fakes the client probes share (a flaky in-process server
on httpx.MockTransport, a recording sleep, a clock moved by hand); `retry_client`,
`retry_backoff` and `retry_breaker` drive the learner's oas3/client.py.
"""
