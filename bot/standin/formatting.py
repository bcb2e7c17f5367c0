"""Text formatting the way the Bot API does it: parse_mode -> plain text + MessageEntity list.

Offsets and lengths of entities are in UTF-16 code units, as in the real API.
Errors raise :class:`FormattingError` with Telegram's wording (without the "Bad Request: " prefix).
"""

from __future__ import annotations

import html
import re

__all__ = [
    "FormattingError",
    "auto_entities",
    "parse_html",
    "parse_markdown_v2",
    "parse_text",
    "utf16_len",
]


class FormattingError(ValueError):
    """The text could not be parsed; ``str(exc)`` is Telegram's description after "Bad Request: "."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "span": "spoiler",
    "tg-emoji": "custom_emoji",
}
_ATTR_RE = re.compile(r"""\s*([A-Za-z_:][-A-Za-z0-9_:.]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?""")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]+);")


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def parse_html(source: str) -> tuple[str, list[dict]]:
    """Parse Telegram-flavoured HTML. Returns (text, entities)."""
    out: list[str] = []
    out_len = 0  # UTF-16 length of out
    stack: list[tuple[str, int, dict]] = []  # (tag, start offset, entity)
    entities: list[dict] = []
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch == "&":
            m = _ENTITY_RE.match(source, i)
            if m and (m.group(1).startswith("#") or m.group(1) in _NAMED):
                name = m.group(1)
                if name.startswith("#"):
                    code = int(name[2:], 16) if name[1:2] in "xX" else int(name[1:])
                    piece = chr(code) if 0 < code < 0x110000 else "\ufffd"
                else:
                    piece = _NAMED[name]
                i = m.end()
            else:
                piece = "&"
                i += 1
            out.append(piece)
            out_len += utf16_len(piece)
            continue
        if ch != "<":
            j = i
            while j < n and source[j] not in "<&":
                j += 1
            piece = source[i:j]
            out.append(piece)
            out_len += utf16_len(piece)
            i = j
            continue
        start = i
        end = source.find(">", i)
        if end < 0:
            raise FormattingError(
                f"can't parse entities: Unclosed start tag at byte offset {_byte_offset(source, start)}"
            )
        inner = source[i + 1 : end]
        i = end + 1
        if inner.startswith("/"):
            name = inner[1:].strip().lower()
            if not stack:
                raise FormattingError(
                    f"can't parse entities: Unexpected end tag at byte offset {_byte_offset(source, start)}"
                )
            tag, begin, entity = stack.pop()
            if name != tag:
                raise FormattingError(
                    f"can't parse entities: Unmatched end tag at byte offset {_byte_offset(source, start)}, "
                    f'expected "</{tag}>", found "</{name}>"'
                )
            length = out_len - begin
            if entity and length > 0:
                entity["offset"] = begin
                entity["length"] = length
                entities.append(entity)
            continue
        m = re.match(r"[A-Za-z][-A-Za-z0-9]*", inner)
        if not m:
            raise FormattingError(
                f"can't parse entities: Unexpected end of name token at byte offset {_byte_offset(source, start)}"
            )
        tag = m.group(0).lower()
        if tag not in _HTML_TAGS:
            raise FormattingError(
                f'can\'t parse entities: Unsupported start tag "{tag}" at byte offset {_byte_offset(source, start)}'
            )
        attrs: dict[str, str] = {}
        for am in _ATTR_RE.finditer(inner, m.end()):
            if am.group(1):
                value = am.group(2) or ""
                if value[:1] in "\"'":
                    value = value[1:-1]
                attrs[am.group(1).lower()] = html.unescape(value)
        entity: dict = {"type": _HTML_TAGS[tag]}
        if tag == "a":
            href = attrs.get("href", "")
            entity["url"] = href
            if not href:
                entity = {}
        elif tag == "span":
            if attrs.get("class") != "tg-spoiler":
                raise FormattingError(
                    'can\'t parse entities: Tag "span" must have class "tg-spoiler" at byte offset '
                    f"{_byte_offset(source, start)}"
                )
        elif tag == "tg-emoji":
            entity["custom_emoji_id"] = attrs.get("emoji-id", "")
        elif tag == "blockquote" and "expandable" in attrs:
            entity["type"] = "expandable_blockquote"
        elif tag == "code" and stack and stack[-1][0] == "pre":
            lang = attrs.get("class", "")
            pre_entity = stack[-1][2]
            if lang.startswith("language-") and pre_entity:
                pre_entity["language"] = lang[len("language-") :]
            entity = {}
        stack.append((tag, out_len, entity))
    if stack:
        raise FormattingError(f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1][0]}\"")
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


_MD_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MD_NAMES = {
    "*": ("bold", "Bold"),
    "_": ("italic", "Italic"),
    "__": ("underline", "Underline"),
    "~": ("strikethrough", "Strikethrough"),
    "||": ("spoiler", "Spoiler"),
}


def parse_markdown_v2(source: str) -> tuple[str, list[dict]]:
    """Parse MarkdownV2 (bold, italic, underline, strikethrough, spoiler, code, pre, links)."""
    out: list[str] = []
    out_len = 0
    entities: list[dict] = []
    stack: list[tuple[str, int, int]] = []  # (marker, start offset, source index)
    i = 0
    n = len(source)

    def emit(piece: str) -> None:
        nonlocal out_len
        out.append(piece)
        out_len += utf16_len(piece)

    while i < n:
        ch = source[i]
        if ch == "\\":
            if i + 1 < n and 0 < ord(source[i + 1]) < 127:
                emit(source[i + 1])
                i += 2
                continue
            emit("\\")
            i += 1
            continue
        if ch == "`":
            is_pre = source.startswith("```", i)
            fence = "```" if is_pre else "`"
            j = i + len(fence)
            lang = ""
            if is_pre:
                nl = source.find("\n", j)
                first = source[j:nl] if nl >= 0 else ""
                if nl >= 0 and re.fullmatch(r"[A-Za-z0-9_+-]*", first):
                    lang = first
                    j = nl + 1
            buf: list[str] = []
            while j < n and not source.startswith(fence, j):
                if source[j] == "\\" and j + 1 < n and source[j + 1] in "`\\":
                    buf.append(source[j + 1])
                    j += 2
                else:
                    buf.append(source[j])
                    j += 1
            if j >= n:
                kind = "Pre" if is_pre else "Code"
                raise FormattingError(
                    f"can't parse entities: Can't find end of {kind} entity at byte offset {_byte_offset(source, i)}"
                )
            begin = out_len
            emit("".join(buf))
            if out_len > begin:
                entity: dict = {
                    "type": "pre" if is_pre else "code",
                    "offset": begin,
                    "length": out_len - begin,
                }
                if lang:
                    entity["language"] = lang
                entities.append(entity)
            i = j + len(fence)
            continue
        if ch == "[":
            stack.append(("[", out_len, i))
            i += 1
            continue
        if ch == "]" and stack and stack[-1][0] == "[":
            _, begin, _src = stack.pop()
            if source.startswith("(", i + 1):
                close = source.find(")", i + 2)
                if close < 0:
                    raise FormattingError(
                        f"can't parse entities: Can't find end of a URL at byte offset {_byte_offset(source, i + 1)}"
                    )
                url = re.sub(r"\\(.)", r"\1", source[i + 2 : close])
                if out_len > begin:
                    entities.append({"type": "text_link", "offset": begin, "length": out_len - begin, "url": url})
                i = close + 1
                continue
            raise FormattingError(
                "can't parse entities: Character ']' is reserved and must be escaped with the preceding '\\'"
            )
        marker = None
        for cand in ("__", "||", "*", "_", "~"):
            if source.startswith(cand, i):
                marker = cand
                break
        if marker is not None:
            if stack and stack[-1][0] == marker:
                _, begin, _src = stack.pop()
                if out_len > begin:
                    entities.append({"type": _MD_NAMES[marker][0], "offset": begin, "length": out_len - begin})
            else:
                stack.append((marker, out_len, i))
            i += len(marker)
            continue
        if ch == ">" and (i == 0 or source[i - 1] == "\n"):
            # blockquote line marker: accepted, rendered as plain text lines
            i += 1
            continue
        if ch in _MD_RESERVED:
            raise FormattingError(
                f"can't parse entities: Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        emit(ch)
        i += 1
    if stack:
        marker, _begin, src = stack[-1]
        name = "TextUrl" if marker == "[" else _MD_NAMES[marker][1]
        raise FormattingError(
            f"can't parse entities: Can't find end of {name} entity at byte offset {_byte_offset(source, src)}"
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


_AUTO_RE = re.compile(
    r"(?P<bot_command>(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?)"
    r"|(?P<url>\bhttps?://[^\s<>\"]+)"
    r"|(?P<mention>(?<!\w)@[A-Za-z][A-Za-z0-9_]{3,31})"
    r"|(?P<hashtag>(?<![\w#])#\w+)"
)


def auto_entities(text: str) -> list[dict]:
    """Entities Telegram detects by itself in plain text: commands, URLs, @mentions, #hashtags."""
    entities = []
    for m in _AUTO_RE.finditer(text):
        kind = m.lastgroup or "url"
        entities.append({"type": kind, "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group(0))})
    return entities


def parse_text(text: str, parse_mode: str | None, entities: list[dict] | None = None) -> tuple[str, list[dict]]:
    """Apply parse_mode (or explicit entities) and add auto-detected entities not covered by others."""
    mode = (parse_mode or "").strip().lower()
    if entities:
        parsed, found = text, [dict(e) for e in entities]
    elif mode == "html":
        parsed, found = parse_html(text)
    elif mode == "markdownv2":
        parsed, found = parse_markdown_v2(text)
    elif mode in ("", "none"):
        parsed, found = text, []
    elif mode == "markdown":
        parsed, found = _parse_markdown_legacy(text)
    else:
        raise FormattingError(f"unsupported parse_mode {parse_mode!r}")
    taken = [(e["offset"], e["offset"] + e["length"]) for e in found if e["type"] in ("code", "pre", "text_link")]
    for auto in auto_entities(parsed):
        s, e = auto["offset"], auto["offset"] + auto["length"]
        if not any(a < e and s < b for a, b in taken):
            found.append(auto)
    found.sort(key=lambda e: (e["offset"], -e["length"]))
    return parsed, found


def _parse_markdown_legacy(source: str) -> tuple[str, list[dict]]:
    out: list[str] = []
    out_len = 0
    entities: list[dict] = []
    pattern = re.compile(r"\*([^*]+)\*|_([^_]+)_|`([^`]+)`|\[([^\]]+)\]\(([^)]+)\)")
    pos = 0
    for m in pattern.finditer(source):
        before = source[pos : m.start()]
        out.append(before)
        out_len += utf16_len(before)
        if m.group(1) is not None:
            kind, body, extra = "bold", m.group(1), {}
        elif m.group(2) is not None:
            kind, body, extra = "italic", m.group(2), {}
        elif m.group(3) is not None:
            kind, body, extra = "code", m.group(3), {}
        else:
            kind, body, extra = "text_link", m.group(4), {"url": m.group(5)}
        entities.append({"type": kind, "offset": out_len, "length": utf16_len(body), **extra})
        out.append(body)
        out_len += utf16_len(body)
        pos = m.end()
    out.append(source[pos:])
    return "".join(out), entities
