"""Decoding Bot API requests: query string, x-www-form-urlencoded, JSON and multipart/form-data bodies."""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

__all__ = ["ApiError", "Params", "Upload", "decode_body", "parse_multipart"]


class ApiError(Exception):
    """An error answer of the Bot API: {"ok": false, "error_code": code, "description": description}."""

    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(text: str) -> ApiError:
    return ApiError(400, f"Bad Request: {text}")


@dataclass
class Upload:
    """A file part of a multipart request."""

    field: str
    filename: str
    content_type: str
    content: bytes

    def describe(self) -> dict:
        return {"_upload": self.filename, "mime_type": self.content_type, "size": len(self.content)}


_CD_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def _disposition(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _CD_PARAM.finditer(value):
        key, raw = m.group(1).lower(), m.group(2).strip()
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
            raw = raw.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")
        if key.endswith("*"):
            # RFC 5987: utf-8''percent-encoded
            charset, _, rest = raw.partition("''")
            key = key[:-1]
            raw = unquote(rest, encoding=charset or "utf-8")
        out[key] = raw
    return out


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, Upload]]:
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise bad_request("can't parse multipart/form-data: no boundary")
    boundary = b"--" + m.group(1).encode("latin-1")
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    for chunk in body.split(boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        if content.endswith(b"\r\n"):
            content = content[:-2]
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disp = _disposition(headers.get("content-disposition", ""))
        name = disp.get("name")
        if not name:
            continue
        if "filename" in disp:
            files[name] = Upload(
                field=name,
                filename=disp["filename"] or name,
                content_type=headers.get("content-type", "application/octet-stream"),
                content=content,
            )
        else:
            fields[name] = content.decode("utf-8", "replace")
    return fields, files


def decode_body(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, Upload]]:
    ctype = content_type.split(";")[0].strip().lower()
    if not body:
        return {}, {}
    if ctype == "application/json":
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise bad_request("can't parse JSON encoded request body") from exc
        if not isinstance(data, dict):
            raise bad_request("JSON object expected as request body")
        return data, {}
    if ctype == "multipart/form-data":
        return parse_multipart(body, content_type)
    # application/x-www-form-urlencoded (and anything else) is treated as a form
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)), {}


class Params:
    """Typed access to request parameters. Form values for non-strings are JSON-encoded strings."""

    def __init__(self, raw: dict[str, Any], files: dict[str, Upload] | None = None) -> None:
        self.raw = raw
        self.files = files or {}

    def has(self, name: str) -> bool:
        return self.raw.get(name) not in (None, "") or name in self.files

    def decoded(self) -> dict[str, Any]:
        """Parameters for the call log: JSON strings decoded, uploads described."""
        out: dict[str, Any] = {}
        for key, value in self.raw.items():
            if isinstance(value, str) and value[:1] in "[{":
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
            elif isinstance(value, str) and value.startswith("attach://"):
                upload = self.files.get(value[len("attach://") :])
                if upload:
                    value = upload.describe()
            out[key] = value
        for key, upload in self.files.items():
            if key not in out and not any(isinstance(v, str) and v == f"attach://{key}" for v in self.raw.values()):
                out[key] = upload.describe()
        return out

    def str(self, name: str, default: str | None = None) -> str | None:
        value = self.raw.get(name)
        if value is None:
            return default
        if isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)

    def int(self, name: str, default: int | None = None) -> int | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            try:
                as_float = float(str(value))
            except ValueError as exc:
                raise bad_request(f'field "{name}" must be of type Integer') from exc
            if as_float.is_integer():
                return int(as_float)
            raise bad_request(f'field "{name}" must be of type Integer') from None

    def float(self, name: str, default: float | None = None) -> float | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        try:
            return float(str(value).strip())
        except ValueError as exc:
            raise bad_request(f'field "{name}" must be of type Number') from exc

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1", "yes", "on")

    def json(self, name: str, what: str = "JSON object") -> Any:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise bad_request(f"can't parse {what}") from exc
        return value

    def file(self, name: str) -> Upload | str | None:
        """An uploaded file (direct part or attach://), or the string value (file_id / URL)."""
        value = self.raw.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = self.files.get(value[len("attach://") :])
            if upload is None:
                raise bad_request(f'can\'t find attached file "{value[len("attach://") :]}"')
            return upload
        if name in self.files:
            return self.files[name]
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else str(value)
