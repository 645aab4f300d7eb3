"""An MCP server's tools as the kit's Tools: named `mcp__SERVER__TOOL` (as Claude Code names them), the server's
JSON schema passed through (made an object schema where it is not one; each provider adapter cleans what its API
refuses), every call needing the `mcp` permission, and each result turned into what the model reads: text blocks as
text, images as images, embedded resources as text (or an image), links as a line; `isError` as a tool error."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

from coditect_magics.providers import ImagePart
from coditect_magics.providers.secrets import redact
from coditect_magics.tools.errors import ToolError
from coditect_magics.tools.schema import Tool, ToolOutput

PREFIX = "mcp__"
PERMISSION = "mcp"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


@dataclass(frozen=True)
class RemoteTool(Tool):
    """A tool of an MCP server: the server validates the arguments, so `run` hands them over as they are."""

    server: str = ""
    remote_name: str = ""        # the tool's own name on its server

    async def run(self, arguments: Mapping[str, Any]) -> "str | ToolOutput":
        """Call the server's tool with the arguments as the model wrote them."""
        if not isinstance(arguments, Mapping):
            raise ToolError(f"{self.name}: arguments must be a JSON object, got {type(arguments).__name__}")
        return await self.function(dict(arguments))


@dataclass(frozen=True)
class CallResult:
    """What one call gave: its text, images, whether the server flagged it an error, and its structured content."""

    text: str
    images: tuple[ImagePart, ...] = ()
    is_error: bool = False
    structured: Any = field(default=None, repr=False)

    def output(self) -> "str | ToolOutput":
        """As a tool returns it to the loop (an error raises: the model reads it as a tool error)."""
        if self.is_error:
            raise ToolError(self.text or "the MCP tool reported an error without saying why")
        return ToolOutput(self.text, self.images) if self.images else self.text

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """The text, and the first image as itself, in a notebook."""
        bundle: dict[str, Any] = {"text/plain": self.text + (f"\n({len(self.images)} image(s))" if self.images
                                                             else "")}
        for image in self.images[:1]:
            bundle[image.media_type] = base64.b64encode(image.data).decode()
        return bundle


def tool_name(server: str, tool: str) -> str:
    """`mcp__SERVER__TOOL`, with what a model API refuses in a tool name made `_`; past 64 characters, cut and
    ended with a hash so two long names stay apart."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", f"{PREFIX}{server}__{tool}")
    if len(name) <= 64:
        return name
    return f"{name[:55]}_{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def split_name(name: str) -> tuple[str, str]:
    """(server, tool) of `mcp__SERVER__TOOL`; tool is "" for `mcp__SERVER` (all of its tools)."""
    server, _, tool = name[len(PREFIX):].partition("__")
    return server, tool


def make_tool(server: str, listed: Any, call: Callable[[str, dict[str, Any]], Awaitable[CallResult]]) -> RemoteTool:
    """The kit's Tool for one listed MCP tool; `call(tool, arguments)` reaches the server."""
    remote = listed.name

    async def function(arguments: dict[str, Any]) -> "str | ToolOutput":
        """Call the tool on its server; the result as the loop takes it."""
        return (await call(remote, arguments)).output()

    title = getattr(listed, "title", None)
    description = (listed.description or title or f"The {remote} tool of the MCP server {server}.").strip()
    return RemoteTool(tool_name(server, remote), description, object_schema(listed.input_schema), function, None,
                      PERMISSION, server=server, remote_name=remote)


def object_schema(schema: Any) -> dict[str, Any]:
    """The server's input schema as every provider takes a tool's parameters: an object schema with properties
    (the root `$schema` dropped; a missing or non-object schema becomes an object taking anything)."""
    found = dict(schema) if isinstance(schema, Mapping) else {}
    found.pop("$schema", None)
    if "type" not in found and ("properties" in found or not found):
        found["type"] = "object"
    if found.get("type") != "object":
        return {"type": "object", "properties": {}}
    found.setdefault("properties", {})
    return found


def result_of(result: Any) -> CallResult:
    """The SDK's CallToolResult as text and images (a key the session knows, a header's say, hidden)."""
    texts: list[str] = []
    images: list[ImagePart] = []
    for block in result.content or ():
        kind = getattr(block, "type", "")
        if kind == "text":
            texts.append(block.text)
        elif kind == "image":
            _image(block.data, block.mime_type, images, texts)
        elif kind == "resource":
            _resource(block.resource, images, texts)
        elif kind == "resource_link":
            texts.append(f"[resource {block.uri}" + (f" ({block.name})" if getattr(block, "name", "") else "")
                         + (f": {block.description}" if getattr(block, "description", None) else "") + "]")
        elif kind == "audio":
            texts.append(f"[audio ({block.mime_type}) left out: models here do not take audio from tools]")
        else:
            texts.append(f"[{kind or type(block).__name__} content left out]")
    structured = getattr(result, "structured_content", None)
    if not texts and not images and structured is not None:
        texts.append(json.dumps(structured, ensure_ascii=False, default=str))
    return CallResult(redact("\n".join(texts)), tuple(images), bool(getattr(result, "is_error", False)), structured)


def _image(data: str, media_type: str, images: list[ImagePart], texts: list[str]) -> None:
    """A base64 image block into `images`, or a line into `texts` saying why it was left out."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        texts.append(f"[an image ({media_type}) that is not valid base64, left out]")
        return
    if media_type not in IMAGE_TYPES:
        texts.append(f"[an image of type {media_type} left out: models take {', '.join(IMAGE_TYPES)}]")
        return
    images.append(ImagePart(media_type, raw))


def _resource(resource: Any, images: list[ImagePart], texts: list[str]) -> None:
    """An embedded resource: its text under its URI, an image, decoded text, or a line saying what it was."""
    uri, media_type = str(resource.uri), getattr(resource, "mime_type", None) or ""
    text = getattr(resource, "text", None)
    if text is not None:
        texts.append(f"[resource {uri}" + (f" ({media_type})" if media_type else "") + f"]\n{text}")
    elif media_type in IMAGE_TYPES:
        _image(resource.blob, media_type, images, texts)
    elif media_type.startswith("text/") or media_type in ("application/json", "application/xml"):
        try:
            texts.append(f"[resource {uri} ({media_type})]\n"
                         f"{base64.b64decode(resource.blob).decode('utf-8', errors='replace')}")
        except (binascii.Error, ValueError):
            texts.append(f"[resource {uri} ({media_type}) that is not valid base64, left out]")
    else:
        size = len(resource.blob) * 3 // 4
        texts.append(f"[resource {uri} ({media_type or 'binary'}, about {size} bytes) left out: not text]")
