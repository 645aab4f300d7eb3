"""The fronts of batch runs: `%llm batch MODEL PROMPTS` and `%agent map ... --batch` send rows through a provider's
batch API as one durable job; `%agent batches` lists jobs, `%agent result ID [--wait]` fills the DataFrame column
(or returns the list) when the job is done, also from a new kernel; `%agent cancel ID` cancels one. The same
`result` and `cancel` serve queued runs: an id the batch store does not know goes to `queued`."""

from __future__ import annotations

import json
import shlex
from typing import Any, Sequence

from coditect_magics import bridge
from coditect_magics.session import Session

from .args import UsageError, _Parser

LLM_USAGE = "%llm batch MODEL PROMPTS [-o VAR] [-s SYSTEM] [-t T] [--max-tokens N] [--wait]"
DONE = ("succeeded", "errored", "expired", "cancelled")


# submitting
def names_prompts(session: Session, words: list[str]) -> bool:
    """`%llm batch MODEL VAR ...` only when VAR is a variable of the notebook (else the line is a prompt)."""
    return len(words) >= 2 and words[1] in session.namespace


def llm_batch(session: Session, words: Sequence[str]) -> Any:
    """`%llm batch MODEL PROMPTS`: each string of a list (or each value of a Series) as one request of a batch."""
    parser = _Parser(prog="%llm batch", add_help=False)
    parser.add_argument("model")
    parser.add_argument("prompts")
    parser.add_argument("-o", "--out")
    parser.add_argument("-s", "--system", default="")
    parser.add_argument("-t", "--temperature", type=float)
    parser.add_argument("--max-tokens", type=int)
    parser.add_argument("--wait", action="store_true")
    args = _parse(parser, words[0], LLM_USAGE)
    prompts = session.namespace.get(args.prompts)
    kind = "series" if hasattr(prompts, "items") and hasattr(prompts, "index") else "list"
    if kind == "series":  # its index labels the rows, and the answers come back as a Series on it
        rows = [(key, value) for key, value in prompts.items()]
    elif isinstance(prompts, (list, tuple)):
        rows = list(enumerate(prompts))
    else:
        raise UsageError(f"{args.prompts} is a {type(prompts).__name__}: PROMPTS must be a list of strings or a "
                         f"Series; write {LLM_USAGE}")
    if not all(isinstance(text, str) for _, text in rows):
        raise UsageError(f"every prompt in {args.prompts} must be a string")
    params = {**session.settings.params(), **{k: v for k, v in {"temperature": args.temperature,
                                                                "max_tokens": args.max_tokens}.items()
                                                if v is not None}}
    target = {"kind": kind, "source": args.prompts, "out": args.out}
    job = _submit(session, args.model, rows, system=args.system, params=params, target=target)
    return result(session, [job.id, "--wait"]) if args.wait else None


def map_batch(session: Session, agent: Any, tools: Any, frame: Any, args: Any) -> Any:
    """`%agent map NAME DF --column COL --out NEWCOL --batch`: the agent's model and system prompt on every row, as
    one batch job; `%agent result ID` fills the column."""
    if args.queue or getattr(args, "schema", None):
        raise UsageError("--batch sends the rows to the provider's batch API: leave out --queue and --schema")
    if tools:
        raise UsageError(f"agent {agent.name} has tools ({', '.join(tools)}): a batch request is one model call per "
                         f"row, with no tool loop; run %agent map without --batch")
    column = args.out or f"{agent.name}_answer"
    rows = [(index, str(value)) for index, value in frame[args.column].items()]
    target = {"kind": "frame", "frame": args.frame, "column": args.column, "out": column}
    _submit(session, agent.model_id, rows, system=agent.system_prompt or "", params=dict(agent.params),
            target=target, agent=agent.name)
    return None


def _submit(session: Session, model: str, rows: list[tuple[Any, str]], **kw: Any) -> Any:
    from IPython.display import Markdown, display
    job = bridge.run(session.batches.submit(session.check(model), rows, **kw))
    session.namespace["_batch"] = job
    parts = len(job.parts)
    display(Markdown(f"**batch job `{job.id}`** · {len(rows)} requests in {parts} {job.provider} "
                     f"batch{'es' if parts > 1 else ''} · {job.status} · `%agent result {job.id} --wait` fetches "
                     f"the answers (also after a restart)"))
    return job


# following
def listing(session: Session, words: Sequence[str] = ()) -> Any:
    """`%agent batches`: the batch jobs, newest first, with their status and counts."""
    import pandas as pd
    rows = []
    for job in session.batches.jobs():
        counts = job.counts
        rows.append([job.id, job.provider, job.model, job.agent, job.status,
                     *(counts.get(name, 0) for name in ("total", *DONE)), job.fetched,
                     ", ".join(p.id for p in job.parts), pd.Timestamp(job.created, unit="s", tz="UTC")])
    return pd.DataFrame(rows, columns=["id", "provider", "model", "agent", "status", "total", *DONE, "fetched",
                                       "batches", "created"])


def result(session: Session, words: Sequence[str]) -> Any:
    """`%agent result ID [--wait [SECONDS]]`: a batch job's answers (a queued run's when the id is one). ID may
    be a variable holding a job (`_batch`)."""
    words = _named(session, words)
    if not words or not session.batches.knows(words[0]):
        from . import queued
        return queued.result(session, words)
    wait = _wait_of(words)
    service = session.batches
    job = service.find(words[0])
    if wait is not None and not job.fetched:
        job = _follow(session, job, wait)
    job, items = bridge.run(service.fetch(job.id))
    if not job.fetched:
        done = sum(job.counts.get(name, 0) for name in DONE)
        print(f"coditect: batch job {job.id} is {job.status} ({done} of {len(items)} done); "
              f"`%agent result {job.id} --wait` waits for it")
        return None
    return _deliver(session, job, items)


def cancel(session: Session, words: Sequence[str]) -> Any:
    """`%agent cancel ID`: cancel a batch job's running batches (a queued run's when the id is one)."""
    words = _named(session, words)
    if not words or not session.batches.knows(words[0]):
        from . import queued
        return queued.cancel(session, words)
    if len(words) != 1:
        raise UsageError("write %agent cancel BATCH_ID (%agent batches lists them)")
    service = session.batches
    before = service.find(words[0])
    if before.finished:
        print(f"coditect: batch job {before.id} had already ended ({before.status})")
        return None
    job = bridge.run(service.cancel(before.id))
    print(f"coditect: batch job {job.id} {job.status}; `%agent result {job.id} --wait` fetches what it answered")
    return None


def _named(session: Session, words: Sequence[str]) -> list[str]:
    """The words with a variable that holds a batch job (`_batch`, or the job a cell kept) replaced by its id."""
    words = list(words)
    value = session.namespace.get(words[0]) if words and words[0].isidentifier() else None
    if value is not None and hasattr(value, "parts") and hasattr(value, "id"):
        words[0] = value.id
    return words


def _wait_of(words: Sequence[str]) -> float | None:
    """None without --wait, else the seconds to wait (0 meaning as long as it takes)."""
    rest = list(words[1:])
    if not rest:
        return None
    if rest[0] != "--wait" or len(rest) > 2:
        raise UsageError("write %agent result BATCH_ID [--wait [SECONDS]]")
    try:
        return float(rest[1]) if len(rest) == 2 else 0.0
    except ValueError:
        raise UsageError(f"--wait takes seconds, not {rest[1]!r}") from None


def _follow(session: Session, job: Any, wait: float) -> Any:
    """Poll the job with backoff until it ends (or `wait` seconds, when not 0), a progress bar meanwhile."""
    from tqdm.auto import tqdm
    bar = tqdm(total=len(session.batches.store.items(job.id)), desc=f"batch {job.id}", unit="request")
    try:
        for job in bridge.iterate(lambda: session.batches.follow(job.id, wait or None)):
            bar.update(sum(job.counts.get(name, 0) for name in DONE) - bar.n)
            bar.set_postfix_str(job.status)
    except KeyboardInterrupt:
        raise UsageError(f"stopped waiting; the batch goes on: `%agent result {job.id}` fetches it") from None
    finally:
        bar.close()
    return job


# delivering
def _deliver(session: Session, job: Any, items: list[Any]) -> Any:
    """The answers where the job said: a list or Series (also into `-o VAR`), or the DataFrame's column filled;
    `_batch_rows` holds every request's input, answer, status and error."""
    import pandas as pd
    frame = pd.DataFrame({"input": [i.input for i in items], "answer": [i.answer for i in items],
                          "status": [i.status for i in items], "error": [i.error for i in items]},
                         index=[_label(i.key) for i in items])
    session.namespace["_batch_rows"] = frame
    bad = frame["status"].ne("ok").sum()
    if bad:
        print(f"coditect: {bad} of {len(items)} requests have no answer ({_tally(frame)}); `_batch_rows` lists them")
    target = job.target
    if target.get("kind") != "frame":
        answers = frame["answer"].rename(target.get("out")) if target.get("kind") == "series" else \
            list(frame["answer"])
        if target.get("out"):
            session.namespace[target["out"]] = answers
        return answers
    return _fill(session, target, frame, items)


def _fill(session: Session, target: Any, rows: Any, items: list[Any]) -> Any:
    """Fill the answer column (and its status column) of the notebook's DataFrame in place; a new kernel that lacks
    the DataFrame gets one made of the stored rows."""
    import pandas as pd

    from coditect_magics.agents.mapping import RowResult, with_answers
    from coditect_magics.batches import encode_key
    name = target["frame"]
    frame = session.namespace.get(name)
    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame({target["column"]: list(rows["input"])}, index=rows.index)
        session.namespace[name] = frame
    labels = {encode_key(label): label for label in frame.index}
    results = [RowResult(labels[i.key], i.answer or "", "ok" if i.status == "ok" else "error",
                         f"{i.status}: {i.error}") for i in items if i.key in labels]
    filled = with_answers(frame, results, target["out"])
    for column in (target["out"], f"{target['out']}_status"):
        frame[column] = filled[column]
    return frame


def _label(key: str) -> Any:
    value = json.loads(key)
    return value["label"] if isinstance(value, dict) else tuple(value) if isinstance(value, list) else value


def _tally(frame: Any) -> str:
    return ", ".join(f"{n} {status}" for status, n in frame["status"].value_counts().items() if status != "ok")


def _parse(parser: _Parser, line: str, usage: str) -> Any:
    try:
        return parser.parse_args(shlex.split(line))
    except UsageError as exc:
        raise UsageError(f"{exc}; write {usage}") from None
    except ValueError as exc:
        raise UsageError(f"cannot read the line ({exc}); write {usage}") from None
