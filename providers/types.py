"""The common shapes every provider speaks: messages, requests, replies and stream chunks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence, Union

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    media_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class ToolCall:
    """A model's request to run a tool; `arguments` is already parsed JSON."""

    id: str
    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True)
class ToolResult:
    """A tool's answer to call `id`: its text, and images it returned (a figure, a screenshot) for models that read
    them; each adapter sends them in (or right after) the result, in the form its API takes."""

    id: str
    content: str
    is_error: bool = False
    name: str = ""
    images: tuple[ImagePart, ...] = ()


Part = Union[TextPart, ImagePart, ToolCall, ToolResult]


@dataclass(frozen=True)
class Message:
    """One turn of a conversation; content is plain text or a sequence of parts."""

    role: Role
    content: str | tuple[Part, ...]

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def parts(self) -> tuple[Part, ...]:
        if isinstance(self.content, str):
            return (TextPart(self.content),) if self.content else ()
        return self.content

    @classmethod
    def coerce(cls, value: "Message | Mapping[str, Any]") -> "Message":
        """Accept a Message or an OpenAI-style `{"role": ..., "content": ...}` dict."""
        if isinstance(value, Message):
            return value
        try:
            role, content = value["role"], value["content"]
        except (KeyError, TypeError):
            raise ValueError(f"a message needs 'role' and 'content', got {value!r:.80}") from None
        if role not in ("system", "user", "assistant", "tool"):
            raise ValueError(f"unknown message role {role!r}: use system, user, assistant or tool")
        if not isinstance(content, str):
            content = tuple(content)
        return cls(role, content)


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model may call: its name, what it does, and a JSON schema of its arguments."""

    name: str
    description: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True)
class OutputSchema:
    """The shape the answer must take: a JSON schema under a name. Each adapter sends it in its API's native form
    (a JSON-schema response format, a forced tool, a grammar); `strict` asks for the API's strict mode where the
    schema allows it."""

    name: str
    schema: Mapping[str, Any]
    strict: bool = True


@dataclass(frozen=True)
class Request:
    """One call: `model` is the full `provider:model` id; parameters left None use the provider's default."""

    model: str
    messages: tuple[Message, ...]
    temperature: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    output: OutputSchema | None = None   # answer as JSON of this schema (structured output)

    @property
    def provider(self) -> str:
        return self.model.split(":", 1)[0]

    @property
    def model_name(self) -> str:
        """The part after the provider prefix, as the provider's API names the model."""
        return self.model.split(":", 1)[1] if ":" in self.model else ""

    @property
    def system(self) -> str:
        """All system messages joined: most APIs take the system prompt apart from the turns."""
        return "\n\n".join(m.text for m in self.messages if m.role == "system")

    @property
    def turns(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.role != "system")

    @classmethod
    def build(cls, model: str, messages: Sequence["Message | Mapping[str, Any]"] | str, **params: Any) -> "Request":
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        stop = params.pop("stop", None) or ()
        return cls(model, tuple(Message.coerce(m) for m in messages),
                   stop=(stop,) if isinstance(stop, str) else tuple(stop), **params)


@dataclass(frozen=True)
class Usage:
    """Tokens of one call. `input_tokens` counts every prompt token, cached or not; `cached_tokens` says how many were
    read from the provider's prompt cache and `cache_write_tokens` how many were written to it (Anthropic bills
    those above plain input)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens,
                     self.cached_tokens + other.cached_tokens, self.cache_write_tokens + other.cache_write_tokens)


@dataclass(frozen=True)
class Source:
    """A web page the search wrapper gave the model."""

    title: str
    url: str
    snippet: str = ""


@dataclass(frozen=True)
class Reply:
    text: str
    provider: str
    model: str
    usage: Usage = Usage()
    finish_reason: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    latency_s: float = 0.0
    ttft_s: float | None = None
    sources: tuple[Source, ...] = ()
    note: str = ""
    cached: bool = False
    parsed: Any = None   # the validated object when the request asked for structured output

    def __str__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return self.text


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a tool call in a stream; pieces with the same index join into one call."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True)
class Chunk:
    """A piece of a streamed reply; the last one carries usage and the finish reason."""

    text: str = ""
    tool_call: ToolCallDelta | None = None
    usage: Usage | None = None
    finish_reason: str | None = None
    model: str | None = None
    sources: tuple[Source, ...] = ()
    note: str = ""
