"""Does each operationId name a function its module defines? Read from the source, never run.

`connexion run` imports the module an operationId names and looks the function
up; a wrong name stops it from serving. The YAML exercises check the same
without running learner code (so a module that hangs or crashes at import is
the code exercises' business): the module must be a file of the submission's
oas3/ folder, and the name must be defined at its top level (`def`, an
assignment, or an import).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")  #: a module `connexion run` finds beside the spec
NO_MODULE = "operationId `{operation_id}`: there is no oas3/{module}.py to import it from"
NO_FUNCTION = "operationId `{operation_id}`: {module}.py has no function `{name}` (it defines {defines})"


def top_level_names(tree: ast.Module) -> list[str]:
    """Names a module binds at its top level, in order: functions, classes, assignments, imports."""
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [target.id for target in targets if isinstance(target, ast.Name)]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names += [(alias.asname or alias.name).split(".")[0] for alias in node.names]
    return names


def operation_problems(folder: Path, operation_ids: list[str]) -> list[str]:
    """A sentence for every operationId whose function is not defined in its module's source."""
    problems, parsed = [], {}
    for operation_id in dict.fromkeys(operation_ids):  # connexion may resolve one id more than once
        module, _, name = operation_id.rpartition(".")
        if not MODULE_NAME.fullmatch(module):  # never a path: only a file of the submission's own folder is read
            problems.append(NO_MODULE.format(operation_id=operation_id, module=module[:60] or operation_id[:60]))
            continue
        source = folder / f"{module}.py"
        if module not in parsed:
            try:
                parsed[module] = ast.parse(source.read_text(encoding="utf-8"))
            except FileNotFoundError:
                parsed[module] = None
            except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
                parsed[module] = "unreadable"  # the code exercises say why
        tree = parsed[module]
        if tree is None:
            problems.append(NO_MODULE.format(operation_id=operation_id, module=module or operation_id))
        elif tree != "unreadable" and name not in top_level_names(tree):
            functions = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
            problems.append(NO_FUNCTION.format(operation_id=operation_id, module=module, name=name,
                                               defines=", ".join(f"`{f}`" for f in functions) or "no function"))
    return problems
