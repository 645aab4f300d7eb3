"""What a provider adapter is: a spec (name, SDK, credentials, endpoint) and a class that turns a Request into a Reply."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, ClassVar, Mapping

from . import errors
from .output import OutputMode
from .secrets import remember
from .types import Chunk, Reply, Request

if sys.version_info >= (3, 11):
    from asyncio import timeout
else:  # pragma: no cover - Python 3.10
    from async_timeout import timeout  # noqa: F401 - used by handle.py


@dataclass(frozen=True)
class Settings:
    """Per-handle connection settings; the key is kept out of reprs."""

    api_key: str | None = field(default=None, repr=False)
    key_source: str = ""  # where api_key came from in words (a stored key's place), for `status` to say
    base_url: str | None = None
    timeout: float = 60.0
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderSpec:
    """Everything the factory and `available()` need to know without importing the SDK."""

    name: str
    default_model: str
    description: str
    extra: str = ""
    sdk_modules: tuple[str, ...] = ()
    key_env: tuple[str, ...] = ()
    key_required: bool = True
    base_url_env: str = ""
    default_base_url: str = ""
    models: tuple[str, ...] = ()
    probe_server: bool = False
    tools: bool = True  # calls tools natively (the embedded model does not)
    images: bool | None = None  # reads images; None: only the server can say (subclasses may decide per model)
    vision_models: str = ""  # what a refusal of an image suggests instead, e.g. "openai:gpt-4.1-mini or openai:gpt-4o"
    prices_id: str = ""  # the provider's name in genai-prices' data where it is not `name` (gemini is "google")
    wraps: bool = False  # a wrapper around another model (search:MODEL): usable when that model is
    batch: str = ""  # the module of its batch adapter (batching.BatchAPI), e.g. "openai_batch"; "" when it has none
    output: OutputMode | None = None  # how it constrains an answer to a schema (output.OutputMode); None: it cannot

    def accepts_images(self, model: str) -> bool | None:
        """Whether `model` reads images: True, False, or None when only the server can say."""
        return self.images

    def output_mode(self, model: str, tools: bool = False) -> OutputMode | None:
        """How `model` is held to a request's output schema (`tools`: in a request that also gives it tools):
        "json_schema", "tool", "grammar", or None when it cannot be (the service then asks in the prompt and
        validates)."""
        return self.output

    def context_window(self, model: str) -> int | None:
        """The model's input limit in tokens (genai-prices' bundled data), None where unknown."""
        return listed_context_window(self.prices_id or self.name, model)

    def install_hint(self) -> str:
        return f"pip install 'coditect-magics[{self.extra}]'"

    def missing_modules(self) -> list[str]:
        return [m for m in self.sdk_modules if importlib.util.find_spec(m) is None]

    def key(self, settings: Settings) -> str | None:
        """The API key: the explicit setting first, then the environment variables in order."""
        key = settings.api_key or next((os.environ[v] for v in self.key_env if os.environ.get(v)), None)
        remember(key)
        return key

    def unusable_reason(self, settings: Settings) -> str | None:
        """Why the provider cannot run beyond a missing SDK or key (e.g. a missing model file); None if it can."""
        return None

    def needs_key(self, settings: Settings) -> bool:
        return self.key_required

    def require_key(self, settings: Settings, model: str = "") -> str:
        key = self.key(settings)
        if not key:
            names = " or ".join(self.key_env)
            raise errors.MissingCredentials(f"{names} not set (or pass api_key=)", variables=self.key_env,
                                            provider=self.name, model=model)
        return key

    def base_url(self, settings: Settings) -> str:
        return (settings.base_url or (os.environ.get(self.base_url_env) if self.base_url_env else None)
                or self.default_base_url)


def listed_context_window(provider_id: str, model: str) -> int | None:
    """A model's input limit in tokens as genai-prices' bundled (offline) data lists it; None where it does not."""
    try:
        from genai_prices import data_snapshot  # ~0.2 s: imported on first use only
        return data_snapshot.get_snapshot().find_provider_model(model, None, provider_id, None)[1].context_window
    except Exception:  # LookupError for unknown models and providers (ollama); the data must never break a call
        return None


def require_sdk(spec: ProviderSpec, module: str) -> Any:
    """Import an SDK on first use, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise errors.MissingDependency(f"the {module} package is missing: {spec.install_hint()}",
                                       extra=spec.extra, provider=spec.name) from None


class Provider:
    """Base of the adapters. Subclasses set `spec` and implement `complete` and `stream`; the handle adds timing,
    timeouts and error mapping."""

    spec: ClassVar[ProviderSpec]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def complete(self, request: Request) -> Reply:
        raise NotImplementedError

    def stream(self, request: Request) -> AsyncIterator[Chunk]:
        raise NotImplementedError

    def map_error(self, exc: BaseException) -> errors.ProviderError | None:
        """Turn an SDK exception into the kit's error; None leaves it to the common transport mapping."""
        return None

    async def aclose(self) -> None:
        """Release the SDK client."""


_CUT_NAMES = {"ServerDisconnectedError", "ClientPayloadError", "RemoteProtocolError", "ReadError",
              "IncompleteRead", "ContentLengthError", "TransferEncodingError"}
_UNREACHABLE_NAMES = {"ConnectError", "ClientConnectorError", "ClientConnectionError", "APIConnectionError",
                      "ConnectionError", "ConnectionRefusedError", "ClientOSError"}
_TIMEOUT_NAMES = {"TimeoutError", "TimeoutException", "ReadTimeout", "ConnectTimeout", "APITimeoutError",
                  "ServerTimeoutError", "InferenceTimeoutError"}


def map_transport_error(exc: BaseException, provider: str, model: str) -> errors.ProviderError | None:
    """Map the transport errors every SDK lets through (by class name, so no SDK is imported here)."""
    names: set[str] = set()
    seen: BaseException | None = exc
    for _ in range(8):  # the SDK's error and the transport errors it wraps
        if seen is None:
            break
        names |= {cls.__name__ for cls in type(seen).__mro__}
        seen = seen.__cause__ or seen.__context__
    kw = {"provider": provider, "model": model}
    if names & _TIMEOUT_NAMES:
        return errors.Timeout("no answer within the timeout", **kw)
    if names & _CUT_NAMES:
        return errors.StreamCut(f"the connection closed before the reply was complete ({type(exc).__name__})", **kw)
    if names & _UNREACHABLE_NAMES:
        return errors.Unreachable(f"cannot connect to the server ({type(exc).__name__})", **kw)
    if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)) or "JSONDecodeError" in names:
        return errors.BadResponse("the server sent a reply that is not valid JSON", **kw)
    if isinstance(exc, asyncio.IncompleteReadError):
        return errors.StreamCut("the connection closed before the reply was complete", **kw)
    return None


_FINISH = {"stop": "stop", "end_turn": "stop", "stop_sequence": "stop", "length": "length", "max_tokens": "length",
           "tool_calls": "tool_calls", "tool_use": "tool_calls", "function_call": "tool_calls",
           "content_filter": "content_filter", "safety": "content_filter", "recitation": "content_filter",
           "eos_token": "stop", "refusal": "content_filter", "model_context_window_exceeded": "length"}


def normalize_finish(reason: str | None) -> str | None:
    """Each API's stop reason in the kit's words: stop, length, tool_calls, content_filter (else lower-cased)."""
    if reason is None:
        return None
    reason = str(getattr(reason, "value", reason)).lower()
    return _FINISH.get(reason, reason)
