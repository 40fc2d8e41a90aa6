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


class RefError(ValueError):
    """A `$ref` points at a file or a place that does not exist."""


def load(path: str | Path) -> dict:
    """Read one YAML (or JSON) document as written, `$ref`s untouched."""
    with open(path, encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def _pointer_get(document: Any, pointer: str, ref: str, where: Path) -> Any:
    node = document
    for token in pointer.lstrip("/").split("/") if pointer.strip("/") else []:
        token = unquote(token).replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(token)] if isinstance(node, list) else node[token]
        except (KeyError, IndexError, ValueError, TypeError):
            raise RefError(f"{where.name}: `$ref: {ref}` points at nothing (no `{token}` there)") from None
    return node


class _Resolver:
    def __init__(self) -> None:
        self.documents: dict[Path, Any] = {}

    def document(self, path: Path, ref: str, where: Path) -> Any:
        if path not in self.documents:
            if not path.is_file():
                raise RefError(f"{where.name}: `$ref: {ref}` names a file that does not exist: {path.name}")
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
        file_part, _, pointer = ref.partition("#")
        target_file = (where.parent / file_part).resolve() if file_part else where
        key = f"{target_file}#{pointer}"
        if key in seen:
            raise RefError(f"{where.name}: `$ref: {ref}` leads back to itself.")
        target = _pointer_get(self.document(target_file, ref, where), pointer, ref, where)
        return self.resolve(copy.deepcopy(target), target_file, (*seen, key))


def resolve(path: str | Path) -> dict:
    """Return the document at `path` with every `$ref` replaced by what it points at.

    Local refs (`#/components/...`) are looked up in the file that contains them,
    external ones (`other.yaml#/...`) relative to that file's folder.
    """
    path = Path(path).resolve()
    resolver = _Resolver()
    return resolver.resolve(resolver.document(path, str(path.name), path), path)


def operation_responses(document: dict, path: str = "/status", method: str = "get") -> dict:
    """Return the `responses` of one operation, or {} when the document has no such operation."""
    return (document.get("paths") or {}).get(path, {}).get(method, {}).get("responses", {})


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
