"""Skills: folders in Claude Code's format, `NAME/SKILL.md` (front matter `name`, `description`, optional `agent`,
`model`, `allowed-tools`; the body is the instructions) plus optional Python files that define tools.

The folder's name is the skill's name (what `%skill run NAME` takes); `name:` in the front matter may be a display
label ("Ahrefs Automation"). An agent is shown only the names and descriptions of its skills and loads one's
instructions (and tools) when it decides to use it, so skills cost context only when used."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import FileError, UnknownName
from .front_matter import as_list, as_text, read_markdown
from .search_path import MarkdownLibrary

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples" / "skills"
KNOWN_KEYS = ("name", "description", "agent", "model", "allowed-tools")


class SkillFileError(FileError):
    """A SKILL.md that cannot be read."""


class UnknownSkill(UnknownName):
    kind = "skill"


@dataclass(frozen=True)
class Skill:
    """One skill as its folder says it. `tool_files`: the folder's top-level `*.py` files (tools it brings), looked
    up when asked for (a listing does not list a thousand folders)."""

    name: str
    description: str
    instructions: str
    label: str = ""
    agent: str | None = None
    model: str | None = None
    allowed_tools: tuple[str, ...] = ()
    folder: Path | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def tool_files(self) -> tuple[Path, ...]:
        """The folder's top-level `*.py` files, by name, as the folder holds them now."""
        return _tool_files(self.folder) if self.folder is not None else ()

    def summary(self) -> str:
        """The line an agent sees before loading the skill: name and what it is for."""
        return f"{self.name}: {' '.join(self.description.split())}"


def load_skill(path: Path | str) -> Skill:
    """Read `FOLDER/SKILL.md`; SkillFileError (`path:line: message`) when it is not a skill file at all."""
    path = Path(path)
    front = read_markdown(path, SkillFileError)
    if not front.present or not front.data:
        raise SkillFileError(path, 1, "no front matter: SKILL.md starts with a --- line, `name:` and `description:` "
                                      "lines, a closing --- line, then the instructions")
    data, warnings = front.data, []
    if front.lenient:
        warnings.append(f"front matter is not strict YAML ({front.problem}); read line by line")
    description = as_text(data.get("description")).strip()
    if not description:
        warnings.append("no `description:`: agents cannot tell when to use it")
    instructions = front.body.strip()
    if not instructions:
        warnings.append("no instructions: the body after the front matter is empty")
    folder = path.parent
    return Skill(name=folder.name, label=as_text(data.get("name")).strip(), description=description,
                 instructions=instructions, agent=as_text(data.get("agent")).strip() or None,
                 model=as_text(data.get("model")).strip() or None, allowed_tools=as_list(data.get("allowed-tools")),
                 folder=folder,
                 extra={k: v for k, v in data.items() if k not in KNOWN_KEYS}, warnings=tuple(warnings))


def _tool_files(folder: Path) -> tuple[Path, ...]:
    """The folder's top-level `*.py` files, by name (one scandir: pathlib's glob costs ~1 ms a folder)."""
    try:
        with os.scandir(folder) as entries:
            found = [e.path for e in entries if e.name.endswith(".py") and e.is_file()]
    except OSError:
        return ()
    return tuple(Path(p) for p in sorted(found))


def skill_dirs(configured: Iterable[Path | str] = (), *, examples: bool = True) -> list[Path]:
    """`./.claude/skills`, `~/.claude/skills`, the configured directories, then the kit's shipped examples."""
    return [Path(".claude/skills"), Path("~/.claude/skills"), *(Path(d) for d in configured),
            *([EXAMPLES_DIR] if examples else [])]


class SkillLibrary(MarkdownLibrary[Skill]):
    """The skills on a search path; each directory holds skill folders (`NAME/SKILL.md`)."""

    kind = "skill"
    unknown = UnknownSkill
    file_error = SkillFileError

    def __init__(self, dirs: Iterable[Path | str] = (), *, standard: bool = True, examples: bool = True) -> None:
        dirs = tuple(dirs)
        self.configured = dirs
        super().__init__(skill_dirs(dirs, examples=examples) if standard else dirs)

    def load(self, path: Path) -> Skill:
        return load_skill(path)

    def _files(self) -> list[tuple[str, int, int]]:
        """(path of SKILL.md, mtime, size) per skill folder, folders in name order."""
        files = []
        for directory in self.search_path:
            try:
                folders = sorted((e for e in os.scandir(directory) if e.is_dir() and not e.name.startswith(".")),
                                 key=lambda e: e.name)
            except OSError:
                continue
            for folder in folders:
                path = os.path.join(folder.path, "SKILL.md")
                try:
                    info = os.stat(path)
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    files.append((path, info.st_mtime_ns, info.st_size))
        return files

    def rows(self, width: int = 80, items: Mapping[str, Skill] | None = None) -> list[dict[str, str]]:
        """One dict per skill, by name: name, description (first line, cut to `width`), agent, tools, source.
        `items`: a snapshot's (default: the library as it is now)."""
        from .front_matter import first_line
        items = self.items if items is None else items
        return [{"name": s.name, "description": first_line(s.description, width), "agent": s.agent or "",
                 "tools": ", ".join(s.allowed_tools), "source": str(s.folder or "")}
                for s in (items[n] for n in sorted(items))]
