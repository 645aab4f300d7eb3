"""The agents service layer: agent files as they are in the wild, the search path, bindings, model resolution and
command templates. Fixtures under tests/data/agents/ copy the shapes of public Claude Code files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coditect_magics.providers.registry import ALIASES, qualify
from coditect_magics.agents import (
    EXAMPLES_DIR, AgentDefinition, AgentFileError, AgentLibrary, Binding, BindingFileError,
    CommandFileError, CommandLibrary, CommandTemplate, UnknownAgent, UnknownCommand, load_agent, load_bindings,
    load_command, parse_agent, parse_bindings, resolve_agent, split_arguments)
from coditect_magics.agents import bindings as bindings_module
from coditect_magics.agents import definitions as definitions_module

DATA = Path(__file__).parent / "data" / "agents"
AGENTS, MORE_AGENTS, BINDINGS, COMMANDS = DATA / "agents", DATA / "more-agents", DATA / "bindings", DATA / "commands"


def agent(text: str, tmp_path: Path, name: str = "agent.md") -> AgentDefinition:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_agent(path)


# -- agent files in the wild ---------------------------------------------------------------------------------------

def test_unquoted_multiline_description_with_examples_is_read_leniently():
    a = load_agent(AGENTS / "plugin-dev-reviewer.md")
    assert a.name == "plugin-dev-reviewer"
    assert a.description.startswith("Use this agent when the user has written or changed a plugin")
    assert "<example>\nContext: The user has just added a new command to their plugin." in a.description
    assert 'assistant: "Let me run the plugin-dev-reviewer agent first."\n</example>' in a.description
    assert a.model == "opus"
    assert a.tools == ("Read", "Grep", "Glob", "Bash")
    assert a.extra == {"color": "yellow"}  # no `Context`, `user`, `Examples` keys leaked out of the description
    assert a.system_prompt.startswith("You are an expert reviewer of Claude Code plugins.")
    assert any("not strict YAML" in w for w in a.warnings)


def test_escaped_newlines_in_a_one_line_description_become_lines():
    a = load_agent(AGENTS / "search-discovery-expert.md")
    assert "proactively when:\n\n<example>\nContext: User is implementing a search bar." in a.description
    assert a.tools == ("Read", "Grep", "mcp__search__query")  # a YAML block list
    assert a.model == "inherit"
    assert a.extra == {"color": "cyan"}


def test_dotted_name_empty_tools_unknown_keys_as_text_and_a_body_with_rules():
    a = load_agent(AGENTS / "powershell-5.1-expert.md")
    assert a.name == "powershell-5.1-expert"
    assert a.tools == () and a.declares_tools
    assert a.model == "claude-opus-4-8"
    assert a.extra["maxTurns"] == "3000" and a.extra["background"] == "on"  # text, not int / bool
    assert a.extra["permissionMode"] == "acceptEdits" and a.extra["color"] == "teal"
    assert a.extra["disallowedTools"] == "Write, Edit" and a.extra["mcpServers"] == ["github"]
    assert a.system_prompt.startswith("# PowerShell 5.1 expert — café-proof scripts")
    assert "\n---\n\n## Rules" in a.system_prompt
    assert a.system_prompt.endswith("Answer with a complete script, then a short explanation.")
    assert a.warnings == ()


def test_tools_as_comma_string_space_string_flow_list_and_absent(tmp_path):
    assert load_agent(AGENTS / "git-helper.md").tools == ("Read", "Bash(git status:*)", "Bash(git log:*)")
    assert load_agent(AGENTS / "nameless.md").tools == ("Read", "Grep")
    a = agent("---\nname: x\ndescription: d\ntools: Read, Bash(git diff:*), WebFetch\n---\nbody\n", tmp_path)
    assert a.tools == ("Read", "Bash(git diff:*)", "WebFetch")
    a = agent("---\nname: x\ndescription: d\n---\nbody\n", tmp_path)
    assert a.tools == () and not a.declares_tools


def test_a_missing_name_falls_back_to_the_file_name_with_a_warning():
    a = load_agent(AGENTS / "nameless.md")
    assert a.name == "nameless"
    assert any("no `name:`" in w for w in a.warnings)


def test_lenient_reader_handles_block_scalars_lists_quotes_and_comments(tmp_path):
    text = ("---\nname: multi\n# a comment\nsummary: Use when: the user asks\nContext: prose continues it\n"
            "description: >\n  Folded text: with a colon\n  on two lines\nnotes: |\n  kept: as\n  lines\n"
            "tools:\n- Read\n- 'Grep'\nmodel: \"sonnet\"\n---\nbody\n")
    a = agent(text, tmp_path)
    # libyaml (PyYAML's C loader) says "not allowed in this context", the pure-Python parser "not allowed here"
    assert any("not strict YAML (mapping values are not allowed" in w and "(line 4))" in w for w in a.warnings)
    assert a.extra == {"summary": "Use when: the user asks\nContext: prose continues it", "notes": "kept: as\nlines"}
    assert a.description == "Folded text: with a colon on two lines"
    assert a.tools == ("Read", "Grep") and a.model == "sonnet"


def test_a_forgotten_closing_tag_does_not_swallow_the_next_keys(tmp_path):
    a = agent('---\nname: forgot\ndescription: Use it. Examples:\n<example>\nContext: one\nuser: "hi"\n</example>\n'
              '<example>\nContext: two\nuser: "ok"\nmodel: haiku\ntools: Read\n---\nbody\n', tmp_path)
    assert (a.model, a.tools) == ("haiku", ("Read",))
    assert a.description.endswith('<example>\nContext: two\nuser: "ok"')


def test_parse_agent_from_text_has_no_source():
    a = parse_agent("---\nname: shipped\ndescription: d\ntools: Read\n---\nYou are shipped.\n")
    assert (a.name, a.tools, a.system_prompt, a.source) == ("shipped", ("Read",), "You are shipped.", None)
    with pytest.raises(AgentFileError, match=r"^<agent>:1: no front matter"):
        parse_agent("just text")


@pytest.mark.parametrize("content, line, message", [
    ("---\nname: x\ndescription: never closed\n\nbody\n", 1, "never closed"),
    ("# Just notes\n\nno front matter here\n", 1, "no front matter"),
    ("---\n---\nbody\n", 1, "no `key: value` lines"),
    ("---\nname: x\n---\nok\n\x00\x01binary", 5, "binary file"),
])
def test_unreadable_agent_files_name_file_and_line(tmp_path, content, line, message):
    path = tmp_path / "bad.md"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AgentFileError) as caught:
        load_agent(path)
    assert caught.value.path == path and caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}: ") and message in str(caught.value)


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.md"
    path.write_bytes("---\nname: x\ndescription: caf\xe9\n---\nbody\n".encode("latin-1"))
    with pytest.raises(AgentFileError, match=r"latin1\.md:3: not UTF-8"):
        load_agent(path)


def test_crlf_and_bom_files_read_like_any_other(tmp_path):
    path = tmp_path / "win.md"
    path.write_bytes(b"\xef\xbb\xbf---\r\nname: win\r\ndescription: d\r\n---\r\nline one\r\n\r\n---\r\nline two\r\n")
    a = load_agent(path)
    assert a.name == "win" and a.system_prompt == "line one\n\n---\nline two"


# -- the library ---------------------------------------------------------------------------------------------------

def test_one_bad_file_does_not_stop_the_others():
    lib = AgentLibrary([AGENTS, MORE_AGENTS], standard=False)
    assert set(lib.agents) == {"plugin-dev-reviewer", "search-discovery-expert", "powershell-5.1-expert",
                               "git-helper", "nameless", "data-analyst"}
    errors = {e.path.name: e for e in lib.errors}
    assert set(errors) == {"unclosed.md", "plain-notes.md"}  # README.md is skipped, not an error
    assert str(errors["unclosed.md"]) == f"{AGENTS / 'unclosed.md'}:1: the front matter opened with --- on line 1 " \
                                         "is never closed by a --- line"
    assert all(isinstance(e, AgentFileError) for e in lib.errors)


def test_earlier_directories_win_and_the_shadowed_file_is_noted():
    lib = AgentLibrary([AGENTS, MORE_AGENTS], standard=False)
    assert lib.get("plugin-dev-reviewer").source == AGENTS / "plugin-dev-reviewer.md"
    assert any("more-agents/plugin-dev-reviewer.md" in w and "already defined" in w for w in lib.warnings)
    lib = AgentLibrary([MORE_AGENTS, AGENTS], standard=False)
    assert lib.get("plugin-dev-reviewer").description.startswith("A later copy")


def test_unknown_agent_lists_known_names_and_suggests():
    lib = AgentLibrary([AGENTS], standard=False)
    with pytest.raises(UnknownAgent) as caught:
        lib.get("git-helpr")
    text = str(caught.value)
    assert "no agent named 'git-helpr'" in text and "did you mean 'git-helper'" in text
    assert "known agents: git-helper, nameless, plugin-dev-reviewer" in text
    assert isinstance(caught.value, LookupError)


def test_rows_for_listing():
    rows = AgentLibrary([AGENTS, MORE_AGENTS], standard=False).rows(
        bindings={"data-analyst": Binding(agent="data-analyst", model="ollama:llama3.2")}, width=40)
    by_name = {r["name"]: r for r in rows}
    assert [r["name"] for r in rows] == sorted(by_name)
    assert by_name["plugin-dev-reviewer"]["description"] == "Use this agent when the user has…"
    assert by_name["search-discovery-expert"]["model"] == "inherit"
    assert by_name["data-analyst"]["binding"] == "ollama:llama3.2" and by_name["git-helper"]["binding"] == ""
    assert by_name["nameless"]["source"] == str(AGENTS / "nameless.md")


def test_changes_on_disk_are_picked_up_and_unchanged_files_are_not_reread(tmp_path, monkeypatch):
    shutil.copy(AGENTS / "git-helper.md", tmp_path / "git-helper.md")
    shutil.copy(MORE_AGENTS / "data-analyst.md", tmp_path / "data-analyst.md")
    calls = []
    real = definitions_module.load_agent
    monkeypatch.setattr("coditect_magics.agents.library.load_agent", lambda p: calls.append(p.name) or real(p))
    lib = AgentLibrary([tmp_path], standard=False)
    assert set(lib.agents) == {"git-helper", "data-analyst"} and len(calls) == 2
    lib.get("git-helper"), lib.rows(), lib.errors
    assert len(calls) == 2  # nothing changed: nothing re-read

    (tmp_path / "data-analyst.md").write_text("---\nname: data-analyst\ndescription: changed\n---\nNew prompt.\n")
    os.utime(tmp_path / "data-analyst.md", ns=(1, 1))  # a different mtime even on a coarse clock
    assert lib.get("data-analyst").system_prompt == "New prompt."
    assert calls[2:] == ["data-analyst.md"]  # only the changed file

    (tmp_path / "new.md").write_text("---\nname: newcomer\ndescription: d\n---\nHi.\n")
    (tmp_path / "git-helper.md").unlink()
    assert set(lib.agents) == {"data-analyst", "newcomer"}
    (tmp_path / "broken.md").write_text("---\nname: broken\n")
    assert [e.path.name for e in lib.errors] == ["broken.md"] and "newcomer" in lib


def test_standard_search_path_project_then_user_then_configured_then_examples(tmp_path, monkeypatch):
    project, home, configured = tmp_path / "project", Path(os.environ["HOME"]), tmp_path / "configured"
    (project / ".claude" / "agents").mkdir(parents=True)
    (home / ".claude" / "agents").mkdir(parents=True)
    configured.mkdir()
    (project / ".claude" / "agents" / "code-reviewer.md").write_text(
        "---\nname: code-reviewer\ndescription: the project's own\n---\nProject reviewer.\n")
    (home / ".claude" / "agents" / "researcher.md").write_text(
        "---\nname: researcher\ndescription: the user's own\n---\nUser researcher.\n")
    (configured / "researcher.md").write_text("---\nname: researcher\ndescription: configured\n---\nNo.\n")
    (configured / "analyst.md").write_text("---\nname: analyst\ndescription: configured\n---\nAnalyst.\n")
    monkeypatch.chdir(project)
    lib = AgentLibrary([configured])
    assert lib.search_path == [project / ".claude/agents", home / ".claude/agents", configured, EXAMPLES_DIR]
    assert lib.get("code-reviewer").system_prompt == "Project reviewer."
    assert lib.get("researcher").system_prompt == "User researcher."
    assert lib.get("analyst").system_prompt == "Analyst."
    assert lib.get("orchestrator").source == EXAMPLES_DIR / "orchestrator.md"
    monkeypatch.chdir(tmp_path)  # ./.claude/agents follows the working directory
    assert lib.get("code-reviewer").source == EXAMPLES_DIR / "code-reviewer.md"
    assert "orchestrator" not in AgentLibrary([configured], examples=False)


def test_shipped_examples_are_complete_agents():
    lib = AgentLibrary([EXAMPLES_DIR], standard=False)
    assert set(lib.agents) == {"code-reviewer", "researcher", "orchestrator"}
    assert lib.errors == [] and lib.warnings == []
    for a in lib.agents.values():
        assert a.description and a.tools and a.model and len(a.system_prompt) > 800
    assert lib.get("orchestrator").tools == ("Agent",)
    assert lib.get("researcher").model == "inherit"


# -- bindings ------------------------------------------------------------------------------------------------------

def test_flat_bindings_file():
    b = load_bindings(BINDINGS / "flat.yaml")
    reviewer = b["code-reviewer"]
    assert reviewer.model_id == "anthropic:claude-opus-4-8"
    assert (reviewer.temperature, reviewer.max_tokens, reviewer.budget_usd) == (0.2, 4000, 0.5)
    assert reviewer.fallbacks == ("openai:gpt-4.1", "haiku") and reviewer.search is None
    assert reviewer.extra == {"color": "red"} and reviewer.line == 2
    assert b["researcher"].search is True
    assert b["researcher"].fallbacks == ("openai:gpt-4.1-mini", "ollama:llama3.2")  # a comma string
    assert b["data-analyst"].model_id == "ollama:llama3.2:3b"  # shorthand: just an id (an Ollama tag has a colon)
    assert b["local-helper"].model_id == "ollama:llama3.2:3b" and b["local-helper"].search is True
    assert b.get("nobody") is None and b.defaults is None


def test_a_bad_entry_names_file_line_and_key_and_the_others_still_load():
    b = load_bindings(BINDINGS / "flat.yaml")
    assert "hot-head" not in b and len(b) == 4
    [error] = b.errors
    assert isinstance(error, BindingFileError) and error.line == 20
    assert str(error) == f"{BINDINGS / 'flat.yaml'}:20: agent 'hot-head': `temperature` must be a number from 0 " \
                         "to 2, not 'hot'"
    assert b.error_for("hot-head") is error and b.error_for("code-reviewer") is None


@pytest.mark.parametrize("entry, key, message", [
    ("  max_tokens: lots", "max_tokens", "must be a whole number"),
    ("  max_tokens: 0", "max_tokens", "must be a whole number"),
    ("  budget_usd: -1", "budget_usd", "must be an amount in dollars"),
    ("  search: maybe", "search", "must be true or false"),
    ("  fallbacks: {a: b}", "fallbacks", "must be a list of model ids"),
    ("  temperature: 3", "temperature", "must be a number from 0 to 2"),
    ("  provider: [a, b]", "provider", "must be text"),
    ("  provider: !!python/name:os.system x", "provider", "cannot be read"),
])
def test_each_bad_value_is_reported_on_its_line(entry, key, message):
    b = parse_bindings(f"good:\n  model: openai:gpt-4.1\nbad:\n  model: openai:gpt-4.1\n{entry}\n", "b.yaml")
    assert list(b) == ["good"]
    [error] = b.errors
    assert error.line == 5 and f"`{key}` {message}" in str(error) and error.agent == "bad"
    assert str(error).startswith("b.yaml:5: agent 'bad': ")


def test_malformed_bindings_yaml_raises_with_the_line():
    with pytest.raises(BindingFileError) as caught:
        load_bindings(BINDINGS / "malformed.yaml")
    assert caught.value.line == 6
    assert str(caught.value) == f"{BINDINGS / 'malformed.yaml'}:6: invalid YAML: mapping values are not allowed here"
    with pytest.raises(BindingFileError, match=r"^b\.yaml:1: a bindings file maps agent names"):
        parse_bindings("- just\n- a list\n", "b.yaml")


def test_missing_or_empty_bindings_bind_nothing(tmp_path):
    assert len(load_bindings(tmp_path / "absent.yaml")) == 0
    (tmp_path / "empty.yaml").write_text("# nothing yet\n")
    empty = load_bindings(tmp_path / "empty.yaml")
    assert len(empty) == 0 and empty.errors == ()


def test_coditect_layout_with_defaults_and_its_provider_names():
    b = load_bindings(BINDINGS / "coditect.yaml")
    assert b.defaults.model_id == "anthropic:claude-sonnet-4-6" and b.defaults.max_tokens == 4096
    assert "defaults" not in b and "version" not in b
    assert b["ai-specialist"].model_id == "anthropic:claude-3-5-sonnet-20241022"
    assert b["rust-expert-developer"].model_id == "openai:gpt-4o"
    assert b["research-agent"].model_id == "gemini:gemini-2.5-pro" and b["research-agent"].search is True
    assert b["web-search-researcher"].search is True  # metadata.search_augmented
    assert b["codebase-locator"].extra["api_key"] == "${OLLAMA_API_KEY}"  # kept, never interpreted here
    assert b.errors == ()


def test_duplicate_agents_and_conflicting_provider_are_reported():
    b = parse_bindings("a:\n  model: openai:gpt-4.1\na:\n  model: ollama:llama3.2\n"
                       "c:\n  provider: openai\n  model: anthropic:claude-opus-4-8\n", "b.yaml")
    assert b["a"].model_id == "ollama:llama3.2"  # the last one, as YAML reads it
    assert [e.line for e in b.errors] == [3, 7]
    assert "given twice (first on line 1)" in str(b.errors[0])
    assert "names provider 'anthropic', but `provider` is 'openai'" in str(b.errors[1]) and "c" not in b


def test_bindings_are_cached_until_the_file_changes(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_text("x:\n  model: openai:gpt-4.1\n")
    first = load_bindings(path)
    assert load_bindings(path) is first
    path.write_text("x:\n  model: ollama:llama3.2\n")
    os.utime(path, ns=(1, 1))
    assert load_bindings(path)["x"].model_id == "ollama:llama3.2"


# -- resolution ----------------------------------------------------------------------------------------------------

DEFINITION = AgentDefinition(name="code-reviewer", description="d", system_prompt="Review.", tools=("Read",),
                             model="haiku")
BINDING = Binding(agent="code-reviewer", model="openai:gpt-4.1", temperature=0.3, max_tokens=900,
                  fallbacks=("sonnet",), budget_usd=0.25)


def test_precedence_options_over_binding_over_front_matter_over_default():
    r = resolve_agent(DEFINITION, BINDING, {"temperature": 0.9, "model": None}, "ollama:llama3.2")
    assert (r.model_id, r.temperature, r.max_tokens, r.budget_usd) == ("openai:gpt-4.1", 0.9, 900, 0.25)
    assert r.fallbacks == (ALIASES["sonnet"],)
    assert r.origin == {"model": "binding", "temperature": "options", "max_tokens": "binding",
                        "fallbacks": "binding", "budget_usd": "binding"}
    assert (r.name, r.system_prompt, r.tools, r.search) == ("code-reviewer", "Review.", ("Read",), False)

    r = resolve_agent(DEFINITION, BINDING, {"model": "gemini:gemini-2.5-pro", "fallbacks": "opus, gpt-4.1"}, "x")
    assert r.model_id == "gemini:gemini-2.5-pro"
    assert r.fallbacks == (ALIASES["opus"], "openai:gpt-4.1")
    r = resolve_agent(DEFINITION, None, {}, "ollama:llama3.2")
    assert r.model_id == ALIASES["haiku"] and r.origin["model"] == "front matter"
    assert r.temperature is None and r.fallbacks == ()
    r = resolve_agent(AgentDefinition("a", "d", "p", model="inherit"), None, {}, "ollama:llama3.2")
    assert r.model_id == "ollama:llama3.2" and r.origin["model"] == "default"
    r = resolve_agent(AgentDefinition("a", "d", "p"), Binding(agent="a", model="inherit"), {}, "openai:gpt-4.1")
    assert r.model_id == "openai:gpt-4.1"


def test_bindings_defaults_sit_below_the_front_matter():
    defaults = Binding(agent="defaults", provider="openai", model="gpt-4.1", temperature=0.7, max_tokens=4096)
    r = resolve_agent(DEFINITION, None, {}, "ollama:llama3.2", defaults=defaults)
    assert r.model_id == ALIASES["haiku"] and (r.temperature, r.max_tokens) == (0.7, 4096)
    r = resolve_agent(AgentDefinition("a", "d", "p"), None, {}, "ollama:llama3.2", defaults=defaults)
    assert r.model_id == "openai:gpt-4.1" and r.origin["model"] == "defaults"
    r = resolve_agent(DEFINITION, Binding(agent="x", temperature=0.1), {}, "m", defaults=defaults)
    assert r.temperature == 0.1


def test_search_wraps_the_model_and_the_fallbacks():
    r = resolve_agent(DEFINITION, BINDING, {"search": True}, "x")
    assert r.model_id == "search:openai:gpt-4.1" and r.search
    assert r.fallbacks == (f"search:{ALIASES['sonnet']}",)
    bound = Binding(agent="r", model="gemini:gemini-2.5-flash", search=True)
    assert resolve_agent(DEFINITION, bound, {}, "x").model_id == "search:gemini:gemini-2.5-flash"
    assert resolve_agent(DEFINITION, bound, {"search": False}, "x").model_id == "gemini:gemini-2.5-flash"
    r = resolve_agent(DEFINITION, None, {"model": "search:openai:gpt-4.1"}, "x")
    assert r.model_id == "search:openai:gpt-4.1" and r.search  # never search:search:
    assert resolve_agent(AgentDefinition("a", "d", "p"), None, {}, None).model_id == ""


def test_model_names_aliases_and_bare_ids():
    assert qualify("sonnet") == ALIASES["sonnet"]
    assert qualify("claude-opus-4-8") == "anthropic:claude-opus-4-8"  # as Claude Code files write it
    assert qualify("gpt-4.1") == "openai:gpt-4.1" and qualify("o3-mini") == "openai:o3-mini"
    assert qualify("gemini-2.5-pro") == "gemini:gemini-2.5-pro"
    assert qualify("ollama:llama3.2:3b") == "ollama:llama3.2:3b" and qualify("claude") == ALIASES["claude"]
    assert qualify("fast", {"fast": "haiku"}) == ALIASES["haiku"]  # an alias of an alias
    assert qualify("sonnet", {"sonnet": "openai:gpt-4.1"}) == "openai:gpt-4.1"
    r = resolve_agent(DEFINITION, None, {}, "x", {"haiku": "ollama:llama3.2"})
    assert r.model_id == "ollama:llama3.2"


def test_alias_targets_are_current_models_the_kit_can_price():
    from genai_prices import data

    anthropic = next(p for p in data.providers if p.id == "anthropic")
    known = {m.id for m in anthropic.models}
    for alias in ("sonnet", "opus", "haiku", "fable"):  # Claude Code's names, in the one alias table
        provider, _, model = ALIASES[alias].partition(":")
        assert provider == "anthropic" and model in known, alias
        newest = max((m for m in known if m.startswith(f"claude-{alias}-")),
                     key=lambda m: [int(x) for x in m.split("-")[2:] if x.isdigit()])
        assert model == newest, (alias, model, newest)


def test_the_provider_list_matches_the_registry():
    from coditect_magics.providers import registry

    assert set(bindings_module.PROVIDERS) == set(registry.BUILTIN)


# -- commands ------------------------------------------------------------------------------------------------------

def test_command_with_front_matter_renders_arguments_and_positions():
    c = load_command(COMMANDS / "review.md")
    assert (c.name, c.agent, c.model) == ("review", "code-reviewer", "sonnet")
    assert c.description == "Review a file with the code reviewer"
    assert c.argument_hint == "[file] [focus]"  # not valid YAML: read leniently, kept as written
    assert c.allowed_tools == ("Read", "Grep", "Bash(git diff:*)")  # a JSON-style list
    assert c.render('src/app.py "error handling"') == (
        "Review the file src/app.py with a focus on error handling.\n\n"
        'The whole request was: src/app.py "error handling"')
    assert c.render("") == "Review the file  with a focus on .\n\nThe whole request was: "


def test_command_without_front_matter_uses_its_first_line_as_description():
    c = load_command(COMMANDS / "fix-issue.md")
    assert c.description == "Fix issue #$ARGUMENTS following our coding standards."
    assert c.render(" 123 ").startswith("Fix issue #123 following")
    assert c.agent is None and c.argument_hint == "" and c.allowed_tools == ()


def test_no_placeholder_appends_the_arguments():
    c = load_command(COMMANDS / "explain.md")
    assert c.render("monads in Haskell") == ("Explain the following to a newcomer, with one short example."
                                             "\n\nARGUMENTS: monads in Haskell")
    assert c.render("") == "Explain the following to a newcomer, with one short example."


def test_indexed_arguments_zero_and_one_based():
    greet = load_command(COMMANDS / "greet.md")
    assert greet.argument_hint == "[name]"  # a YAML list `[name]` coerced back to its text
    assert not greet.zero_based
    assert greet.render("Ann Bob") == "Say hello to Ann, then to Bob if given."  # $ARGUMENTS[0] and $2
    assert greet.render("Ann") == "Say hello to Ann, then to  if given."
    compare = load_command(COMMANDS / "compare.md")  # uses $0: written for current Claude Code
    assert compare.zero_based and compare.description == "Compare two things"
    assert compare.render("cats 'big dogs'") == (
        "# Compare two things\n\nCompare cats with big dogs (first: cats, second: big dogs).")


def test_argument_splitting():
    assert split_arguments('a "b c" d') == ["a", "b c", "d"]
    assert split_arguments("don't stop") == ["don't", "stop"]  # unbalanced quote: whitespace
    assert split_arguments(r"C:\data\x.csv #3") == [r"C:\data\x.csv", "#3"]  # backslashes and # kept
    t = CommandTemplate(name="t", description="", body="$1|$3|$ARGUMENTS[1]|$ARGUMENTS|$10")
    assert t.render("one two three") == "one|three|two|one two three|"


def test_command_library_errors_and_unknown_names():
    lib = CommandLibrary([COMMANDS], standard=False)
    assert set(lib.commands) == {"review", "fix-issue", "explain", "compare", "greet"}
    [error] = lib.errors
    assert isinstance(error, CommandFileError) and error.path.name == "empty.md" and error.line == 4
    assert str(error).endswith("empty.md:4: the command has no prompt text")
    with pytest.raises(UnknownCommand, match="did you mean 'review'.*known commands: compare, explain"):
        lib.get("reveiw")
    row = next(r for r in lib.rows() if r["name"] == "review")
    assert row == {"name": "review", "description": "Review a file with the code reviewer",
                   "argument_hint": "[file] [focus]", "agent": "code-reviewer", "model": "sonnet",
                   "source": str(COMMANDS / "review.md")}


def test_command_search_path_includes_project_and_user_dirs(tmp_path, monkeypatch):
    (tmp_path / ".claude" / "commands").mkdir(parents=True)
    (tmp_path / ".claude" / "commands" / "hello.md").write_text("Say hello to $ARGUMENTS.\n")
    user = Path(os.environ["HOME"]) / ".claude" / "commands"
    user.mkdir(parents=True)
    (user / "hello.md").write_text("User hello.\n")
    (user / "bye.md").write_text("Say bye.\n")
    monkeypatch.chdir(tmp_path)
    lib = CommandLibrary()
    assert lib.get("hello").render("Ann") == "Say hello to Ann." and "bye" in lib


# -- the fixtures the magic tests copy into a project (tests/data/agents/*.md, tests/data/commands) -----------------

def test_shared_fixtures_read_as_the_magic_tests_expect():
    wild = load_agent(DATA / "plugin-dev-reviewer.md")
    assert "<example>\nContext: The user just finished a plugin." in wild.description
    assert wild.tools == ("Read", "Grep", "Glob") and wild.model == "inherit"
    assert wild.extra == {"color": "magenta", "permissionMode": "plan", "maxTurns": "3000"}
    assert wild.system_prompt.startswith("You review plugins.\n\n---\n\nSecond section")
    dotted = load_agent(DATA / "powershell.md")
    assert (dotted.name, dotted.tools, dotted.extra) == ("powershell-5.1-expert", ("Bash", "Read"),
                                                         {"background": "on"})
    assert load_agent(DATA / "no-tools.md").tools == ()
    lib = AgentLibrary([DATA], standard=False)
    assert set(lib.agents) == {"plugin-dev-reviewer", "powershell-5.1-expert", "quiet"}
    assert [str(e) for e in lib.errors] == [f"{DATA / 'broken.md'}:1: the front matter opened with --- on line 1 "
                                            "is never closed by a --- line"]
    summarize = load_command(DATA.parent / "commands" / "summarize.md")
    assert summarize.argument_hint == "[count] [topic]" and summarize.agent == "quiet"
    assert summarize.render('3 "the Python release notes"') == (
        'Summarize the Python release notes in 3 bullet points. Whole request: 3 "the Python release notes". '
        "First argument, 0-based: 3.")
    plain = load_command(DATA.parent / "commands" / "plain.md")
    assert plain.description == "Explain like I am five"
    assert plain.render("monads") == plain.body + "\n\nARGUMENTS: monads"


def test_bindings_file_to_resolved_agent(tmp_path):
    path = tmp_path / "bindings.yaml"
    path.write_text("writer:\n  provider: openai\n  model: gpt-4o\n  temperature: 0.3\n  fallbacks: [ollama:llama3.2]\n"
                    "  budget_usd: 0.5\n  team: docs\nbad:\n  temperature: hot\n")
    bindings = load_bindings(path)
    assert bindings["writer"] == Binding(agent="writer", provider="openai", model="gpt-4o", temperature=0.3,
                                         fallbacks=("ollama:llama3.2",), budget_usd=0.5, extra={"team": "docs"})
    assert [str(e) for e in bindings.errors] == [
        f"{path}:9: agent 'bad': `temperature` must be a number from 0 to 2, not 'hot'"]
    agent = load_agent(DATA / "powershell.md")
    assert resolve_agent(agent, None, {}, "ollama:llama3.2").model_id == "anthropic:claude-opus-4-8"
    bound = resolve_agent(agent, bindings["writer"], {}, "ollama:llama3.2")
    assert (bound.model_id, bound.temperature, bound.budget_usd) == ("openai:gpt-4o", 0.3, 0.5)
    assert bound.fallbacks == ("ollama:llama3.2",)
    chosen = resolve_agent(agent, bindings["writer"], {"model": "haiku", "temperature": 0.9, "search": True}, "x")
    assert (chosen.model_id, chosen.temperature) == (f"search:{ALIASES['haiku']}", 0.9)
    path.write_text("writer:\n  model: gpt-4o\n  temperature: [0.3\n")
    with pytest.raises(BindingFileError, match=rf"^{path}:4: invalid YAML: "):
        load_bindings(path)


# -- the layer's boundaries ----------------------------------------------------------------------------------------

def test_definitions_results_and_errors_survive_pickling():
    import pickle

    for value in (load_agent(AGENTS / "powershell-5.1-expert.md"), load_bindings(BINDINGS / "flat.yaml")["researcher"],
                  resolve_agent(DEFINITION, BINDING, {}, "x"), load_command(COMMANDS / "review.md")):
        assert pickle.loads(pickle.dumps(value)) == value
    for error in (AgentFileError("a.md", 3, "bad"), BindingFileError("b.yaml", 2, "worse", agent="x"),
                  UnknownAgent("x", ["y", "z"], ["/d"])):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
    assert pickle.loads(pickle.dumps(BindingFileError("b.yaml", 2, "worse", agent="x"))).agent == "x"


def test_importing_the_agents_package_stays_light():
    code = ("import sys, coditect_magics.agents as a; a.AgentLibrary().rows(); "
            "heavy = [m for m in ('IPython', 'anthropic', 'openai', 'pandas', 'chromadb', 'frontmatter') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent)
    assert out.stdout.strip() == "[]"
