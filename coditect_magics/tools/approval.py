"""Consent for tools that act. A tool that changes something (runs code, writes or edits a file, runs a shell
command, calls an outside MCP server) carries the permission it needs; before each of its calls the run's `Policy`
decides: allowed (`--allow`, a binding's `allow:`, `auto_approve`), asked (a front that can ask the user answers an
`ApprovalNeeded` event: a card in the cell, a prompt in a terminal), or, with nobody to ask, denied with the reason
the model is told. Every decision is kept with the call.

    policy = Policy(permissions("run,write"))           # what runs without asking
    decision = await policy.decide(request)             # Decision(verdict, by, arguments, reason)"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Literal, Mapping

PERMISSIONS = ("run", "write", "bash", "mcp")
Verdict = Literal["approved", "edited", "denied"]
By = Literal["user", "policy", "allow"]


def permissions(allow: Any) -> frozenset[str]:
    """`allow` as a set: "run,write", ["write"], "all" or None; an unknown permission is a clear error."""
    if not allow:
        return frozenset()
    items = allow.replace(",", " ").split() if isinstance(allow, str) else list(allow)
    chosen = frozenset(str(item).strip().lower() for item in items if str(item).strip())
    if "all" in chosen:
        return frozenset(PERMISSIONS)
    unknown = sorted(chosen - set(PERMISSIONS))
    if unknown:
        raise ValueError(f"unknown permission {', '.join(map(repr, unknown))}: allow any of "
                         f"{', '.join(PERMISSIONS)} or all, e.g. --allow run,write")
    return chosen


@dataclass(frozen=True)
class ApprovalRequest:
    """A call that needs consent: the tool, its full arguments, what it needs, and why the model asked (the text
    it wrote before the call)."""

    tool: str
    arguments: Mapping[str, Any]
    permission: str
    reason: str = ""
    agent: str = ""
    call_id: str = ""


@dataclass(frozen=True)
class Decision:
    """What was decided, by whom (the user, the policy for want of anyone to ask, or an allow), with the arguments
    to run (changed by an edit) and the reason a denial sends back to the model."""

    verdict: Verdict
    by: By
    arguments: Mapping[str, Any] | None = None
    reason: str = ""
    always: bool = False            # the user approved this tool for the rest of the run
    stop: bool = False              # the person stopped the run while it asked (an interrupt): deny and end it

    @property
    def approved(self) -> bool:
        return self.verdict != "denied"

    def record(self) -> dict[str, Any]:
        """The decision as the trace and the ledger keep it."""
        return {"verdict": self.verdict, "by": self.by, "reason": self.reason, "always": self.always}

    def denial(self, request: ApprovalRequest) -> str:
        """What the model is told when the call was denied."""
        why = f": {self.reason}" if self.reason else ""
        return f"denied{why} ({request.tool} did not run)"


def headless(permission: str) -> Decision:
    """The decision with nobody to ask."""
    return Decision("denied", "policy", reason=f"not allowed in a headless run; allow it with --allow {permission}")


@dataclass(frozen=True)
class ApprovalNeeded:
    """An event for the front: show the request, then `answer` it (from any thread)."""

    request: ApprovalRequest
    future: asyncio.Future[Decision] = field(repr=False)

    def answer(self, decision: Decision) -> None:
        loop = self.future.get_loop()
        loop.call_soon_threadsafe(lambda: self.future.done() or self.future.set_result(decision))


class Policy:
    """One run's consent: `allowed` permissions run at once; the others are put to `ask` (a front's answer), or
    denied when there is no one to ask. "Always" from the user holds for that tool until the run ends."""

    def __init__(self, allowed: frozenset[str] = frozenset(),
                 ask: Callable[[ApprovalRequest], Awaitable[Decision]] | None = None) -> None:
        self.allowed, self.ask = allowed, ask
        self.always: set[str] = set()
        self._lock = asyncio.Lock()   # one question at a time: cards do not pile up for a reply's parallel calls

    def __repr__(self) -> str:
        return f"Policy(allowed={sorted(self.allowed)}, asks={self.ask is not None})"

    async def decide(self, request: ApprovalRequest) -> Decision:
        if request.permission in self.allowed:
            return Decision("approved", "allow", request.arguments)
        if self.ask is None:
            return headless(request.permission)
        async with self._lock:
            if request.tool in self.always:
                return Decision("approved", "user", request.arguments, always=True)
            decision = await self.ask(request)
        if decision.always and decision.approved:
            self.always.add(request.tool)
        return decision


async def answered(emit: Callable[[Any], Any], event: Callable[[asyncio.Future[Any]], Any]) -> Any:
    """Emit `event(future)` on a run's event stream and wait until the front that reads it answers the future."""
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    handled = emit(event(future))
    if asyncio.iscoroutine(handled):
        await handled
    return await future


def asking_through(emit: Callable[[Any], Any]) -> Callable[[ApprovalRequest], Awaitable[Decision]]:
    """An `ask` that emits ApprovalNeeded on a run's event stream and waits for the front's answer."""
    async def ask(request: ApprovalRequest) -> Decision:
        return await answered(emit, lambda future: ApprovalNeeded(request, future))

    return ask
