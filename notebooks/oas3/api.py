"""The code behind ex-04-01-headers.yaml: each operationId `api.NAME` is NAME here."""

from connexion import problem


def get_status():
    """Tell the caller the service is up, as an application/problem+json document."""
    return problem(
        status=200,
        title="OK",
        detail="So far so good.",
    )
