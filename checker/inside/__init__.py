"""The trust boundary: the only checker code that runs beside learner code, inside the sandbox.

`shim.py` answers the parent's commands, `asgi.py` sends one request through an
ASGI app, and `virtual_time.py` serves lessons 10–11's service on an event loop whose
clock is the parent's (the shim's ops `build-service` and `service-request`).
Nothing here judges, and nothing here imports the rest of the checker.
"""
