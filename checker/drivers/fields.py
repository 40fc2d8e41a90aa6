"""Read HTTP Structured Field Lists (RFC 9651), the syntax of `RateLimit` and `RateLimit-Policy`.

    >>> parse_list('"default";q=100;w=60')
    [Item(value='default', params={'q': 100, 'w': 60})]

Only what those fields need is supported fully (Items with Parameters); Inner
Lists, Dates and Display Strings are refused with a sentence saying so.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from decimal import Decimal


class FieldError(ValueError):
    """The field value is not a valid Structured Field List; the message says where and why."""


class Token(str):
    """An sf-token (unquoted, e.g. `default`), as opposed to an sf-string (`"default"`)."""


@dataclass
class Item:
    value: object
    params: dict = field(default_factory=dict)


KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
INTEGER = re.compile(r"-?[0-9]{1,15}(?![0-9.])")
DECIMAL = re.compile(r"-?[0-9]{1,12}\.[0-9]{1,3}(?![0-9.])")


class _Reader:
    def __init__(self, text: str):
        self.text, self.at = text, 0

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def fail(self, what: str):
        shown = self.text[self.at:self.at + 12] or "the end"
        raise FieldError(f"at character {self.at + 1} ({shown!r}): {what}")

    def skip(self, characters: str) -> None:
        while self.peek() and self.peek() in characters:
            self.at += 1

    def bare_item(self):
        char = self.peek()
        rest = self.text[self.at:]
        if char == '"':
            return self.string()
        if char == "?":
            if rest[1:2] in ("0", "1"):
                self.at += 2
                return rest[1] == "1"
            self.fail("a Boolean is ?0 or ?1")
        if char == ":":
            end = rest.find(":", 1)
            if end < 0:
                self.fail("a Byte Sequence ends with ':'")
            try:
                value = base64.b64decode(rest[1:end], validate=True)
            except ValueError:
                self.fail("a Byte Sequence holds base64 between colons")
            self.at += end + 1
            return value
        if char == "-" or char.isdigit():
            match = DECIMAL.match(rest) or INTEGER.match(rest)
            if not match:
                self.fail("a number has at most 15 digits (3 after a decimal point)")
            self.at += match.end()
            return Decimal(match.group()) if "." in match.group() else int(match.group())
        if char in ("@", "%"):
            self.fail("Dates and Display Strings are not used in this field")
        if char == "(":
            self.fail("Inner Lists are not used in this field")
        match = TOKEN.match(rest)
        if not match:
            self.fail("expected a value: a \"quoted string\", a number, a token, ?1 or :base64:")
        self.at += match.end()
        return Token(match.group())

    def string(self) -> str:
        self.at += 1
        out = []
        while True:
            char = self.peek()
            if not char:
                self.fail("the string has no closing double quote")
            self.at += 1
            if char == '"':
                return "".join(out)
            if char == "\\":
                escaped = self.peek()
                if escaped not in ('"', "\\"):
                    self.fail("only \\\" and \\\\ may be escaped in a string")
                self.at += 1
                out.append(escaped)
            elif not (" " <= char <= "~"):
                self.fail("strings hold printable ASCII only")
            else:
                out.append(char)

    def parameters(self) -> dict:
        params = {}
        while self.peek() == ";":
            self.at += 1
            self.skip(" ")
            match = KEY.match(self.text, self.at)
            if not match:
                self.fail("a parameter name is lowercase, e.g. q or w")
            self.at = match.end()
            value = True
            if self.peek() == "=":
                self.at += 1
                value = self.bare_item()
            params[match.group()] = value
        return params


def parse_list(value: str) -> list[Item]:
    """Parse one (combined) field value as an sf-list of Items; raise FieldError saying where it breaks."""
    reader = _Reader(value)
    reader.skip(" ")
    items = []
    if not reader.peek():
        raise FieldError("the field is empty")
    while True:
        items.append(Item(reader.bare_item(), reader.parameters()))
        reader.skip(" \t")
        if not reader.peek():
            return items
        if reader.peek() != ",":
            reader.fail("expected ';' before a parameter or ',' before the next member")
        reader.at += 1
        reader.skip(" \t")
        if not reader.peek():
            reader.fail("a list must not end with ','")


MAX_FIELD = 2048  #: characters; a RateLimit field is a few dozen, and the parser's time grows with the square


def parse_field(values: list[str]) -> list[Item]:
    """Parse every line of a field as one list, as RFC 9651 section 4.2 combines them."""
    combined = ", ".join(values)
    if len(combined) > MAX_FIELD:
        raise FieldError(f"the field is {'at least ' if '…[' in combined else ''}{len(combined):,} characters long; "
                         "a RateLimit field needs a few dozen")
    return parse_list(combined)
