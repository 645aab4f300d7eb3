"""The local ONNX embedder against the torch one (the same weights, the same vectors), its model file built once into
the cache and reused, and built again when missing or corrupt; the query cache; embedders of one vector space
searching each other's collections."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coditect_magics.memory import Embedder, Memory, StoreError, get_embedder
from coditect_magics.memory.local import OnnxEmbedder, batches
from tests import parts

# ChromaDB and the local embedder are required parts: missing, every test here skips (locally) or fails (in CI)
pytestmark = pytest.mark.usefixtures("local_embedder")

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    "To reverse a string in Python, use slicing with a negative step: text[::-1].",
    "The staging Kafka cluster for project Nimbus listens on port 9093, not the default one.",
    "what port is kafka on?",
    "Sourdough needs a ripe starter, a long cold proof and a very hot oven.",
    "## Communication Protocol\n\nBegin every task by asking the context manager for the state of the project. "
    "Send a short request naming what you need: the repository layout, the conventions in force, the open decisions "
    "and the people who own them. Report progress in short updates. " * 3,  # longer than 256 word pieces: truncated
    "Überprüfe die Qualität — naïve café façade 数据 ✓ →",
    "x",
]


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("CODITECT_EMBEDDER", raising=False)


def cosines(a: list[list[float]], b: list[list[float]]) -> list[float]:
    import numpy as np
    x, y = np.asarray(a), np.asarray(b)
    return list((x * y).sum(1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)))


def test_onnx_vectors_agree_with_torch(tmp_path: Path) -> None:
    parts.torch_embedder()
    torch_vectors = get_embedder("local-torch")(TEXTS)
    # sentence-transformers reads 256 word pieces of a text, the ONNX embedder 128 unless told: the same here
    fp32 = OnnxEmbedder("fp32", cache=tmp_path, max_tokens=256)(TEXTS)
    int8 = OnnxEmbedder("int8", cache=tmp_path, max_tokens=256)(TEXTS)
    assert min(cosines(fp32, torch_vectors)) >= 0.9999
    # int8 (per-channel weights): ≥ 0.99 on every text of a few words (0.992-0.996 measured); a lone character, with
    # little to average over, still ≥ 0.97 (0.979 measured)
    int8_cosines = dict(zip(TEXTS, cosines(int8, torch_vectors)))
    assert all(c >= 0.99 for t, c in int8_cosines.items() if len(t) > 1), int8_cosines
    assert int8_cosines["x"] >= 0.97
    assert all(abs(sum(x * x for x in v) - 1) < 1e-4 for v in int8)  # unit length, as sentence-transformers gives
    assert len(int8[0]) == 384
    short = [t for t in TEXTS if len(t) < 300]  # within 128 word pieces: the default reads them whole
    assert min(cosines(OnnxEmbedder("int8", cache=tmp_path)(short), get_embedder("local-torch")(short))) >= 0.97


def test_importing_the_embedders_loads_no_runtime() -> None:
    code = ("import sys, coditect_magics.memory.local, coditect_magics.memory.onnx_model, "
            "coditect_magics.memory.sources; from coditect_magics.memory import get_embedder; e = get_embedder('local'); "
            "print(sorted(x for x in ('onnxruntime', 'onnx', 'tokenizers', 'torch', 'numpy', 'pandas', 'chromadb') "
            "if x in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_local_is_the_onnx_embedder_and_the_names_stay() -> None:
    assert isinstance(get_embedder(), OnnxEmbedder) and get_embedder().name == "local"
    assert get_embedder("local").variant == "int8" and get_embedder("local:fp32").name == "local:fp32"
    assert get_embedder("local-torch").name == "local-torch"
    with pytest.raises(Exception, match="variants are"):
        get_embedder("local:int4")


def test_the_model_file_is_built_once_then_reused(tmp_path: Path) -> None:
    embedder = OnnxEmbedder("fp32", cache=tmp_path)
    first = embedder(["hello"])
    path = embedder.model_file
    assert path is not None and path.parent == tmp_path and path.exists()
    stamp = path.stat().st_mtime_ns, path.stat().st_ino
    again = load_in_a_fresh_process(tmp_path, "fp32")  # another process: nothing cached in memory
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == stamp
    assert again["file"] == str(path) and min(cosines([again["vector"]], first)) > 0.99999
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".onnx" or p.name.startswith(".build")] == [path.name]


@pytest.mark.parametrize("damage", ["corrupt", "missing", "truncated"])
def test_a_damaged_or_missing_model_file_is_built_again(tmp_path: Path, damage: str) -> None:
    embedder = OnnxEmbedder("fp32", cache=tmp_path)
    good = embedder(["the cache"])
    path = embedder.model_file
    size = path.stat().st_size
    if damage == "corrupt":
        path.write_bytes(b"not an onnx model" * 100)
    elif damage == "missing":
        path.unlink()
    else:
        with path.open("r+b") as f:
            f.truncate(size // 2)
    again = load_in_a_fresh_process(tmp_path, "fp32", "the cache")
    assert path.exists() and path.stat().st_size == size
    assert min(cosines([again["vector"]], good)) > 0.99999


def load_in_a_fresh_process(cache: Path, variant: str, text: str = "hello") -> dict:
    code = ("import json, sys; from coditect_magics.memory.local import OnnxEmbedder; "
            f"e = OnnxEmbedder({variant!r}, cache={str(cache)!r}); v = e([{text!r}])[0]; "
            "print(json.dumps({'file': str(e.model_file), 'vector': v}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_weights_folder_that_is_not_bert_says_so(tmp_path: Path) -> None:
    from coditect_magics.memory import EmbedderError
    from coditect_magics.memory.local import weights_dir
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("model.safetensors", "tokenizer.json"):
        (folder / name).symlink_to(Path(weights_dir()) / name)
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(EmbedderError, match="only BERT"):
        OnnxEmbedder("fp32", model_dir=str(folder), cache=tmp_path / "cache")(["hello"])


def test_a_repeated_query_is_embedded_once(tmp_path: Path) -> None:
    class Counting(Embedder):
        name = "counting"
        calls = 0

        def _embed(self, texts):
            Counting.calls += len(texts)
            return [[float(len(t)), 1.0, float(t.count("a"))] for t in texts]

    memory = Memory(tmp_path, embedder=Counting())
    memory.add_many(["alpha beta", "gamma delta", "a banana"])
    before = Counting.calls
    first = memory.search("banana bread", k=2)
    assert Counting.calls == before + 1
    assert [h.id for h in memory.search("banana bread", k=2)] == [h.id for h in first]
    assert Counting.calls == before + 1  # the second search used the cached vector
    memory.search("something else", k=1)
    assert Counting.calls == before + 2


def test_embedders_of_one_space_share_a_collection(tmp_path: Path) -> None:
    parts.torch_embedder()
    built = Memory(tmp_path, embedder="local-torch")
    built.add("The staging Kafka cluster listens on port 9093.", source="ops.md")
    for name in ("local", "local:fp32"):
        hits = Memory(tmp_path, embedder=name).search("which port does kafka use", k=1)
        assert hits and hits[0].source == "ops.md"

    class Tiny(Embedder):
        name = "tiny"

        def _embed(self, texts):
            return [[1.0, 0.0] for _ in texts]

    with pytest.raises(StoreError, match="built with embedder 'local-torch'"):
        Memory(tmp_path, embedder=Tiny()).count()


def test_batches_group_texts_of_a_length_within_the_budget() -> None:
    import numpy as np
    rng = np.random.default_rng(3)
    lengths = rng.integers(3, 257, size=700)
    groups = list(batches(lengths, 4096))
    seen = np.concatenate(groups)
    assert sorted(seen.tolist()) == list(range(700))
    for group in groups:
        longest = int(lengths[group].max())
        assert len(group) == 1 or len(group) * longest <= 4096
        assert int(lengths[group[-1]]) == longest  # the last is the longest: the batch is padded to it
    assert len(groups) < 700 / 10  # texts run many at a time
