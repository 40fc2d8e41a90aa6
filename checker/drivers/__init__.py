"""Drivers: the parent's half of a code exercise, deciding what the sandboxed shim runs.

A driver is a function `run(shim, events, module, **params)` named in
`Submission.start_probe(key, module=..., probe="checker.drivers.<file>:run", ...)`.
It runs in the trusted parent, asks the shim (`checker.inside.shim`) to call the
learner's code, answers the shim's questions (requests, sleeps, clock readings)
itself, and reports what it saw with `events("name", **json_data)`. It never
trusts the sandbox for anything it can log itself; the exercise module that
started it judges the events.

Shared pieces: `fakes` (the flaky server, sleep log and clock the client drivers
play); `fields` reads HTTP Structured Fields (RFC 9651) such as `RateLimit`;
`services` plays the upstream services of lessons 10 and 11 and owns the clock its service runs on.
"""
