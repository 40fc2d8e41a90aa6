"""Loopback plumbing shared by the two ways of serving an API: free ports and readiness."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx

LOOPBACK = "127.0.0.1"


def bound_socket() -> socket.socket:
    """Return a socket already bound to a free loopback port, so no one can take the port first."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    return sock


def free_port() -> int:
    """Return a loopback port that was free a moment ago, for programs that bind it themselves."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def wait_until_answering(
    url: str, timeout: float = 30.0, still_starting: Callable[[], bool] = lambda: True
) -> httpx.Response:
    """Poll `url` until any HTTP answer arrives and return it; raise TimeoutError if none comes in `timeout` s.

    `still_starting` lets a caller stop waiting early, e.g. when the server process has died.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not still_starting():
            raise RuntimeError(f"The server stopped before {url} answered.")
        try:
            return httpx.get(url, timeout=1.0, trust_env=False)
        except httpx.TransportError:
            time.sleep(0.05)
    raise TimeoutError(f"Nothing answered at {url} within {timeout:g} s.")


class HttpTarget:
    """Something answering HTTP at `self.url`: adds real GET requests to a server handle."""

    url: str  #: where the spec's paths start: origin plus the spec's base path (its `servers` URL's path)

    @property
    def running(self) -> bool:
        raise NotImplementedError

    def get(self, path: str = "/status", **kwargs) -> httpx.Response:
        """Send a real HTTP GET to `path` of the spec (below its base path), never through a proxy."""
        if not self.running:
            raise RuntimeError("The server is not running: call .start() first.")
        kwargs.setdefault("trust_env", False)
        return httpx.get(self.url + path, **kwargs)

    def first(self, status: int, path: str = "/status", tries: int = 100) -> httpx.Response:
        """GET `path` until a response has `status`; after `tries` attempts return the last response."""
        for _ in range(tries):
            response = self.get(path)
            if response.status_code == status:
                break
        return response
