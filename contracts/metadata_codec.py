"""How a value is written into a model package's CustomerMetadataProperties, and read back: one encoding for the
writers (the SageMaker governance step, the local pipeline) and the readers (the approval paths' readiness gate, the
model card publisher, the twin).

SageMaker refuses a value outside `([\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*)${1,256}` (letters, spaces, digits and
`_ . : / = + - @`, 1 to 256 characters; keys the same, 1 to 128; CreateModelPackage, UpdateModelPackage:
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackage.html), so JSON (braces, quotes,
commas) fails the registration. The encoding:

- text keeps ASCII letters, digits, space and `_ . : / + - @`; every other character is written `=XX` per UTF-8
  byte (quoted-printable's escape, RFC 2045 section 6.7), `=` itself as `=3D`. ARNs, S3 URIs, digests and numbers
  are unchanged, so a value such as `true` or `ready` reads the same decoded or not;
- a boolean is `true`/`false`; a number is its `str`;
- a list: its items' encodings joined by one space (a space inside an item is escaped, `=20`);
- a mapping (the hyperparameters): `key:value` items sorted by key, joined by one space (`:` in a key is escaped);
- nothing (None, "", [], {}) is `none` (the registry refuses an empty value); the text "none" itself is `=6Eone`;
- more than 256 characters: `...` and the tail, cut between escapes (the full value is in lineage.json).

Part of contracts/, which ships in the step library and in every Lambda asset (standard library only).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from contracts.sentinels import NONE

MAX_VALUE = 256
TRUNCATED = "..."
_KEPT = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 _.:/+-@")
_ESCAPE = re.compile(r"=([0-9A-F]{2})")
_TOKEN = re.compile(r"=[0-9A-F]{2}|.", re.DOTALL)


def encode_value(value: Any) -> str:
    """`value` as a CustomerMetadataProperties value: never empty, at most 256 characters, within the pattern."""
    if value is None or (isinstance(value, (str, list, tuple, dict)) and not value):
        return NONE
    if isinstance(value, Mapping):
        items = sorted((str(k), v) for k, v in value.items())
        text = " ".join(f"{_escape(k, extra=': ')}:{_escape(_scalar(v), extra=' ')}" for k, v in items)
    elif isinstance(value, (list, tuple)):
        text = " ".join(_escape(_scalar(item), extra=" ") for item in value)
    else:
        text = _escape(_scalar(value))
    # The text "none" (or a list of just it) must not read as nothing.
    return _fit("=6Eone" if text == NONE else text)


def decode_text(value: str | None) -> str | None:
    """The text an encoded value stands for; None for `none` (or a missing value)."""
    if value is None or value == NONE:
        return None
    return _unescape(value)


def decode_list(value: str | None) -> list[str]:
    """The items of an encoded list; [] for `none` (or a missing value)."""
    return [_unescape(item) for item in decode_list_items(value)]


def decode_mapping(value: str | None) -> dict[str, str]:
    """The `key:value` items of an encoded mapping (values as text); {} for `none` (or a missing value)."""
    pairs = [item.partition(":") for item in decode_list_items(value)]
    return {_unescape(key): _unescape(text) for key, _, text in pairs}


def decode_list_items(value: str | None) -> list[str]:
    """The still-encoded items of an encoded list or mapping."""
    if value is None or value == NONE:
        return []
    return [item for item in value.split(" ") if item]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):  # nested: its JSON-like text, escaped like any other
        return repr(value)
    return str(value)


def _escape(text: str, extra: str = "") -> str:
    out = []
    for char in text:
        if char in _KEPT and char not in extra:
            out.append(char)
        else:
            out.extend(f"={byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out)


def _unescape(text: str) -> str:
    raw = bytearray()
    position = 0
    for match in _ESCAPE.finditer(text):
        raw += text[position : match.start()].encode("utf-8") + bytes([int(match.group(1), 16)])
        position = match.end()
    raw += text[position:].encode("utf-8")
    # A value cut to 256 characters may start inside a multi-byte character.
    return raw.decode("utf-8", errors="replace")


def _fit(text: str) -> str:
    if len(text) <= MAX_VALUE:
        return text
    tokens = _TOKEN.findall(text)
    kept: list[str] = []
    size = len(TRUNCATED)
    for token in reversed(tokens):
        if size + len(token) > MAX_VALUE:
            break
        kept.append(token)
        size += len(token)
    return TRUNCATED + "".join(reversed(kept))
