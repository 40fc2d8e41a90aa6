"""Load a learner's OpenAPI YAML safely, remember where every value was written,
and follow `$ref`s the way connexion does, so messages can name a file and line.

Only `yaml.SafeLoader` is used: a tag such as `!!python/object` is reported,
never constructed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit
from urllib.request import url2pathname

import yaml
from referencing import Registry, Resource, Specification
from referencing.exceptions import Unresolvable


@dataclass(frozen=True)
class Where:
    """A place in a learner's file, printed as `oas3/file.yaml:12:5`."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


NODE_BUDGET = 200_000  #: values a spec may expand to; a real one has a few thousand


class YamlProblem(Exception):
    """The YAML could not be read; `where` and the message say why."""

    def __init__(self, message: str, where: Where):
        super().__init__(message)
        self.where = where


class MarkedDict(dict):
    """A mapping that knows the line of each key (1-based) and its own position."""

    key_marks: dict[str, tuple[int, int]]
    mark: tuple[int, int]
    duplicates: list[tuple[str, int, int, int]]


class _MarkingLoader(yaml.SafeLoader):
    """SafeLoader that keeps line numbers and notices repeated keys."""

    def construct_mapping(self, node, deep=False):
        self.flatten_mapping(node)
        mapping = MarkedDict()
        mapping.key_marks, mapping.duplicates = {}, []
        mapping.mark = (node.start_mark.line + 1, node.start_mark.column + 1)
        for key_node, value_node in node.value:
            key = str(self.construct_object(key_node, deep=deep))
            position = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in mapping.key_marks:
                first_line = mapping.key_marks[key][0]
                mapping.duplicates.append((key, first_line, *position))
            mapping.key_marks[key] = position
            mapping[key] = self.construct_object(value_node, deep=True)
        return mapping


_MarkingLoader.add_constructor("tag:yaml.org,2002:map", _MarkingLoader.construct_mapping)


#: connexion renders every spec as a Jinja2 template before reading it as YAML (connexion/spec.py)
TEMPLATE_SYNTAX = re.compile(r"\{\{|\{%|\{#")


def load_yaml(path: Path, shown_as: str) -> Any:
    """Parse `path` with safe loading; raise YamlProblem with a line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise YamlProblem("the file is missing", Where(shown_as)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise YamlProblem(f"the file cannot be read ({error})", Where(shown_as)) from None
    template = TEMPLATE_SYNTAX.search(text)
    if template:
        line = text.count("\n", 0, template.start()) + 1
        column = template.start() - (text.rfind("\n", 0, template.start()) + 1) + 1
        raise YamlProblem(f"`{template.group()}` starts Jinja2 template code, which connexion runs before it reads a "
                          "spec, so the file it serves would differ from the one you wrote; remove it",
                          Where(shown_as, line, column))
    loader = _MarkingLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_size(node, shown_as) > NODE_BUDGET:
            mark = node.start_mark
            raise YamlProblem(
                f"the YAML expands to more than {NODE_BUDGET:,} values through its aliases (*name); "
                "a spec needs few aliases or none", Where(shown_as, mark.line + 1, mark.column + 1))
        return loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = Where(shown_as, mark.line + 1, mark.column + 1) if mark else Where(shown_as)
        reason = " ".join(part for part in (error.context, error.problem) if part)
        if isinstance(error, yaml.constructor.ConstructorError) and "tag" in (error.problem or ""):
            reason = (
                f"{error.problem.strip()}: a spec is plain data, so tags like !!python/... "
                "are refused, never run"
            )
        raise YamlProblem(reason, where) from None
    except yaml.YAMLError as error:
        raise YamlProblem(str(error), Where(shown_as)) from None
    except RecursionError:
        raise YamlProblem("the YAML nests too deeply to read", Where(shown_as)) from None
    finally:
        loader.dispose()


def load_once(cache: dict, key: str, load):
    """`load()` the first time `key` is asked for, its value after; a YamlProblem it raised is kept and raised again."""
    if key not in cache:
        try:
            cache[key] = load()
        except YamlProblem as problem:
            cache[key] = problem
    if isinstance(cache[key], YamlProblem):
        raise cache[key]
    return cache[key]


def _expanded_size(root: yaml.Node, _shown: str) -> int:
    """How many values the document holds once every alias is expanded (a 'billion laughs' guard)."""
    sizes: dict[int, int | None] = {}

    def size(node: yaml.Node) -> int:
        if sizes.get(id(node), 0) is None:
            mark = node.start_mark
            raise YamlProblem("this value contains itself through an alias, so it never ends",
                              Where(_shown, mark.line + 1, mark.column + 1))
        if id(node) not in sizes:
            sizes[id(node)] = None  # in progress: meeting it again means a cycle
            if isinstance(node, yaml.SequenceNode):
                sizes[id(node)] = 1 + sum(size(child) for child in node.value)
            elif isinstance(node, yaml.MappingNode):
                sizes[id(node)] = 1 + sum(size(k) + size(v) for k, v in node.value)
            else:
                sizes[id(node)] = 1
        return sizes[id(node)]

    return size(root)


def where_in(node: Any, shown_as: str, key: str | None = None) -> Where:
    """Return the position of `node` (or of its `key`) in the file it came from."""
    if isinstance(node, MarkedDict):
        if key is not None and key in node.key_marks:
            return Where(shown_as, *node.key_marks[key])
        return Where(shown_as, *node.mark)
    return Where(shown_as)


def find_key(node: Any, shown_as: str, key: str, path: tuple = ()) -> Iterator[tuple[tuple, Where]]:
    """Yield (path of the mapping holding it, where it is written) for every `key` in the document."""
    if isinstance(node, dict):
        if key in node:
            yield path, where_in(node, shown_as, key)
        for name, value in node.items():
            yield from find_key(value, shown_as, key, (*path, str(name)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from find_key(value, shown_as, key, (*path, str(index)))


def duplicate_keys(node: Any, shown_as: str) -> Iterator[tuple[str, Where, int]]:
    """Yield (key, where the repeat is, line of the first one) for every repeated key."""
    if isinstance(node, MarkedDict):
        for key, first_line, line, column in node.duplicates:
            yield key, Where(shown_as, line, column), first_line
        for value in node.values():
            yield from duplicate_keys(value, shown_as)
    elif isinstance(node, list):
        for value in node:
            yield from duplicate_keys(value, shown_as)


class BrokenRef(Exception):
    """A `$ref` points nowhere; the message says where it was written."""

    def __init__(self, ref: str, where: Where, reason: str):
        super().__init__(reason)
        self.ref, self.where = ref, where


@dataclass
class Document:
    """One loaded spec plus the files it refers to, with `$ref` following."""

    path: Path
    shown_as: str
    data: Any
    #: files its `$ref`s led to, by uri: each is read once (the registry asked again for every lookup, 32 times a
    #: submission), and shared by every Document of one submission that is given the same dict
    loaded: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._shown = {self.path.resolve().as_uri(): self.shown_as}
        registry = Registry(retrieve=self._retrieve)
        self._registry = registry.with_resource(self.uri, Resource(self.data, Specification.OPAQUE))

    @property
    def uri(self) -> str:
        return self.path.resolve().as_uri()

    def _retrieve(self, uri: str) -> Resource:
        file = Path(url2pathname(urlsplit(uri).path))  # unquoted: a space or a "ë" in the path is %-encoded
        shown = f"{Path(self.shown_as).parent / file.name}"
        self._shown[uri] = shown
        if file.resolve().parent != self.path.resolve().parent:
            raise YamlProblem("a $ref may only lead to files in the same folder as the spec", Where(shown))
        return load_once(self.loaded, uri, lambda: Resource(load_yaml(file, shown), Specification.OPAQUE))

    def shown(self, uri: str) -> str:
        """Return the learner-facing name of the file at `uri`."""
        return self._shown.get(uri, uri)

    def follow(self, node: Any, base: str | None = None, shown: str | None = None, _depth: int = 0):
        """Resolve `node` if it is a `$ref` (repeatedly); return (node, base uri, file shown)."""
        base = base or self.uri
        shown = shown or self.shown_as
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            if _depth > 20:
                raise BrokenRef(node["$ref"], where_in(node, shown, "$ref"), "the $ref chain loops")
            _depth += 1
            ref = node["$ref"]
            resolver = self._registry.resolver(base_uri=base)
            try:
                resolved = resolver.lookup(ref)
            except (YamlProblem, Unresolvable, LookupError, TypeError, ValueError) as error:
                raise BrokenRef(ref, where_in(node, shown, "$ref"), _why_unresolved(error)) from None
            base = resolved.resolver._base_uri or base
            shown = self.shown(base.split("#")[0])
            node = resolved.contents
        return node, base, shown

    def broken_refs(self) -> list[BrokenRef]:
        """Every `$ref` reachable in the document that leads nowhere (all of them, not the first)."""
        broken: list[BrokenRef] = []
        seen: set[int] = set()

        def walk(node: Any, base: str, shown: str) -> None:
            if isinstance(node, dict) and isinstance(node.get("$ref"), str):
                if id(node) in seen:
                    return
                seen.add(id(node))
                try:
                    target, target_base, target_shown = self.follow(node, base, shown)
                except BrokenRef as error:
                    broken.append(error)
                    return
                walk(target, target_base, target_shown)
                return
            for child in node.values() if isinstance(node, dict) else node if isinstance(node, list) else ():
                walk(child, base, shown)

        walk(self.data, self.uri, self.shown_as)
        return broken


def _why_unresolved(error: BaseException) -> str:
    """Say why a `$ref` lookup failed: the file it names, a plain value on the way, or nothing there."""
    cause = error
    while cause is not None and not isinstance(cause, YamlProblem):
        cause = cause.__cause__ or cause.__context__
    if cause is not None:
        return f"{cause.where}: {cause}"
    if isinstance(error, (TypeError, ValueError)):
        return "the path after `#` runs into a value that is neither a mapping nor a list"
    return "nothing is there"


def get_ci(mapping: Any, name: str) -> tuple[str, Any] | None:
    """Find `name` in a mapping of header names, ignoring case (RFC 9110 §5.1)."""
    if not isinstance(mapping, dict):
        return None
    for key, value in mapping.items():
        if str(key).lower() == name.lower():
            return key, value
    return None
