"""Agent and skill libraries at collection scale: files parsed once per process by (path, mtime, size), one scan per
listing, front matter through PyYAML's C loader with the pure-Python one as a fallback that reads the same values.
Speed itself is measured in benchmarks/bench_libraries.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from coditect_magics.agents import AgentLibrary, SkillLibrary
from coditect_magics.agents.front_matter import read_markdown

DATA = Path(__file__).parent / "data" / "agents"
SKILL = ("---\nname: {label}\ndescription: Use when: the user asks for {name} (not strict YAML)\n"
         "allowed-tools: Read Write\nmetadata:\n  version: \"2\"\n---\n# Steps\n\n---\n\nÜberprüfe {name}.\n")


def write_skills(root: Path, count: int, prefix: str = "skill") -> list[str]:
    """`count` skill folders with scripts/, references/ and a LICENSE beside each SKILL.md; their names."""
    names = [f"{prefix}-{i:03d}" for i in range(count)]
    for i, name in enumerate(names):
        folder = root / name
        (folder / "scripts").mkdir(parents=True)
        (folder / "references").mkdir()
        (folder / "SKILL.md").write_text(SKILL.format(label=name.title() if i % 2 else name, name=name), "utf-8")
        (folder / "scripts" / "run.py").write_text("print('hi')\n")
        (folder / "references" / "notes.md").write_text("---\nnot: a skill\n---\n")
        (folder / "LICENSE.txt").write_text("MIT\n")
    return names


def counting(monkeypatch: pytest.MonkeyPatch, module: str, name: str) -> list[str]:
    """Count the calls of `module.name` (a loader the libraries call) on files under `tmp`/test data, by the file's
    folder and name (the kit's shipped examples are on the search path too). The process's cache of parsed files
    starts empty, so what an earlier test parsed does not count here."""
    import importlib

    from coditect_magics.agents import search_path
    monkeypatch.setattr(search_path, "_PARSED", {})
    target = importlib.import_module(module)
    real, calls = getattr(target, name), []

    def count(path: Path) -> object:
        if not str(path).startswith(str(Path(__file__).parents[1] / "coditect_magics")):
            calls.append(f"{Path(path).parent.name}/{Path(path).name}")
        return real(path)

    monkeypatch.setattr(target, name, count)
    return calls


def test_skill_list_shows_every_folder_and_a_reconfigured_library_parses_nothing_again(
        shell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = write_skills(tmp_path / "many", 60)
    write_skills(tmp_path / "more", 2, prefix="extra")
    (tmp_path / "many" / "skill-broken").mkdir()
    (tmp_path / "many" / "skill-broken" / "SKILL.md").write_text("no front matter\n")
    calls = counting(monkeypatch, "coditect_magics.agents.skills", "load_skill")
    shell.run_line_magic("config", f"CoditectMagics.skill_dirs = [{str(tmp_path / 'many')!r}]")
    listing = shell.run_line_magic("skill", "list").data
    assert all(f"| {name} | Use when: the user asks for {name}" in listing for name in names)
    assert f"**Not loaded:** `{tmp_path / 'many' / 'skill-broken' / 'SKILL.md'}:1: no front matter" in listing
    assert sorted(calls) == sorted([f"{n}/SKILL.md" for n in names] + ["skill-broken/SKILL.md"]), \
        "each SKILL.md once, nothing under scripts/ or references/"
    shell.run_line_magic("skill", "list")
    shell.run_line_magic("config", f"CoditectMagics.skill_dirs = [{str(tmp_path / 'many')!r}, "
                                   f"{str(tmp_path / 'more')!r}]")
    assert "| extra-001 |" in shell.run_line_magic("skill", "list").data
    assert calls[61:] == ["extra-000/SKILL.md", "extra-001/SKILL.md"], \
        "the listing again and a library built afresh parse only the files they had not seen"

    changed = tmp_path / "many" / "skill-007" / "SKILL.md"
    changed.write_text(changed.read_text().replace("Use when: the user asks for", "Now: it changed for"))
    assert "| skill-007 | Now: it changed for skill-007" in shell.run_line_magic("skill", "list").data
    assert calls[63:] == ["skill-007/SKILL.md"], "only the changed file"


def test_a_skills_tool_files_are_the_folders_as_it_is_now(shell, tmp_path: Path) -> None:
    write_skills(tmp_path, 1)
    shell.run_line_magic("config", f"CoditectMagics.skill_dirs = [{str(tmp_path)!r}]")
    assert "- tool files: none" in shell.run_line_magic("skill", "show skill-000").data
    (tmp_path / "skill-000" / "tool.py").write_text("def tool(x: str) -> str:\n    return x\n")
    assert "- tool files: tool.py" in shell.run_line_magic("skill", "show skill-000").data


def test_agent_list_reads_each_file_once_per_process(shell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = counting(monkeypatch, "coditect_magics.agents.library", "load_agent")
    shell.run_line_magic("config", f"CoditectMagics.agent_dirs = [{str(DATA / 'collection')!r}]")
    first = shell.run_line_magic("agent", "list").data
    files = sorted(p.name for p in (DATA / "collection").glob("*.md") if p.name.lower() != "readme.md")
    assert sorted(c.split("/")[1] for c in calls if c.startswith("collection/")) == files
    assert "| git-reviewer |" in first and "| powershell-7.2-expert |" in first
    before = len(calls)
    AgentLibrary([DATA / "collection"], standard=False).names()
    assert shell.run_line_magic("agent", "list").data == first and len(calls) == before


@pytest.mark.parametrize("path", sorted(str(p) for p in DATA.rglob("*.md")), ids=lambda p: Path(p).name)
def test_the_c_loader_and_the_pure_python_loader_read_the_same(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not getattr(yaml, "__with_libyaml__", False):
        pytest.skip("this PyYAML has no libyaml (C) loader: the pure-Python one is the only one")
    try:
        fast = read_markdown(path)
    except Exception as exc:  # noqa: BLE001 - the same error either way
        fast = f"{type(exc).__name__}: {exc}"
    monkeypatch.delattr(yaml, "CBaseLoader")
    try:
        slow = read_markdown(path)
    except Exception as exc:  # noqa: BLE001
        slow = f"{type(exc).__name__}: {exc}"
    if isinstance(fast, str) or isinstance(slow, str):
        assert fast == slow
        return
    assert (fast.data, fast.body, fast.body_line, fast.lines, fast.raw, fast.lenient) == \
           (slow.data, slow.body, slow.body_line, slow.lines, slow.raw, slow.lenient)


def test_a_skill_file_with_crlf_and_a_bom_keeps_its_body_whole(tmp_path: Path) -> None:
    folder = tmp_path / "crlf"
    folder.mkdir()
    text = "\ufeff---\r\nname: crlf\r\ndescription: Windows file\r\n---  \r\nOne.\r\n\r\n---\r\nTwo.\r\n"
    (folder / "SKILL.md").write_bytes(text.encode("utf-8"))
    skill = SkillLibrary([tmp_path], standard=False).get("crlf")
    assert skill.description == "Windows file" and skill.instructions == "One.\n\n---\nTwo."
    front = read_markdown(folder / "SKILL.md")
    assert front.body_line == 5 and front.lines == {"name": 2, "description": 3}
    assert os.path.basename(str(skill.folder)) == "crlf"
