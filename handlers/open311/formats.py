"""GeoReport v2's two formats: a JSON array of objects, or XML with a root list element of item elements.

Our own fields are namespaced ``rider_bot:`` (as in `rider-bot reports export`): a plain key in JSON, an element
in the ``rider_bot`` XML namespace (declared on the root) in XML. Values keep their JSON types; in XML ``None``
is an empty element and booleans are ``true``/``false``. Errors are the spec's ``[{"code": …, "description":
…}]`` / ``<errors><error>…</error></errors>`` with the same HTTP status as the code.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.responses import Response

PREFIX = "rider_bot:"
NAMESPACE = "urn:rider-bot:open311"
ET.register_namespace("rider_bot", NAMESPACE)

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
FORMATS = ("json", "xml")
# Characters XML 1.0 cannot carry at all (C0 controls other than tab/newline/return, surrogates, U+FFFE/FFFF).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class ApiError(Exception):
    """An answer in the spec's error format: `status` is both the HTTP status and the error's code; `more` are
    further descriptions with the same code (every bad attribute at once, so a client fixes them in one go)."""

    def __init__(
        self, status: int, description: str, headers: Mapping[str, str] | None = None, more: Iterable[str] = ()
    ) -> None:
        super().__init__(description)
        self.status, self.description = status, description
        self.headers = dict(headers or {})
        self.more = list(more)


def xml_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _tag(key: str) -> str:
    return f"{{{NAMESPACE}}}{key[len(PREFIX) :]}" if key.startswith(PREFIX) else key


# A list's XML items are named by the singular of the list (the spec's <attributes><attribute>, <values><value>).
_ITEM_NAMES = {
    "attributes": "attribute", "values": "value", "answers": "answer", "endpoints": "endpoint", "formats": "format",
}  # fmt: skip


def _fill(element: ET.Element, value: Any) -> None:
    """A value as XML: a mapping as one child per key, a list as repeated items, anything else as text."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _fill(ET.SubElement(element, _tag(key)), inner)
    elif isinstance(value, list):
        name = _ITEM_NAMES.get(element.tag.rpartition("}")[2], "item")
        for inner in value:
            _fill(ET.SubElement(element, name), inner)
    else:
        element.text = xml_text(value)


def _xml(top: ET.Element, status: int) -> Response:
    body = ET.tostring(top, encoding="utf-8", xml_declaration=True)
    return Response(body, status_code=status, media_type=XML_TYPE)


def _json(value: Any, status: int) -> Response:
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return Response(text.encode("utf-8", "replace"), status_code=status, media_type=JSON_TYPE)


def render(items: Iterable[Mapping[str, Any]], fmt: str, root: str, item: str, status: int = 200) -> Response:
    """`items` as a JSON array, or as ``<root><item>…</item>…</root>`` with one element per field."""
    items = list(items)
    if fmt == "xml":
        top = ET.Element(root)
        for record in items:
            _fill(ET.SubElement(top, item), record)
        return _xml(top, status)
    return _json(items, status)


def render_one(record: Mapping[str, Any], fmt: str, root: str) -> Response:
    """One object (the spec's service definition): a JSON object, or ``<root>`` with one element per field."""
    if fmt == "xml":
        top = ET.Element(root)
        _fill(top, record)
        return _xml(top, 200)
    return _json(record, 200)


def error(
    status: int, description: str, fmt: str, headers: Mapping[str, str] | None = None, more: Iterable[str] = ()
) -> Response:
    errors = [{"code": status, "description": text} for text in (description, *more)]
    response = render(errors, fmt if fmt in FORMATS else "json", "errors", "error", status)
    response.headers.update(dict(headers or {}))
    return response
