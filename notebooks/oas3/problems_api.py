"""The code behind ex-05-01-problems.yaml: each operationId `problems_api.NAME` is NAME here."""

import itertools

from connexion import problem

ORDERS = {}  # order id -> order, for as long as the server runs
NEXT_ID = itertools.count(1)
# Once an operation can answer application/json *or* application/problem+json,
# connexion needs to be told which one a plain dict is.
JSON = {"Content-Type": "application/json"}


def create_order(body):
    """Place an order; connexion has already checked `body` against NewOrder."""
    order = {"id": next(NEXT_ID), **body}
    ORDERS[order["id"]] = order
    return order, 201, JSON


def get_order(order_id):
    """Return one order, or a 404 problem."""
    if order_id not in ORDERS:
        return problem(status=404, title="Not Found", detail=f"There is no order {order_id}.")
    return ORDERS[order_id], 200, JSON
