"""The memory benchmark's corpus is honest: counts as promised, each fact planted once, questions that do not give the
key away, no distractor with an answer, the same bytes for a seed, valid notebooks and JSONL the indexer reads."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import memory_corpus  # noqa: E402
from memory_corpus import FACTS  # noqa: E402

from tests import parts  # noqa: E402

MESSAGES, CELLS = 1_200, 150  # small, but every fact and distractor still fits


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> memory_corpus.Corpus:
    return memory_corpus.build(tmp_path_factory.mktemp("corpus"), seed=3, messages=MESSAGES, cells=CELLS)


def messages(corpus: memory_corpus.Corpus) -> list[dict]:
    return [json.loads(line) for path in corpus.chat_files for line in path.read_text().splitlines()]


def cells(corpus: memory_corpus.Corpus) -> list[dict]:
    return [cell for path in corpus.notebooks for cell in json.loads(path.read_text())["cells"]]


def texts(corpus: memory_corpus.Corpus) -> list[str]:
    """Every document of the corpus: message contents and cell sources."""
    return [m["content"] for m in messages(corpus)] + ["".join(c["source"]) for c in cells(corpus)]


def test_counts_are_as_promised(corpus: memory_corpus.Corpus) -> None:
    assert len(messages(corpus)) == MESSAGES and len(cells(corpus)) == CELLS
    assert len(FACTS) >= 60 and len({f.id for f in FACTS}) == len(FACTS)
    questions = json.loads(corpus.questions_path.read_text())
    assert [q["id"] for q in questions] == [f.id for f in FACTS] and corpus.facts == len(FACTS)
    assert {m["role"] for m in messages(corpus)} == {"user", "assistant"}
    assert len({m["session"] for m in messages(corpus)}) > 50 and len({m["agent"] for m in messages(corpus)}) > 1


def test_every_fact_is_planted_exactly_once_and_its_answer_nowhere_else(corpus: memory_corpus.Corpus) -> None:
    documents = [t.lower() for t in texts(corpus)]
    for fact in FACTS:
        assert fact.key in fact.text and fact.answer.lower() in fact.text.lower()
        holding_key = [d for d in documents if fact.key.lower() in d]
        assert len(holding_key) == 1 and holding_key[0].count(fact.key.lower()) == 1, fact.id
        holding_answer = [d for d in documents if fact.answer.lower() in d]
        assert holding_answer == holding_key, f"{fact.id}: its answer {fact.answer!r} is in another document"


def test_distractors_are_planted_and_share_words_but_not_answers(corpus: memory_corpus.Corpus) -> None:
    documents = texts(corpus)
    answers = [f.answer.lower() for f in FACTS]
    for fact in FACTS:
        for distractor in fact.distractors:
            assert any(distractor in d for d in documents), (fact.id, distractor)
            assert not any(a in distractor.lower() for a in answers), (fact.id, distractor)
        assert any(words(fact.text) & words(d) for d in fact.distractors), f"{fact.id}: distractors off topic"


STOP = set("the and for are was not but with our you its all has one our now new out off two get got per from this that "
           "into than then they them when what who why how any can use set day week month year after about there their "
           "which every still only".split())


def words(text: str) -> set[str]:
    """The topic words of a text: three letters or more, common words left out."""
    return set(re.findall(r"[a-z][a-z_-]{2,}", text.lower())) - STOP


def test_questions_paraphrase_without_giving_the_key_or_answer() -> None:
    for fact in FACTS:
        for question in (fact.question, fact.hard):
            assert fact.key.lower() not in question.lower() and fact.answer.lower() not in question.lower(), fact.id
            assert question.endswith("?") and question not in fact.text
        assert fact.question != fact.hard


def test_each_fact_stays_whole_in_one_indexed_chunk(corpus: memory_corpus.Corpus) -> None:
    from coditect_magics.memory.indexing import chunk
    for fact in FACTS:
        host = next(t for t in texts(corpus) if fact.key in t)
        assert any(fact.key in piece for piece in chunk(host)), fact.id


def test_same_seed_same_bytes_other_seed_other_corpus(corpus: memory_corpus.Corpus, tmp_path: Path) -> None:
    again = memory_corpus.build(tmp_path / "again", seed=3, messages=MESSAGES, cells=CELLS)
    other = memory_corpus.build(tmp_path / "other", seed=4, messages=MESSAGES, cells=CELLS)

    def contents(c: memory_corpus.Corpus) -> dict[str, bytes]:
        return {str(p.relative_to(c.directory)): p.read_bytes() for p in sorted(c.directory.rglob("*")) if p.is_file()}
    assert contents(again) == contents(corpus)
    assert contents(other) != contents(corpus)


def test_notebooks_are_valid_nbformat(corpus: memory_corpus.Corpus) -> None:
    nbformat = parts.module("nbformat", "pip install -e '.[dev]' (the notebook extra)")
    for path in corpus.notebooks:
        notebook = nbformat.read(str(path), as_version=4)
        nbformat.validate(notebook)
        assert {c.cell_type for c in notebook.cells} <= {"code", "markdown"} and all(c.source for c in notebook.cells)


def test_notes_and_queries_are_distinct_and_clean() -> None:
    notes = list(memory_corpus.notes(500, seed=3))
    assert len(set(notes)) == 500
    answers = [f.answer.lower() for f in FACTS]
    assert not any(a in n.lower() for n in notes for a in answers)
    queries = memory_corpus.queries(200, seed=3)
    assert len(set(queries)) == 200 and queries[:len(FACTS)] == [f.question for f in FACTS]


def test_a_slice_indexes_into_a_real_memory(corpus: memory_corpus.Corpus, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    parts.local_embedder()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("CODITECT_EMBEDDER", raising=False)
    from coditect_magics.memory import Memory, chunk, index
    lines = corpus.chat_files[0].read_text().splitlines()[:20]
    notebook = json.loads(corpus.notebooks[0].read_text())
    notebook["cells"] = notebook["cells"][:10]
    (tmp_path / "slice").mkdir()
    (tmp_path / "slice" / "log.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "slice" / "part.ipynb").write_text(json.dumps(notebook))
    memory = Memory(tmp_path / "store", embedder="local")
    report = index(tmp_path / "slice", memory, progress=False)
    message_chunks = sum(len(chunk(json.loads(line)["content"])) for line in lines)
    cell_chunks = sum(len(chunk("".join(c["source"]))) for c in notebook["cells"])
    assert report.files == 2 and not report.bad_lines and not report.failed
    assert report.items == report.added == memory.count() == message_chunks + cell_chunks
    assert len(memory.collection.get(where={"kind": "message"})["ids"]) == message_chunks
    hit = memory.search(json.loads(lines[0])["content"], k=1)[0]
    assert hit.metadata["role"] == json.loads(lines[0])["role"] and hit.metadata["session"]
