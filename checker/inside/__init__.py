"""The trust boundary: the only checker code that runs beside learner code, inside the sandbox.

`shim.py` answers the parent's commands and `asgi.py` sends one request through an
ASGI app. Nothing here judges, and nothing here imports the rest of the checker.
"""
