"""Files: photos and documents the users or the bot send, getFile, and their downloads."""

from __future__ import annotations

import asyncio
import base64
import copy

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .media import image_size, photo_sizes
from .model import _File
from .model import json_response as _json
from .wire import Params, bad_request

MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024


class FilesMixin:
    """Mixed into ``StandIn``: the file store (``self._files``, ``self._files_by_path``)."""

    def _new_file(
        self,
        content: bytes | None,
        *,
        size: int | None,
        mime_type: str,
        folder: str,
        ext: str,
        prefix: str,
        url: str | None = None,
    ) -> _File:
        n = next(self._file_counter)
        uid = base64.urlsafe_b64encode(n.to_bytes(6, "big")).decode().rstrip("=")
        file_id = f"{prefix}AAxkBAAI{uid}{base64.urlsafe_b64encode(str(n * 7919).encode()).decode().rstrip('=')}"
        record = _File(
            file_id=file_id,
            file_unique_id=f"AQAD{uid}",
            file_path=f"{folder}/file_{n}.{ext}",
            size=size if size is not None else len(content or b""),
            content=content,
            mime_type=mime_type,
            url=url,
        )
        self._files[file_id] = record
        self._files_by_path[record.file_path] = record
        return record

    def _photo(self, content: bytes | None, url: str | None = None) -> list[dict]:
        dims = image_size(content) if content else None
        width, height = dims or (1280, 960)
        mime = "image/png" if content and content[:4] == b"\x89PNG" else "image/jpeg"
        ext = "png" if mime == "image/png" else "jpg"
        sizes: list[dict] = []
        for w, h in photo_sizes(width, height):
            record = self._new_file(
                content,
                size=None,
                mime_type=mime,
                folder="photos",
                ext=ext,
                prefix="AgACAgUAAxkBAAI",
                url=url,
            )
            entry = {
                "file_id": record.file_id,
                "file_unique_id": record.file_unique_id,
                "width": w,
                "height": h,
            }
            if content is not None:
                entry["file_size"] = record.size
            sizes.append(entry)
        for entry in sizes:
            self._photo_sets[entry["file_id"]] = sizes
        return copy.deepcopy(sizes)

    def _document(
        self,
        content: bytes | None,
        file_name: str,
        mime_type: str,
        size: int | None = None,
        url: str | None = None,
    ) -> dict:
        ext = file_name.rsplit(".", 1)[-1] if "." in file_name else "bin"
        record = self._new_file(
            content,
            size=size,
            mime_type=mime_type,
            folder="documents",
            ext=ext,
            prefix="BQACAgUAAxkBAAI",
            url=url,
        )
        doc = {
            "file_name": file_name,
            "mime_type": mime_type,
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
        }
        if content is not None or size is not None:
            doc["file_size"] = record.size
        self._documents[record.file_id] = doc
        return dict(doc)

    def _m_getFile(self, p: Params) -> dict:
        record = self._files.get(p.str("file_id") or "")
        if record is None:
            raise bad_request("wrong file_id or the file is temporarily unavailable")
        if record.size > MAX_DOWNLOAD_SIZE:
            raise bad_request("file is too big")
        return {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": record.size,
            "file_path": record.file_path,
        }

    async def _file_download(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return _json({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        record = self._files_by_path.get(request.path_params["file_path"])
        if self.faults.download_delay > 0:
            await asyncio.sleep(self.faults.download_delay)
        self.downloads.append({"file_path": request.path_params["file_path"], "found": record is not None})
        return self._serve_file(record)

    def _serve_file(self, record: _File | None) -> Response:
        if record is None:
            return _json({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        if record.content is None:
            if record.url:
                return RedirectResponse(record.url)
            return _json({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        return Response(record.content, media_type=record.mime_type)

    # ------------------------------------------------------------------ HTTP: control API for the page
    async def _c_file(self, request: Request) -> Response:
        return self._serve_file(self._files.get(request.path_params["file_id"]))
