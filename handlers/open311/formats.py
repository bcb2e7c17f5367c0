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
    """An answer in the spec's error format: `status` is both the HTTP status and the error's code."""

    def __init__(self, status: int, description: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(description)
        self.status, self.description = status, description
        self.headers = dict(headers or {})


def xml_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _tag(key: str) -> str:
    return f"{{{NAMESPACE}}}{key[len(PREFIX) :]}" if key.startswith(PREFIX) else key


def render(items: Iterable[Mapping[str, Any]], fmt: str, root: str, item: str, status: int = 200) -> Response:
    """`items` as a JSON array, or as ``<root><item>…</item>…</root>`` with one element per field."""
    items = list(items)
    if fmt == "xml":
        top = ET.Element(root)
        for record in items:
            element = ET.SubElement(top, item)
            for key, value in record.items():
                ET.SubElement(element, _tag(key)).text = xml_text(value)
        body = ET.tostring(top, encoding="utf-8", xml_declaration=True)
        return Response(body, status_code=status, media_type=XML_TYPE)
    text = json.dumps(items, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return Response(text.encode("utf-8", "replace"), status_code=status, media_type=JSON_TYPE)


def error(status: int, description: str, fmt: str, headers: Mapping[str, str] | None = None) -> Response:
    response = render(
        [{"code": status, "description": description}], fmt if fmt in FORMATS else "json", "errors", "error", status
    )
    response.headers.update(dict(headers or {}))
    return response
