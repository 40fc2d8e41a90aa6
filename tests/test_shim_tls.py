"""The sandbox's httpx clients share one default TLS context (checker.inside.shim.one_tls_context): a learner who
opens a client per request no longer pays for reading certifi's certificates each time, and nothing else changes."""

from __future__ import annotations

import subprocess
import sys

from tests.checker_support import REPO

PROBE = """
import ssl, sys
sys.path.insert(0, "checker/inside")
import httpx, shim
shim.one_tls_context()

def context(client):
    return client._transport._pool._ssl_context

first, second, other = httpx.AsyncClient(), httpx.Client(), httpx.Client(verify=False)
mine = ssl.create_default_context()
print(context(first) is context(second), context(first).verify_mode == ssl.CERT_REQUIRED,
      context(first).check_hostname, context(other).verify_mode == ssl.CERT_NONE,
      context(httpx.Client(verify=mine)) is mine)
"""


def test_default_clients_share_one_verifying_context_and_other_settings_keep_their_own():
    ran = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    shared, verifying, checks_hostname, unverified_kept, given_kept = ran.stdout.split()
    assert shared == "True", "two default clients should share one context"
    assert verifying == checks_hostname == "True", "the shared context must still verify certificates and hostnames"
    assert unverified_kept == "True", "verify=False must still give a context that does not verify"
    assert given_kept == "True", "a context the learner passes must be used as given"
