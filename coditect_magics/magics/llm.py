"""The `%llm` / `%%llm` front: parse, fill `{vars}`, prepare the call on the session, stream it into the cell; and
`%llm`'s own subcommands (list, alias, default, costs, error, explain, help)."""

from __future__ import annotations

import sys
from typing import Any

from coditect_magics import bridge
from coditect_magics.budgets import BudgetExceeded
from coditect_magics.context import interpolate, lookup
from coditect_magics.images import image_for, image_part, is_image
from coditect_magics.providers import errors, registry
from coditect_magics.providers.types import Chunk, Message, TextPart
from coditect_magics.render import render, traceback_text
from coditect_magics.session import Prepared, Session
from coditect_magics.structured import InvalidAnswer, Schema, resolve_schema

from .args import UsageError, parser_of, split_options
from .output import LLMResult, StreamView, current_shell, say_notices, show_error
from .subcommands import LLM

EXPECTED = (UsageError, errors.ProviderError, BudgetExceeded, InvalidAnswer)


def run(session: Session, line: str, cell: str | None) -> Any:
    """Entry point of the magic: every expected failure is one line on stderr, never a traceback."""
    try:
        if cell is None:
            call = LLM.find(session, line)
            if call is not None:
                return call()
        return _prompt(session, line, cell)
    except EXPECTED as exc:
        show_error(str(exc), exc)
        return None
    finally:
        say_notices(session)


def _prompt(session: Session, line: str, cell: str | None) -> Any:
    args, rest = _parse(session, line, cell)
    model, prompt = _model_and_prompt(session, rest, cell)
    prompt = interpolate(prompt, session.namespace).strip()
    if not prompt:
        raise UsageError("no prompt: write it after the model (%llm [model] prompt) or in the cell (%%llm)")
    question = Message("user", (TextPart(prompt), *(image_for(ref, current_shell()) for ref in args.image))
                       if args.image else prompt)
    params = {**session.settings.params(), **{k: v for k, v in {"temperature": args.temperature,
                                                                "max_tokens": args.max_tokens}.items()
                                                if v is not None}}
    schema = resolve_schema(args.schema, session.namespace) if args.schema else None
    if args.compare:
        return compare(session, question, args.system or "", ids(args.compare), params, memory=args.memory,
                       notebook=args.notebook, schema=schema)
    thread = session.pick_thread(name=args.thread, continued=args.continue_thread)
    model = model or session.default_model()
    prepared = session.prepare(question, system=args.system or "", thread=thread, model=model,
                               reply_tokens=params.get("max_tokens"), memory=(None, None) if args.memory else None,
                               notebook=args.notebook)
    fmt = args.format or ("code" if schema else session.settings.format)  # a schema's JSON streams as code
    if args.tools:  # the model may call functions and built-ins: the runner's loop, each call shown
        from .acting import run_llm
        result = run_llm(session, model, prepared, args.tools, allow=args.allow, params=params, fmt=fmt,
                         stream=not args.no_stream, out=args.out, schema=schema)
    else:
        result = ask(session, model, prepared, params=params, fallbacks=ids(args.fallback) if args.fallback else (),
                     fmt=fmt, stream=not args.no_stream, cache=False if args.no_cache else None, out=args.out,
                     schema=schema)
    session.keep(prepared, result.text, result.model)
    return result


def ids(text: str) -> list[str]:
    """A comma-separated list of model ids."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _parse(session: Session, line: str, cell: str | None) -> tuple[Any, str]:
    """Options before the model, and on a %%llm line also after it (`%%llm openai:gpt-4o -c`)."""
    from .core import CoditectMagics
    parser = parser_of(CoditectMagics.llm)
    args, rest = split_options(parser, line)
    first, _, after = rest.partition(" ")
    if cell is not None and after.strip() and session.is_model(first):
        later, leftover = split_options(parser, after)
        for key, value in vars(later).items():
            if value not in (None, False):
                setattr(args, key, value)
        rest = f"{first} {leftover}".strip()
    return args, rest


def _model_and_prompt(session: Session, rest: str, cell: str | None) -> tuple[str | None, str]:
    first, _, after = rest.partition(" ")
    if cell is not None:
        if rest and not (" " not in rest and session.is_model(rest)):
            raise UsageError(f"unexpected text on the %%llm line: {rest!r}; write %%llm [model] [options] and the "
                             "prompt in the cell")
        return (rest or None), cell
    if first and session.is_model(first) and after.strip():
        return first, after
    return None, rest


def ask(session: Session, model: str, prepared: Prepared, *, params: dict[str, Any], fallbacks: Any = (),
        fmt: str = "markdown", stream: bool = True, cache: bool | None = None, out: str | None = None,
        schema: Schema | None = None) -> LLMResult:
    """Run one call through the executor, streaming into one display handle; keep the reply in `_llm` and in
    memory. With `schema` the answer is validated (asked again with the errors) and `out` gets the object."""
    model = session.resolve(model)  # a bare `search` wraps the session's default model
    say_notices(session)
    options = dict(fallbacks=list(fallbacks), context=prepared.context, cache=cache, stream=stream, **params)
    if schema is not None:
        from coditect_magics.structured import Structured
        execution: Any = Structured(session.executor, model, prepared.messages, schema, **options)
    else:
        execution = session.executor.stream(model, prepared.messages, **options)
    result = LLMResult(text="", model=model, format=fmt, show_footer=session.settings.footer)
    view = StreamView(result, session.settings.stream_interval if stream else float("inf"))
    failure: BaseException | None = None
    try:
        for event in bridge.iterate(execution.__aiter__):
            if isinstance(event, Chunk):
                view.add(event.text)
            else:  # a structured answer that did not fit: the next one replaces it
                view.restart()
                show_error(f"{event.error}; asking again ({event.attempt - 1} of {execution.retries})")
    except KeyboardInterrupt:
        result.status = "cancelled"
    except EXPECTED as exc:
        result.status, failure = ("invalid" if isinstance(exc, InvalidAnswer) else "error"), exc
    result.take(execution)
    if failure is not None and not result.text:
        view.handle.update({"text/plain": ""}, raw=True)
        raise failure
    view.finish()
    if failure is not None:
        kept = "the raw text is in _llm.text" if isinstance(failure, InvalidAnswer) else "the partial reply is kept"
        show_error(f"{failure} ({kept})", failure)
    keep_result(session, result, out if schema is None or result.parsed is not None else None)
    if result.status == "ok":
        session.remember(prepared.question.text, result.text, model=result.model, agent=prepared.context.agent,
                         source=session.cell_source(view.result.shown_in))
    return result


def keep_result(session: Session, result: Any, out: str | None) -> None:
    """The reply as `_llm` (and `out`) in the notebook; `out` gets the parsed object when there is one."""
    session.namespace["_llm"] = result
    if out:
        session.namespace[out] = result.parsed if getattr(result, "parsed", None) is not None else result


def compare(session: Session, question: Message, system: str, models: list[str], params: dict[str, Any], *,
            memory: bool = False, notebook: bool = False, schema: Schema | None = None) -> Any:
    """The same prompt to several models at once (`all`: every usable provider); a table of replies, tokens,
    cost and latency (with `schema`, a column per field too)."""
    models = session.usable_models() if models == ["all"] else models
    prepared = session.prepare(question, system=system, memory=(None, None) if memory else None, notebook=notebook)
    say_notices(session)
    if schema is not None:
        params = {**params, "schema": schema}
    table = bridge.run(session.executor.compare_table(prepared.messages, models, **params))
    session.namespace["_llm"] = table
    return table


# subcommands (declared in subcommands.LLM)
def names_value(session: Session, words: list[str]) -> bool:
    """`%llm explain VAR` only when VAR is a variable (`%llm explain recursion` stays a prompt) and what follows
    names a model."""
    try:
        lookup(words[0], session.namespace)
    except LookupError:
        return False
    return len(words) == 1 or session.is_model(words[1])


def listing(session: Session, words: list[str]) -> Any:
    """`%llm list`: providers, usable or why not, default model (as an id to write: the search wrapper's is the model
    it wraps, the session's default), endpoint, known models; then the aliases."""
    from IPython.display import Markdown

    base_urls = session.settings.base_urls
    lines = ["| provider | usable | default model | reason | endpoint | known models |", "|---|---|---|---|---|---|"]
    for row in session.provider_rows():
        endpoint = row.endpoint or "SDK default"
        if row.name in base_urls:
            endpoint += " (%config CoditectMagics.base_urls)"
        elif row.endpoint_env:
            endpoint += f" ({row.endpoint_env})"
        lines.append(f"| {row.name} | {'yes' if row.usable else 'no'} | {row.name}:{row.default_model} | "
                     f"{row.reason} | {endpoint} | {', '.join(registry.entry(row.name).spec.models)} |")
    lines += ["", "Aliases: " + ", ".join(f"`{k}` → {v}" for k, v in sorted(session.alias_table().items()))]
    if session.settings.default_model:
        lines.append(f"\nDefault: {session.settings.default_model}")
    return Markdown("\n".join(lines))


def alias(session: Session, words: list[str]) -> None:
    name, target = words
    session.check(target)  # refuse an alias to nothing
    session.configure(aliases={**session.settings.aliases, name: target})
    print(f"coditect: alias {name} → {target}")


def default(session: Session, words: list[str]) -> None:
    session.check(words[0])
    session.configure(default_model=words[0])
    print(f"coditect: default model is {words[0]}")


def costs(session: Session, words: list[str]) -> Any:
    from coditect_magics.costs import costs as frame
    if words == ["--panel"]:
        from .panels import costs as panel
        return panel(session, [])
    if words and (words[0] != "--by" or len(words) != 2):
        raise UsageError("write %llm costs [--by provider|model|agent|day] or %llm costs --panel")
    return frame(by=words[1] if words else None, ledger=session.executor.ledger)


def explain_error(session: Session, words: list[str]) -> Any:
    value = getattr(sys, "last_value", None)
    if value is None:
        raise UsageError("no exception to explain yet: %llm error explains the last one raised in this kernel")
    system = ("You explain Python errors from a Jupyter notebook: say what went wrong in one or two sentences, then "
              "show the fix as code.")
    question = Message("user", f"Explain this error and how to fix it:\n\n```\n{traceback_text(value)}\n```")
    model = words[0] if words else session.default_model()
    return ask(session, model, session.prepare(question, system=system), params={})


def explain(session: Session, words: list[str]) -> Any:
    """`%llm explain VAR [MODEL]`: the value as a prompt would carry it (a picture as an image), explained."""
    name = words[0]
    value = lookup(name, session.namespace)
    kind = type(value).__qualname__ if type(value).__module__ == "builtins" else \
        f"{type(value).__module__}.{type(value).__qualname__}"
    what = f"`{name}`, a {kind}"
    content: Any = ((TextPart(f"Explain this image from the notebook ({what})."), image_part(value))
                    if is_image(value) else f"Explain this value from the notebook ({what}):\n\n{render(value)}")
    system = ("You explain values from a Jupyter notebook: say what the value is and what stands out in it, "
              "briefly, and suggest a next step when one is useful.")
    model = words[1] if len(words) > 1 else session.default_model()
    return ask(session, model, session.prepare(Message("user", content), system=system),
               params=session.settings.params())


def show_help(session: Session, words: list[str]) -> None:
    """Every magic's usage, options, subcommands and examples, then where the settings are."""
    from .core import CoditectMagics
    for magic in ("llm", "agent", "orchestrate", "cmd", "skill", "memory", "mcp"):
        print(f"{'=' * 100}\n%{magic}\n{getattr(CoditectMagics, magic).__doc__}")
    print(f"{'=' * 100}\nSettings: %config CoditectMagics lists them; %config CoditectMagics.NAME = VALUE sets one.")


def plain_call(session: Session, model: str, system: str, prompt: str, fmt: str) -> LLMResult:
    """One call with no thread or agent (a command's or a skill's model)."""
    return ask(session, model, session.prepare(Message("user", prompt), system=system),
               params=session.settings.params(), fmt=fmt)

