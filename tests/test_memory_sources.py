"""Provenance: a text found in several files is stored once and keeps every source; search shows them all, filters
on any of them, and forgetting one source keeps the others. The search display keeps the file name."""

from __future__ import annotations

from pathlib import Path

import pytest

from coditect_magics.memory import Memory, index
from coditect_magics.memory.frame import hits_frame
from coditect_magics.memory.sources import shown, shown_sources

# ChromaDB and the local embedder are required parts: missing, every test here skips (locally) or fails (in CI)
pytestmark = pytest.mark.usefixtures("local_embedder")

SHARED = ("## Communication Protocol\n\nBegin every task by asking the context manager for the state of the project. "
          "Send a short request naming what you need: the repository layout, the conventions in force, the open "
          "decisions and the people who own them. Report progress in short updates: what was done, what is next and "
          "what blocks you. When the work is done, hand over a summary of what changed, why, and how it was checked.")
RUST = "You review Rust code for memory safety, ownership and borrowing, lifetimes and unsafe blocks. " * 6
GOLANG = "You write Go services with goroutines, channels, context cancellation and the race detector. " * 6


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("CODITECT_EMBEDDER", raising=False)
    monkeypatch.delenv("CODITECT_CHROMA_URL", raising=False)


@pytest.fixture
def agents(tmp_path: Path) -> Path:
    folder = tmp_path / "collection" / ".claude" / "agents"
    folder.mkdir(parents=True)
    (folder / "rust-pro.md").write_text(RUST + "\n\n" + SHARED)  # two chunks each: its own, then the shared one
    (folder / "golang-pro.md").write_text(GOLANG + "\n\n" + SHARED)
    return folder


def test_a_chunk_in_two_files_keeps_both_sources(tmp_path: Path, agents: Path) -> None:
    memory = Memory(tmp_path / "store")
    report = index(agents, memory, progress=False)
    assert report.items == 4 and report.added == 3  # the shared chunk is stored once
    hit = memory.search("ask the context manager for the state of the project", k=1)[0]
    assert hit.text == SHARED
    assert sorted(Path(s).name for s in hit.sources) == ["golang-pro.md", "rust-pro.md"]
    frame = hits_frame(memory.search("ask the context manager for the state of the project", k=1))
    assert "golang-pro.md" in frame["source"][0] and "rust-pro.md" in frame["source"][0]
    shown_text = repr(frame) + frame._repr_html_()
    assert "golang-pro.md" in shown_text and "rust-pro.md" in shown_text


def test_indexing_again_adds_no_source_twice(tmp_path: Path, agents: Path) -> None:
    memory = Memory(tmp_path / "store")
    index(agents, memory, progress=False)
    index(agents, memory, progress=False)
    hit = memory.search("ask the context manager for the state of the project", k=1)[0]
    assert len(hit.sources) == 2 and memory.count() == 3


def test_a_chunk_shared_across_many_files_is_embedded_once(tmp_path: Path) -> None:
    from coditect_magics.memory import Embedder

    class Counting(Embedder):
        name = "counting"
        embedded: list[str] = []

        def _embed(self, texts):
            Counting.embedded += texts
            return [[float(len(t)), 1.0, float(t.count("e"))] for t in texts]

    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(400):  # more chunks than one batch of the indexer: the copies land in different batches
        (folder / f"agent-{n:03}.md").write_text(f"Agent number {n} reviews file {n}. " * 20 + "\n\n" + SHARED)
    memory = Memory(tmp_path / "store", embedder=Counting())
    report = index(folder, memory, progress=False)
    assert report.items == 800 and report.added == memory.count() == 401
    assert len(Counting.embedded) == 401 and Counting.embedded.count(SHARED) == 1
    hit = memory.get(next(h.id for h in memory.search("context manager", k=5) if h.text == SHARED))
    assert len(hit.sources) == 400 and Path(hit.sources[0]).name == "agent-000.md"


def test_a_source_filter_finds_a_text_by_any_of_its_sources(tmp_path: Path, agents: Path) -> None:
    memory = Memory(tmp_path / "store")
    index(agents, memory, progress=False)
    rust, golang = str(agents / "rust-pro.md"), str(agents / "golang-pro.md")
    for source in (rust, golang):
        texts = [h.text for h in memory.search("the state of the project", k=5, source=source)]
        assert SHARED in texts and len(texts) == 2
    assert len(memory.search("the state of the project", k=5, source=[rust, golang])) == 3
    assert len(memory.search("the state of the project", k=5, source=rust, kind="file")) == 2
    assert memory.search("the state of the project", k=5, source=rust, kind="note") == []


def test_forgetting_one_source_keeps_the_other(tmp_path: Path, agents: Path) -> None:
    memory = Memory(tmp_path / "store")
    index(agents, memory, progress=False)
    rust, golang = str(agents / "rust-pro.md"), str(agents / "golang-pro.md")
    assert memory.forget(source=rust) == 2  # its own chunk and the shared one
    assert memory.count() == 2
    hit = memory.search("ask the context manager for the state of the project", k=1)[0]
    assert hit.text == SHARED and hit.sources == [golang] and hit.source == golang
    assert memory.search("the state of the project", k=5, source=rust) == []
    assert memory.forget(source=golang) == 2 and memory.count() == 0


def test_the_same_note_from_two_places_and_in_one_batch(tmp_path: Path) -> None:
    memory = Memory(tmp_path / "store")
    first = memory.add("Use s[::-1] to reverse a string.", source="a.md")
    assert memory.add("Use  s[::-1]\nto reverse a string.", source="b.md") == first
    ids = memory.add_many([{"text": "x is 1", "source": "c.md"}, {"text": "x is 1", "source": "d.md"}])
    assert ids[0] == ids[1] and memory.count() == 2
    assert memory.get(first).sources == ["a.md", "b.md"]
    assert memory.get(ids[0]).sources == ["c.md", "d.md"]
    assert memory.add("no source at all") and memory.get(memory.add("no source at all")).sources == []


def test_the_display_keeps_the_file_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deep = tmp_path / "a-rather-long-folder-name" / "with-more-levels" / "collections" / "agents"
    name = "javascript-typescript-expert-developer.md"
    monkeypatch.chdir(tmp_path)
    assert shown(str(deep / name)) == f"…/agents/{name}"  # relative to the working directory, then cut from the left
    elsewhere = "/opt/shared/" + "x" * 40 + "/team/collections/agents/" + name
    text = shown(elsewhere)
    assert text.startswith("…/") and text.endswith(f"agents/{name}") and len(text) <= 60
    assert shown("notes/analysis.ipynb#cell-12") == "notes/analysis.ipynb#cell-12"
    assert shown(str(tmp_path / "notes.md")) == "notes.md"  # relative to the working directory
    assert shown_sources([f"s{i}.md" for i in range(8)]).endswith("+3 more")


def test_search_display_shows_whole_file_names_and_a_line_of_text(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    memory = Memory(tmp_path / "store")
    long_text = ("The release checklist for the billing service: freeze the schema, tag the build, run the "
                 "migration on staging, watch the error budget for an hour, then roll out region by region.")
    elsewhere = "/opt/shared/" + "x" * 40 + "/team/collections/agents/javascript-typescript-expert-developer.md"
    memory.add(long_text, source=elsewhere, kind="file")
    monkeypatch.chdir(tmp_path)
    frame = hits_frame(memory.search("release checklist billing", k=1))
    assert frame["source"][0] == elsewhere  # the data keeps the whole source
    for shown_frame in (repr(frame), frame._repr_html_()):
        assert "javascript-typescript-expert-developer.md" in shown_frame
        assert long_text[:100] in shown_frame  # a line of text, not pandas' 50 characters
    assert type(frame[frame["score"] > 0]).__name__ == "DataFrame"  # derived frames are plain
