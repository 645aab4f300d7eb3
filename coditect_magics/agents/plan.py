"""A plan: steps for specialist agents (`id`, `agent`, `task`, `depends_on`), validated with pydantic so that the
orchestrator model can be told exactly what is wrong and asked again. A valid plan has unique ids, dependencies
that exist, no cycle, and (when the caller says which agents exist) only known agents.

    plan = Plan.model_validate(data, context={"agents": {"researcher", "writer"}})
    plan.waves()        # [["t1", "t2"], ["t3"]]: steps that can run together
    plan.to_frame()     # a table to show and edit; as_plan(frame) reads it back"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)\n?```", re.S)


class PlanStep(BaseModel):
    """One subtask: which agent does it and which steps' results it needs."""

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(pattern=r"^[\w.-]{1,40}$", description="A short id such as t1.")
    agent: str = Field(min_length=1, description="The agent's name, one of those offered.")
    task: str = Field(min_length=1, validation_alias=AliasChoices("task", "prompt"),
                      description="The whole task for the agent; it sees nothing else but its dependencies' results.")
    depends_on: list[str] = Field(default_factory=list, description="Ids of the steps whose results it needs.")

    @field_validator("depends_on", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        """A table cell edited by hand holds "t1, t2" or nothing."""
        if value is None or (isinstance(value, float) and value != value):
            return []
        if isinstance(value, str):
            return [v for v in re.split(r"[,\s]+", value) if v]
        return value


class Plan(BaseModel):
    """The orchestrator's plan; edit it (or its table) and run it again."""

    model_config = ConfigDict(populate_by_name=True)

    goal: str = Field(default="", description="The user's request in one sentence.")
    steps: list[PlanStep] = Field(min_length=1, validation_alias=AliasChoices("steps", "tasks"))

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> "Plan":
        ids = [s.id for s in self.steps]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"step ids must be unique; repeated: {', '.join(repeated)}")
        problems = [f"step {s.id} depends on {d}, which is not a step" for s in self.steps for d in s.depends_on
                    if d not in ids]
        problems += [f"step {s.id} depends on itself" for s in self.steps if s.id in s.depends_on]
        known = (info.context or {}).get("agents") if info is not None else None
        suggest: Callable[[str], list[str]] | None = (info.context or {}).get("suggest") if info else None
        if known is not None:
            for step in self.steps:
                if step.agent not in known:
                    hint = f"; for this task consider {', '.join(suggest(step.task))}" if suggest else ""
                    problems.append(f"step {step.id}: there is no agent {step.agent!r}{hint}")
        if problems:
            raise ValueError("; ".join(problems))
        self.waves()  # raises on a cycle
        return self

    def step(self, id_: str) -> PlanStep:
        return next(s for s in self.steps if s.id == id_)

    def waves(self) -> list[list[str]]:
        """The steps in rounds: each round needs only earlier rounds' results. ValueError on a cycle."""
        done: set[str] = set()
        left = {s.id: set(s.depends_on) for s in self.steps}
        rounds = []
        while left:
            ready = [i for i, deps in left.items() if deps <= done]
            if not ready:
                raise ValueError(f"the dependencies form a cycle among {', '.join(sorted(left))}")
            rounds.append(ready)
            done.update(ready)
            for i in ready:
                del left[i]
        return rounds

    def to_frame(self) -> Any:
        import pandas as pd
        return pd.DataFrame([{"id": s.id, "agent": s.agent, "task": s.task, "depends_on": ", ".join(s.depends_on)}
                             for s in self.steps])

    def _repr_markdown_(self) -> str:
        rows = ["| id | agent | task | depends on |", "|---|---|---|---|"]
        rows += [f"| {s.id} | {s.agent} | {' '.join(s.task.split())[:200].replace('|', '/')} | "
                 f"{', '.join(s.depends_on) or '—'} |" for s in self.steps]
        return (f"**Plan:** {self.goal}\n\n" if self.goal else "") + "\n".join(rows)


def as_plan(value: Any, context: dict[str, Any] | None = None) -> Plan:
    """A Plan from a Plan (checked again: it may have been edited), a dict, JSON text or a table (DataFrame)."""
    if isinstance(value, Plan):
        value = value.model_dump()
    elif hasattr(value, "to_dict") and hasattr(value, "columns"):
        value = {"goal": getattr(value, "attrs", {}).get("goal", ""), "steps": value.to_dict("records")}
    elif isinstance(value, str):
        value = parse_json(value)
    return Plan.model_validate(value, context=context)


def parse_json(text: str) -> Any:
    """The JSON in a model's reply: a fenced block, else from the first `{` to the last `}`."""
    match = _FENCE.search(text)
    body = match.group(1) if match else text[text.find("{"):text.rfind("}") + 1] if "{" in text else text
    return json.loads(body)


def problems_of(error: Exception) -> list[str]:
    """What was wrong with a plan, one line each, for the model to fix."""
    from pydantic import ValidationError
    if isinstance(error, ValidationError):
        lines = []
        for item in error.errors(include_url=False):
            where = ".".join(str(p) for p in item.get("loc", ()))
            message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
            lines.append(f"{where}: {message}" if where else message)
        return lines
    if isinstance(error, json.JSONDecodeError):
        return [f"the reply is not JSON ({error.msg} at line {error.lineno} column {error.colno})"]
    return [str(error)]


def schema_text() -> str:
    """The plan's JSON schema, as the orchestrator model is shown it."""
    return json.dumps(Plan.model_json_schema(by_alias=False), separators=(",", ":"))
