"""Follow `$ref`s the way OpenAPI tools do, to show that moving a definition changes no meaning."""

from __future__ import annotations

import copy
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml


AGAIN = "save the file and run this cell again"


class SpecError(ValueError):
    """A spec cannot be read, or a `$ref` in it leads nowhere: one sentence saying where, what and how to fix it."""

    def _render_traceback_(self) -> list[str]:
        """Show a notebook the sentence alone, as the checker does: the frames are labtools', not the learner's."""
        return [str(self)]


class RefError(SpecError):
    """A `$ref` points at a file or a place that does not exist, or back at itself."""


def _shown(path: Path) -> str:
    """Name a file as the learner wrote it: relative to the notebook's folder when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.name


def load(path: str | Path) -> dict:
    """Read one YAML (or JSON) document as written, `$ref`s untouched."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"There is no file {path.as_posix()}; check its name and folder in this cell "
                        "(a path starts from the notebook's folder).") from None
    except IsADirectoryError:
        raise SpecError(f"{path.as_posix()} is a folder; name a file in it in this cell.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"{path.as_posix()} cannot be read ({error.__class__.__name__}: {error}); "
                        "check the path in this cell.") from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{_shown(path)}, line {mark.line + 1}, column {mark.column + 1}," if mark else f"{_shown(path)}"
        problem = " ".join(part for part in (error.context, error.problem) if part)
        raise SpecError(f"{where} is not valid YAML ({problem}); check the indentation and the `:` on that line "
                        f"and the one above, then {AGAIN}.") from None
    except yaml.YAMLError as error:
        raise SpecError(f"{_shown(path)} is not valid YAML ({error}); fix it, then {AGAIN}.") from None


def _ref_line(path: Path, ref: str) -> int | None:
    """Return the line of the first `$ref: <ref>` written in `path`, if it can be found."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    lines, nodes = [], [root] if root is not None else []
    while nodes:
        node = nodes.pop()
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == "$ref" and isinstance(value, yaml.ScalarNode) and value.value == ref:
                    lines.append(key.start_mark.line + 1)
                nodes.append(value)
        elif isinstance(node, yaml.SequenceNode):
            nodes.extend(node.value)
    return min(lines, default=None)


def _broken(ref: str, where: Path, what: str, fix: str) -> RefError:
    """A RefError naming the file and line of the `$ref`, what is wrong with it, and what to do."""
    line = _ref_line(where, ref)
    place = f"{_shown(where)}, line {line}" if line else _shown(where)
    return RefError(f"{place}: `$ref: {ref}` {what}; {fix}, then {AGAIN}.")


def _pointer_get(document: Any, pointer: str, ref: str, where: Path, target: Path) -> Any:
    node, passed = document, []
    for token in pointer.lstrip("/").split("/") if pointer.strip("/") else []:
        token = unquote(token).replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(token)] if isinstance(node, list) else node[token]
        except (KeyError, IndexError, ValueError, TypeError):
            under = f" under `#/{'/'.join(passed)}`" if passed else " at its top level"
            raise _broken(ref, where, f"points at nothing, as {target.name} has no `{token}`{under}",
                          "check the spelling and the indentation of each name after `#`") from None
        passed.append(token)
    return node


class _Resolver:
    def __init__(self) -> None:
        self.documents: dict[Path, Any] = {}

    def document(self, path: Path, ref: str, where: Path) -> Any:
        if path not in self.documents:
            if not path.is_file():
                raise _broken(ref, where, f"names {path.name}, but no such file is next to {where.name}",
                              "check the file name before `#`")
            self.documents[path] = load(path)
        return self.documents[path]

    def resolve(self, node: Any, where: Path, seen: tuple[str, ...] = ()) -> Any:
        if isinstance(node, list):
            return [self.resolve(item, where, seen) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" not in node:
            return {key: self.resolve(value, where, seen) for key, value in node.items()}
        # In OpenAPI 3.0 a $ref replaces its whole object: siblings next to it are ignored.
        ref = node["$ref"]
        file_part, _, pointer = str(ref).partition("#")
        target_file = (where.parent / file_part).resolve() if file_part else where
        key = f"{target_file}#{pointer}"
        if key in seen:
            raise _broken(ref, where, "leads back to itself through a loop of `$ref`s",
                          "point it at the definition instead")
        target = _pointer_get(self.document(target_file, ref, where), pointer, ref, where, target_file)
        return self.resolve(copy.deepcopy(target), target_file, (*seen, key))


def resolve(path: str | Path) -> dict:
    """Return the document at `path` with every `$ref` replaced by what it points at.

    Local refs (`#/components/...`) are looked up in the file that contains them,
    external ones (`other.yaml#/...`) relative to that file's folder.
    A broken `$ref` or a file that is not YAML raises SpecError, which a notebook shows as one sentence.
    """
    root = Path(path).resolve()
    resolver = _Resolver()
    resolver.documents[root] = load(path)  # load() names a missing spec as the learner wrote it
    return resolver.resolve(resolver.documents[root], root)


def operation_responses(document: dict, path: str = "/status", method: str = "get") -> dict:
    """Return the `responses` of one operation, or {} when the document has no such operation."""
    node = document
    for key in ("paths", path, method, "responses"):
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


@dataclass
class Difference:
    where: str
    before: Any
    after: Any

    def __str__(self) -> str:
        def brief(value: Any) -> str:
            return "(missing)" if value is _MISSING else json.dumps(value, default=str)[:80]

        return f"{self.where}: {brief(self.before)} → {brief(self.after)}"


_MISSING = object()


def _differences(before: Any, after: Any, where: str) -> list[Difference]:
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after), key=str):
            token = str(key).replace("~", "~0").replace("/", "~1")
            found += _differences(before.get(key, _MISSING), after.get(key, _MISSING), f"{where}/{token}")
        return found
    return [] if before == after else [Difference(where or "/", before, after)]


@dataclass
class Comparison:
    """The outcome of comparing two resolved documents: equal, or a list of JSON-pointer differences."""

    differences: list[Difference] = field(default_factory=list)

    def __bool__(self) -> bool:
        return not self.differences

    def __repr__(self) -> str:
        if not self.differences:
            return "Semantically equivalent: after resolving every $ref, both are the same."
        lines = [f"Different in {len(self.differences)} place(s):", *(f"  {d}" for d in self.differences)]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if not self.differences:
            return f"<p style='color:#1a7f37'>✔ {html.escape(repr(self))}</p>"
        items = "".join(f"<li><code>{html.escape(str(d))}</code></li>" for d in self.differences)
        return f"<p style='color:#cf222e'>✘ Different in {len(self.differences)} place(s):</p><ul>{items}</ul>"


def compare(before: Any, after: Any) -> Comparison:
    """Compare two already-resolved values and list where they differ."""
    return Comparison(_differences(before, after, ""))


class YamlText(str):
    """YAML text that prints as itself, so a notebook cell shows it readably."""

    def __repr__(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        return f"```yaml\n{self}```"


class _BlockDumper(yaml.SafeDumper):
    """A SafeDumper that writes multi-line strings as `|` blocks, as people write them."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_BlockDumper.add_representer(str, _represent_str)


def as_yaml(value: Any) -> YamlText:
    """Dump `value` as block-style YAML, keys in their written order; say so when there is nothing."""
    if value is None or value == {}:
        return YamlText("# (nothing here yet)\n")
    return YamlText(yaml.dump(value, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=88))
