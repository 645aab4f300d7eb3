"""One small hierarchy that every SDK's errors map onto; messages are short and never hold a key."""

from __future__ import annotations

from .secrets import redact


class ProviderError(Exception):
    """Base of the kit's provider errors. `retryable`: worth another attempt; `fallback`: worth the next provider."""

    retryable = False
    fallback = False
    detail = ""  # what the SDK said, redacted: for a "details" section under the one-line message
    partial = ""  # a stream's text received before it failed (whatever the error: a cut, an error event...)

    def __init__(self, message: str, *, provider: str = "", model: str = "") -> None:
        self.message = redact(message)
        self.provider = provider
        self.model = model
        super().__init__(self.message)

    def __str__(self) -> str:
        where = f"{self.provider}:{self.model}" if self.provider and self.model else self.provider
        return f"{where}: {self.message}" if where else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


def describe(exc: BaseException, limit: int = 4000) -> str:
    """An SDK exception and the ones it wraps, one per line with HTTP status and request id where the SDK has
    them, redacted and bounded: the rest of the story behind a kit error's one line."""
    lines: list[str] = []
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            break
        extra = [f"{name}={getattr(seen, name)}" for name in ("status_code", "request_id", "code")
                 if getattr(seen, name, None) not in (None, "")]
        lines.append(f"{type(seen).__module__}.{type(seen).__name__}: {seen}" + (f" ({', '.join(extra)})" if extra
                                                                                   else ""))
        seen = seen.__cause__ or seen.__context__
    return redact("\n".join(lines))[:limit]


class UnknownProvider(ProviderError, LookupError):
    """The id names no registered provider or alias."""


class MissingDependency(ProviderError):
    def __init__(self, message: str, *, extra: str, **kw: str) -> None:
        self.extra = extra
        super().__init__(message, **kw)


class MissingCredentials(ProviderError):
    fallback = True

    def __init__(self, message: str, *, variables: tuple[str, ...] = (), **kw: str) -> None:
        self.variables = variables
        super().__init__(message, **kw)


class AuthenticationFailed(ProviderError):
    fallback = True


class RateLimited(ProviderError):
    retryable = True
    fallback = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: str) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ServerError(ProviderError):
    retryable = True
    fallback = True

    def __init__(self, message: str, *, status: int | None = None, **kw: str) -> None:
        self.status = status
        super().__init__(message, **kw)


class Timeout(ProviderError):
    retryable = True
    fallback = True


class Unreachable(ProviderError):
    retryable = True
    fallback = True


class BadRequest(ProviderError):
    """The request itself is wrong: retrying or another provider will not help."""


class ContextTooLong(BadRequest):
    pass


class ModelNotFound(ProviderError):
    pass


class BatchNotFound(ProviderError, LookupError):
    """A batch id the provider does not know (mistyped, another account's, or deleted)."""


class BadResponse(ProviderError):
    """The server answered something that is not the protocol (invalid JSON, missing fields)."""

    retryable = True
    fallback = True


class StreamCut(ProviderError):
    """A stream ended before its last event; `partial` holds the text received until then."""

    retryable = True
    fallback = True

    def __init__(self, message: str, *, partial: str = "", **kw: str) -> None:
        self.partial = partial
        super().__init__(message, **kw)


def from_status(status: int, detail: str, *, retry_after: float | None = None, provider: str = "",
                model: str = "") -> ProviderError:
    """Map an HTTP status and the server's message to the kit's error."""
    kw = {"provider": provider, "model": model}
    detail = " ".join(detail.split())[:300] or f"HTTP {status}"
    low = detail.lower()
    if status in (401, 403):
        return AuthenticationFailed(f"authentication failed (HTTP {status}): {detail}", **kw)
    if status == 429:
        wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
        return RateLimited(f"rate limited (HTTP 429){wait}: {detail}", retry_after=retry_after, **kw)
    if status == 404 and _wrong_address(low):
        what = "an HTML page" if "<html" in low or "<!doctype" in low else detail
        return ModelNotFound(f"nothing answers at this address (HTTP 404: {what}); check the base URL", **kw)
    if status == 404:
        return ModelNotFound(f"model not found (HTTP 404): {detail}", **kw)
    if status in (408, 504):
        return Timeout(f"the server timed out (HTTP {status}): {detail}", **kw)
    if status >= 500:
        return ServerError(f"server error (HTTP {status}): {detail}", status=status, **kw)
    if any(s in low for s in ("context length", "context window", "too many tokens", "prompt is too long",
                              "maximum context")):
        return ContextTooLong(f"the prompt is too long for the model (HTTP {status}): {detail}", **kw)
    return BadRequest(f"bad request (HTTP {status}): {detail}", **kw)


def _wrong_address(low: str) -> bool:
    """A 404 for the path rather than the model: the router's own answer (OpenAI's "Invalid URL", Anthropic's bare
    "Not Found", Go's "404 page not found", a web server's HTML page), not the API's word on a model."""
    low = low.removeprefix("error code: 404 - ").removeprefix("not found: ").strip()
    return (low.startswith("invalid url") or low in ("not found", "404 page not found")
            or low.startswith(("<!doctype html", "<html")))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime
    from datetime import datetime, timezone
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return None
