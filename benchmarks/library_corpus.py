"""Deterministic agent and skill collections shaped like the public ones (see /work/shared/notes: ~375 agent files,
~1,030 SKILL.md files surveyed), for the library benchmark.

    /work/venv/bin/python benchmarks/library_corpus.py DIR [--skills 1000] [--agents 300] [--seed 7]

- DIR/skills/NAME/SKILL.md: `name` often a display label ("Ahrefs Automation"), descriptions quoted, plain or
  folded, about one in six not strict YAML (an unquoted `Use when: ...`); `allowed-tools` a space string, a comma
  string or a list; `license`, `metadata` maps and other keys; bodies from 1k to 72k characters with `---` rules,
  code fences and non-ASCII text. Beside it `scripts/` (Python, shell), `references/` (Markdown), `assets/` (a font
  and a PNG as binaries), a LICENSE.txt, and for some a top-level `tool.py`.
- DIR/agents/NAME.md: unquoted multi-line descriptions holding `<example>` blocks and `Context:` lines (strict YAML
  rejects most of them), `tools` as a comma string, a list or `[]`, `model`, `color`; a README.md beside them.
Seeded `random` only."""

from __future__ import annotations

import argparse
import random
from pathlib import Path

WORDS = ("data pipeline review security audit kubernetes deploy rust memory python typing test coverage refactor "
         "docs api schema migration postgres redis cache latency profile notebook chart report invoice seo ahrefs "
         "slack github release changelog lint format accessibility design figma brand font layout pdf docx").split()
TOOLS = ("Read", "Write", "Edit", "Bash", "Grep", "Glob", "WebFetch", "WebSearch", "Task")
NON_ASCII = "Überprüfe die Qualität — naïve café façade 数据 ✓ →"


def sentence(rng: random.Random, n: int) -> str:
    """`n` words from the topic list, capitalised, with a full stop."""
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def body(rng: random.Random, size: int) -> str:
    """Markdown instructions of about `size` characters: headings, lists, code fences, `---` rules, non-ASCII."""
    parts: list[str] = [f"# {sentence(rng, 4)}\n"]
    total = 0
    while total < size:
        kind = rng.random()
        if kind < 0.1:
            block = "\n---\n"
        elif kind < 0.25:
            block = f"```python\ndef step_{total}(x):\n    return x * {rng.randint(1, 9)}  # {sentence(rng, 5)}\n```\n"
        elif kind < 0.45:
            block = "\n".join(f"- {sentence(rng, rng.randint(4, 12))}" for _ in range(rng.randint(2, 6))) + "\n"
        elif kind < 0.5:
            block = f"{NON_ASCII} {sentence(rng, 8)}\n"
        else:
            block = f"## {sentence(rng, 3)}\n\n" + " ".join(sentence(rng, rng.randint(6, 18)) for _ in range(4)) + "\n"
        parts.append(block)
        total += len(block)
    return "\n".join(parts)


def skill_size(rng: random.Random) -> int:
    """Most SKILL.md bodies are a few thousand characters; a tail runs to 72k."""
    roll = rng.random()
    if roll < 0.02:
        return 72_000
    if roll < 0.15:
        return rng.randint(15_000, 40_000)
    return rng.randint(1_000, 9_000)


def skill_front(rng: random.Random, name: str, index: int) -> str:
    """Front matter as real SKILL.md files write it; about one in six is not strict YAML."""
    label = name.replace("-", " ").title() if index % 3 == 0 else name
    description = sentence(rng, rng.randint(12, 40))
    style = index % 6
    if style == 0:
        desc = f'description: Use when: {description} Triggers: "{rng.choice(WORDS)}"'  # strict YAML rejects it
    elif style == 1:
        desc = "description: >\n  " + "\n  ".join(description[i:i + 70] for i in range(0, len(description), 70))
    elif style == 2:
        desc = f'description: "{description}"'
    else:
        desc = f"description: {description}"
    tools = rng.sample(TOOLS, rng.randint(2, 5))
    allowed = {0: " ".join(tools), 1: ", ".join(tools), 2: "\n" + "\n".join(f"  - {t}" for t in tools)}[index % 3]
    lines = [f"name: {label}", desc, f"allowed-tools: {allowed}", "license: Complete terms in LICENSE.txt"]
    if index % 4 == 0:
        lines += ["metadata:", f"  version: \"1.{index % 10}.0\"", f"  author: {rng.choice(WORDS)}-team"]
    if index % 7 == 0:
        lines += ["disable-model-invocation: true", "argument-hint: [file]"]
    return "---\n" + "\n".join(lines) + "\n---\n\n"


def write_skills(root: Path, count: int, rng: random.Random) -> None:
    """`count` skill folders under root, each with its SKILL.md, scripts, references, assets and licence."""
    for i in range(count):
        name = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{i:04d}"
        folder = root / name
        for sub in ("scripts", "references", "assets"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / "SKILL.md").write_text(skill_front(rng, name, i) + body(rng, skill_size(rng)), encoding="utf-8")
        (folder / "LICENSE.txt").write_text("Apache License\nVersion 2.0, January 2004\n" * 40)
        (folder / "scripts" / "run.py").write_text(f"print({sentence(rng, 5)!r})\n" * 20)
        (folder / "scripts" / "setup.sh").write_text("#!/bin/sh\nset -e\necho ok\n")
        for r in range(rng.randint(1, 4)):
            (folder / "references" / f"ref-{r}.md").write_text(body(rng, rng.randint(1_000, 6_000)), encoding="utf-8")
        (folder / "assets" / "font.ttf").write_bytes(bytes(rng.getrandbits(8) for _ in range(2_000)))
        (folder / "assets" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(600))
        if i % 10 == 0:
            (folder / "tool.py").write_text("def tool(x: str) -> str:\n    \"\"\"Echo.\"\"\"\n    return x\n")


def agent_front(rng: random.Random, name: str, index: int) -> str:
    """Claude Code agent front matter; most hold unquoted multi-line descriptions with `<example>` blocks."""
    lead = sentence(rng, rng.randint(10, 25))
    if index % 5 == 4:
        desc = f'description: "{lead}"'
    else:
        examples = "".join(
            f"<example>\nContext: The user is working on {rng.choice(WORDS)}.\nuser: \"{sentence(rng, 8)}\"\n"
            f"assistant: \"I'll use the {name} agent: {sentence(rng, 6)}\"\n<commentary>\n{sentence(rng, 12)}\n"
            "</commentary>\n</example>\n" for _ in range(rng.randint(1, 3)))
        desc = f"description: Use this agent when {lead} Examples:\n{examples}".rstrip()
    tools = rng.sample(TOOLS, rng.randint(1, 6))
    tool_line = {0: ", ".join(tools), 1: "[" + ", ".join(tools) + "]", 2: "[]"}[index % 3]
    model = rng.choice(("sonnet", "opus", "haiku", "inherit", "claude-opus-4-8"))
    return (f"---\nname: {name}\n{desc}\ntools: {tool_line}\nmodel: {model}\ncolor: {rng.choice(WORDS)}\n"
            "---\n\n")


def write_agents(root: Path, count: int, rng: random.Random) -> None:
    """`count` agent files under root, and a README.md beside them as collections carry."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text("# Agents\n\nA collection.\n")
    for i in range(count):
        name = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-pro-{i:03d}"
        text = agent_front(rng, name, i) + f"You are {name}.\n\n" + body(rng, rng.randint(1_500, 12_000))
        (root / f"{name}.md").write_text(text, encoding="utf-8")


def write(directory: Path, skills: int = 1_000, agents: int = 300, seed: int = 7) -> Path:
    """Both collections under `directory` (skills/ and agents/); returns `directory`."""
    rng = random.Random(seed)
    write_skills(directory / "skills", skills, rng)
    write_agents(directory / "agents", agents, rng)
    return directory


def main() -> None:
    """The command line: write the corpus into DIR."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--skills", type=int, default=1_000)
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    write(options.directory, options.skills, options.agents, options.seed)


if __name__ == "__main__":
    main()
