"""Skills in Claude Code's folder format, and agents found by what they can do."""

from __future__ import annotations

from pathlib import Path

import pytest

from coditect_magics.agents import (AgentLibrary, SkillLibrary, UnknownSkill, find, load_skill)
from coditect_magics.agents.skills import EXAMPLES_DIR
from tests import parts


def write_skill(root: Path, folder: str, text: str, tools: dict[str, str] | None = None) -> Path:
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / folder / "SKILL.md").write_text(text, encoding="utf-8")
    for name, code in (tools or {}).items():
        (root / folder / name).write_text(code)
    return root / folder / "SKILL.md"


def test_a_skill_as_public_files_write_it(tmp_path: Path) -> None:
    path = write_skill(tmp_path, "ahrefs-automation", "---\nname: Ahrefs Automation\ndescription: Pull SEO reports "
                       "from Ahrefs.\nallowed-tools: Read Write Bash\nlicense: MIT\nmetadata:\n  version: 2\n---\n"
                       "# Steps\n\nUse the API.\n\n---\n\nNever share the token.\n", {"client.py": "def f(): ...\n"})
    skill = load_skill(path)
    assert skill.name == "ahrefs-automation" and skill.label == "Ahrefs Automation"
    assert skill.allowed_tools == ("Read", "Write", "Bash") and skill.extra["license"] == "MIT"
    assert skill.instructions.endswith("Never share the token."), "a --- rule in the body is not the end"
    assert [p.name for p in skill.tool_files] == ["client.py"] and not skill.warnings
    assert skill.summary() == "ahrefs-automation: Pull SEO reports from Ahrefs."


def test_library_search_path_shadowing_and_errors(tmp_path: Path) -> None:
    first, second = tmp_path / "project", tmp_path / "user"
    write_skill(first, "summarize", "---\nname: summarize\ndescription: Project's own.\n---\nShort.\n")
    write_skill(second, "summarize", "---\nname: summarize\ndescription: User's.\n---\nLong.\n")
    write_skill(second, "broken", "no front matter here\n")
    (second / "not-a-skill").mkdir()
    library = SkillLibrary([first, second], standard=False)
    assert library.names() == ["summarize"] and library.get("summarize").description == "Project's own."
    assert any("already defined" in w for w in library.warnings)
    assert [str(e).split(":")[0] for e in library.errors] == [str(second / "broken" / "SKILL.md")]
    with pytest.raises(UnknownSkill, match="did you mean 'summarize'"):
        library.get("sumarize")


def test_the_kit_ships_example_skills() -> None:
    library = SkillLibrary(standard=False, examples=False, dirs=[EXAMPLES_DIR])
    assert {"data-profiling", "explain-error"} <= set(library.names()) and not library.errors
    assert library.get("data-profiling").tool_files[0].name == "profile.py"


AGENTS = {"rust-reviewer": "Reviews Rust code for memory safety, lifetimes and unsafe blocks.",
          "sql-tuner": "Speeds up slow PostgreSQL queries by reading query plans and suggesting indexes.",
          "copywriter": "Writes marketing copy, taglines and product descriptions.",
          "k8s-debugger": "Debugs Kubernetes pods that crash, restart or cannot pull their images."}


@pytest.fixture
def library(tmp_path: Path) -> AgentLibrary:
    for name, description in AGENTS.items():
        (tmp_path / f"{name}.md").write_text(f"---\nname: {name}\ndescription: {description}\n---\nYou help.\n")
    return AgentLibrary([tmp_path], standard=False)


@pytest.mark.parametrize("ranking", ["bm25", "embeddings"])
@pytest.mark.parametrize("query, best", [("review Rust code for memory safety", "rust-reviewer"),
                                         ("my database query is slow", "sql-tuner"),
                                         ("pod keeps restarting in the cluster", "k8s-debugger")])
def test_find_ranks_agents_by_what_they_do(library: AgentLibrary, ranking: str, query: str, best: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    if ranking == "embeddings":
        parts.local_embedder()
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    found = find(query, k=2, library=library, ranking=ranking)
    assert found.ranking == ranking and len(found) == 2 and found.names[0] == best


def test_find_says_when_it_fell_back(library: AgentLibrary, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODITECT_EMBEDDER", "no-such-embedder")
    found = find("review Rust code", k=1, library=library)
    assert found.ranking == "bm25" and "unknown embedder" in found.note and found.names == ["rust-reviewer"]
    assert "Ranked by bm25 (embeddings unavailable" in found._repr_markdown_()


def test_skill_magic_lists_shows_and_runs(shell, thread_server, tmp_path: Path, monkeypatch) -> None:
    from IPython.utils.capture import capture_output
    monkeypatch.chdir(tmp_path)
    write_skill(tmp_path / ".claude" / "skills", "release-notes",
                "---\nname: release-notes\ndescription: Write release notes from a list of changes.\nmodel: "
                "openai:gpt-4o\n---\nGroup the changes into Added, Fixed and Changed.\n")
    write_skill(tmp_path / ".claude" / "skills", "reviewed-notes",
                "---\nname: reviewed-notes\ndescription: Release notes, reviewed.\nagent: checker\n---\nBe strict.\n")
    (tmp_path / ".claude" / "agents").mkdir(parents=True)
    (tmp_path / ".claude" / "agents" / "checker.md").write_text(
        "---\nname: checker\nmodel: anthropic:claude-sonnet-4-6\n---\nYou check facts.\n")
    listing = shell.run_line_magic("skill", "list").data
    assert "| release-notes | Write release notes" in listing and "| data-profiling |" in listing
    assert "Group the changes" in shell.run_line_magic("skill", "show release-notes").data
    language = "Rust"
    shell.user_ns["language"] = language
    shell.run_line_magic("skill", "run release-notes fixed the {language} parser; added a CLI flag")
    body = thread_server.last.body
    assert body["model"] == "gpt-4o" and "Group the changes into Added" in body["messages"][0]["content"]
    assert body["messages"][1]["content"] == "fixed the Rust parser; added a CLI flag"
    shell.run_line_magic("skill", "run reviewed-notes v2 ships today")
    sent = thread_server.last
    assert sent.path == "/v1/messages", "the skill's agent runs on its own model"
    assert "You check facts." in str(sent.body["system"]) and "Be strict." in str(sent.body["system"])
    with capture_output() as captured:
        shell.run_line_magic("skill", "run release-notse x")
    assert "did you mean 'release-notes'" in captured.stderr
