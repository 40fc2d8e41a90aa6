"""Build the learner's API as an ASGI app, importing their code afresh every time."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import connexion
from connexion.exceptions import ResolverError

from labtools.asgi import startup


def forget_modules_in(folder: Path) -> list[str]:
    """Drop imported modules that live in `folder` or share a name with one of its files.

    The next import then reads the edited file, even if an `api` from another folder came first.
    """
    folder = folder.resolve()
    names = {path.stem for path in folder.glob("*.py")}
    stale = [
        name
        for name, module in list(sys.modules.items())
        if name in names
        or (getattr(module, "__file__", None) and Path(module.__file__).resolve().parent == folder)
    ]
    for name in stale:
        source = getattr(sys.modules[name], "__file__", None) or ""
        if source.endswith(".py"):
            # Bytecode is reused when the source's mtime and size look unchanged, so an edit saved
            # within the same second as the last import would be ignored: drop the cached copy.
            Path(importlib.util.cache_from_source(source)).unlink(missing_ok=True)
        del sys.modules[name]
    return stale


def base_path(spec: str | Path) -> str:
    """Where connexion serves the spec's paths: the path of its first `servers` URL, e.g. "/datetime/v1"."""
    from connexion.spec import Specification

    try:
        return Specification.load(str(Path(spec).resolve())).base_path or ""
    except Exception:  # noqa: BLE001 - a spec connexion cannot load fails loudly in load_app instead
        return ""


def load_app(spec: str | Path = "oas3/ex-04-01-headers.yaml", configure: str | None = None) -> connexion.AsyncApp:
    """Return the app `connexion run SPEC` would serve, with the spec's folder importable.

    Like `connexion run`, the folder holding the spec goes on `sys.path`, so the
    operationId `api.get_status` means `get_status` in `api.py` next to the spec.
    The app remembers the spec's base path (`workbook_base_path`), so labtools'
    requests for "/status" go where connexion serves it. `configure`: a module next to the spec
    whose `configure(app)` is called after `add_api` (lesson 10's middleware and error handler).
    """
    spec = Path(spec).resolve()
    if not spec.is_file():
        raise FileNotFoundError(f"No OpenAPI file at {spec}.")
    folder = str(spec.parent)
    if folder in sys.path:
        sys.path.remove(folder)
    sys.path.insert(0, folder)  # first, so this folder's api.py wins over any other
    forget_modules_in(spec.parent)
    app = connexion.AsyncApp(__name__)
    app.add_api(spec)
    if configure:
        importlib.import_module(configure).configure(app)
    # Import the handlers now, so a broken api.py fails here rather than on the first request.
    try:
        startup(app)
    except ResolverError as error:
        # Raised afresh: the chain would only show connexion's and labtools' insides.
        raise ResolverError(f"connexion cannot find the function an operationId in {spec.name} names: {error}") from None
    app.workbook_base_path = base_path(spec)
    return app
