"""The code behind ex-05-01-problems.yaml: each operationId `problems_api.NAME` is NAME here."""

import itertools

from connexion import problem
from connexion.datastructures import MediaTypeDict
from connexion.exceptions import ProblemException
from connexion.validators import FormDataValidator, JSONRequestBodyValidator, MultiPartFormDataValidator

ORDERS = {}  # order id -> order, for as long as the server runs
NEXT_ID = itertools.count(1)
# Once an operation can answer application/json *or* application/problem+json,
# connexion needs to be told which one a plain dict is.
JSON = {"Content-Type": "application/json"}
VALIDATION_ERROR = "https://example.com/problems/validation-error"  # the problem type that defines `errors`


def create_order(body):
    """Place an order; the validator below has already checked `body` against NewOrder."""
    order = {"id": next(NEXT_ID), **body}
    ORDERS[order["id"]] = order
    return order, 201, JSON


def get_order(order_id):
    """Return one order, or a 404 problem."""
    if order_id not in ORDERS:
        return problem(status=404, title="Not Found", detail=f"There is no order {order_id}.")
    return ORDERS[order_id], 200, JSON


def pointer(path):
    """The JSON Pointer (RFC 6901) for a path such as ['shipping', 'country']: '/shipping/country'."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def entries(error):
    """One {detail, pointer} per member a jsonschema error is about."""
    path = list(error.absolute_path)
    if error.validator == "required":  # reported on the object: point at the missing member instead
        missing = [name for name in error.validator_value if name not in error.instance]
        return [{"detail": "is required", "pointer": pointer(path + [name])} for name in missing]
    if error.validator == "additionalProperties":  # likewise, point at each unexpected member
        known = error.schema.get("properties", {})
        return [{"detail": "is not a member of this object", "pointer": pointer(path + [name])}
                for name in error.instance if name not in known]
    return [{"detail": error.message, "pointer": pointer(path)}]


class EveryErrorValidator(JSONRequestBodyValidator):
    """Connexion's JSON body validator, but answering one 422 problem that lists every invalid member."""

    def _validate(self, body):
        if body is None:
            return super()._validate(body)  # an empty body stays connexion's 400
        found = []
        for error in self._validator.iter_errors(body):
            found += [entry for entry in entries(error) if entry not in found]
        if found:
            raise ProblemException(
                status=422,
                title="Your request is not valid.",
                detail=f"{len(found)} member(s) of the request body are invalid; `errors` lists them all.",
                type=VALIDATION_ERROR,
                ext={"errors": found},
            )
        return None


# Passed to connexion as `validator_map=`: JSON bodies get the validator above, the rest stay as they were.
VALIDATOR_MAP = {
    "body": MediaTypeDict({
        "*/*json": EveryErrorValidator,
        "application/x-www-form-urlencoded": FormDataValidator,
        "multipart/form-data": MultiPartFormDataValidator,
    }),
}
