"""Helpers the workbook's notebooks use to run, call, and inspect the learner's API."""

from labtools.app import load_app
from labtools.cli import connexion_run
from labtools.plots import plot_share
from labtools.refs import as_yaml, compare, load, operation_responses, resolve
from labtools.sampling import sample_statuses, shares
from labtools.server import serve
from labtools.wire import show

__all__ = [
    "as_yaml",
    "compare",
    "connexion_run",
    "load",
    "load_app",
    "operation_responses",
    "plot_share",
    "resolve",
    "sample_statuses",
    "serve",
    "shares",
    "show",
]
