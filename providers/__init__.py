"""The provider core: `get("provider:model")` gives a handle with `complete` and `stream` on any provider's
official SDK; `available()` says which providers can be called; `register()` adds one.

Importing this package imports no SDK: each is imported when its provider is first used."""

from . import errors
from .base import Provider, ProviderSpec, Settings
from .handle import LLM, ReplyStream
from .registry import ALIASES, Availability, available, get, names, register, resolve, status
from .types import (Chunk, ImagePart, Message, OutputSchema, Reply, Request, Source, TextPart, ToolCall, ToolCallDelta, ToolResult,
                    ToolSpec, Usage)

__all__ = ["ALIASES", "Availability", "Chunk", "ImagePart", "LLM", "Message", "OutputSchema", "Provider", "ProviderSpec", "Reply",
           "ReplyStream", "Request", "Settings", "Source", "TextPart", "ToolCall", "ToolCallDelta", "ToolResult",
           "ToolSpec", "Usage", "available", "errors", "get", "names", "register", "resolve", "status"]
