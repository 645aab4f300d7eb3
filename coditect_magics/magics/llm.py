"""The `%llm` / `%%llm` front: parse, fill `{vars}`, run through the executor, stream into the cell."""

from __future__ import annotations

import re
import sys
from typing import Any

from coditect_magics import bridge
from coditect_magics.budgets import BudgetExceeded
from coditect_magics.context import interpolate, lookup
from coditect_magics.executor import CallContext
from coditect_magics.images import image_for, image_part, is_image, require_images
from coditect_magics.providers import errors, registry
from coditect_magics.providers.types import ImagePart, Message, TextPart
from coditect_magics.render import render, traceback_text

from . import conversation, panels
from .args import UsageError, parser_of, split_options
from .memory import recall, remember
from .output import LLMResult, StreamView, show_error

EXPECTED = (UsageError, errors.ProviderError, BudgetExceeded)


def run(magics: Any, line: str, cell: str | None) -> Any:
    """Entry point of the magic: every expected failure is one line on stderr, never a traceback."""
    try:
        if cell is None:
            words = line.split()
            handler = SUBCOMMANDS.get(words[0]) if words else None
            if handler and _subcommand_fits(magics, words):
                return handler(magics, words[1:])
        args, rest = _parse(magics, line, cell)
        model, prompt = _model_and_prompt(magics, rest, cell)
        prompt = interpolate(prompt, magics.shell.user_ns).strip()
        if not prompt:
            raise UsageError("no prompt: write it after the model (%llm [model] prompt) or in the cell (%%llm)")
        question = Message("user", (TextPart(prompt), *(image_for(ref, magics.shell) for ref in args.image))
                           if args.image else prompt)
        params = _params(magics, args)
        thread = None if args.compare else conversation.pick(magics, name=args.thread, continued=args.continue_thread)
        recalled, used = recall(magics, prompt, already=[m.text for m in thread.messages()] if thread else ()) \
            if args.memory else ("", 0)
        system = "\n\n".join(part for part in (args.system, recalled) if part)
        system_messages = [Message("system", system)] if system else []
        if args.compare:
            return compare(magics, [*system_messages, question], _ids(args.compare), params)
        model = model or default_model(magics)
        messages = conversation.with_history(magics, thread, system_messages, question, model=model,
                                             reply_tokens=params.get("max_tokens"))
        if args.tools:  # the model may call functions and built-ins: the runner's loop, each call shown
            from .acting import run_llm
            result = run_llm(magics, model, messages, args.tools, allow=args.allow, params=params,
                             fmt=args.format or magics.format, stream=not args.no_stream, out=args.out,
                             context=CallContext(memory_items=used))
        else:
            result = ask(magics, model, messages, params=params,
                         fallbacks=_ids(args.fallback) if args.fallback else (), fmt=args.format or magics.format,
                         stream=not args.no_stream, cache=False if args.no_cache else None, out=args.out,
                         context=CallContext(memory_items=used))
        conversation.keep(thread, question, result)
        return result
    except EXPECTED as exc:
        show_error(str(exc), exc)
        return None


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _params(magics: Any, args: Any) -> dict[str, Any]:
    """The magic's options over the configured defaults."""
    chosen = {"temperature": args.temperature, "max_tokens": args.max_tokens}
    return {**_params_of(magics), **{k: v for k, v in chosen.items() if v is not None}}


def _params_of(magics: Any) -> dict[str, Any]:
    """The configured default temperature and max tokens, where set."""
    return {k: v for k, v in {"temperature": magics.temperature, "max_tokens": magics.max_tokens}.items()
            if v is not None}


_MODEL_ID = re.compile(r"^[a-z][a-z0-9_.-]*:(?!//)\S+$")


def is_model(magics: Any, word: str) -> bool:
    """Whether a word names a model: an alias, a provider, or anything shaped like provider:model (an unknown
    provider then fails loudly instead of becoming part of the prompt)."""
    if word in magics.aliases or word in registry.ALIASES or word in registry.names():
        return True
    return bool(_MODEL_ID.match(word))


def _parse(magics: Any, line: str, cell: str | None) -> tuple[Any, str]:
    """Options before the model, and on a %%llm line also after it (`%%llm openai:gpt-4o -c`)."""
    parser = parser_of(type(magics).llm)
    args, rest = split_options(parser, line)
    first, _, after = rest.partition(" ")
    if cell is not None and after.strip() and is_model(magics, first):
        later, leftover = split_options(parser, after)
        for key, value in vars(later).items():
            if value not in (None, False):
                setattr(args, key, value)
        rest = f"{first} {leftover}".strip()
    return args, rest


def _model_and_prompt(magics: Any, rest: str, cell: str | None) -> tuple[str | None, str]:
    first, _, after = rest.partition(" ")
    if cell is not None:
        if rest and not (" " not in rest and is_model(magics, rest)):
            raise UsageError(f"unexpected text on the %%llm line: {rest!r}; write %%llm [model] [options] and the "
                             "prompt in the cell")
        return (rest or None), cell
    if first and is_model(magics, first) and after.strip():
        return first, after
    return None, rest


def resolve_alias(magics: Any, model: str) -> str:
    return magics.aliases.get(model, model)


def default_model(magics: Any) -> str:
    """The configured default, else the first usable provider (said once), else a clear way to set one."""
    if magics.default_model:
        return magics.default_model
    usable = usable_models()
    if not usable:
        raise UsageError("no provider is usable: set an API key (e.g. OPENAI_API_KEY) or run a local server, then "
                         "%config CoditectMagics.default_model = 'provider:model'; %llm list shows what each needs")
    chosen = usable[0]
    if not magics.announced:
        magics.announced = True
        better = " (the embedded model; set an API key such as OPENAI_API_KEY, or" if chosen.startswith("local:") \
            else " (to choose another, set"
        print(f"coditect: using {chosen}{better} %config CoditectMagics.default_model = 'provider:model')",
              file=sys.stderr)
    return chosen


def ask(magics: Any, model: str, messages: list[dict[str, Any]], *, params: dict[str, Any], fallbacks: Any = (),
        fmt: str = "markdown", stream: bool = True, cache: bool | None = None, out: str | None = None,
        context: CallContext = CallContext()) -> LLMResult:
    """Run one call through the executor, streaming into one display handle; keep the reply in `_llm`."""
    model = resolve_alias(magics, model)
    fallbacks = [resolve_alias(magics, f) for f in fallbacks]
    _require_images(messages, [model, *fallbacks])
    execution = magics.executor.stream(model, messages, fallbacks=fallbacks, context=context, cache=cache,
                                       stream=stream, **params)
    result = LLMResult(text="", model=model, format=fmt, show_footer=magics.footer)
    view = StreamView(result, magics.stream_interval if stream else float("inf"))
    failure: BaseException | None = None
    try:
        for chunk in bridge.iterate(execution.__aiter__):
            view.add(chunk.text)
    except KeyboardInterrupt:
        result.status = "cancelled"
    except EXPECTED as exc:
        result.status, failure = "error", exc
    reply, row = execution.reply, execution.row
    result.text = execution.text
    result.model = execution.model
    if reply is not None:
        result.usage, result.latency_s, result.ttft_s = reply.usage, reply.latency_s, reply.ttft_s
        result.cached, result.note, result.reply = reply.cached, reply.note, reply
        result.model = f"{reply.provider}:{reply.model}" if reply.provider else result.model
    result.cost = getattr(row, "cost_usd", None) if row is not None else None
    if failure is not None and not result.text:
        view.handle.update({"text/plain": ""}, raw=True)
        raise failure
    view.finish()
    if failure is not None:
        show_error(f"{failure} (the partial reply is kept)", failure)
    magics.shell.user_ns["_llm"] = result
    if out:
        magics.shell.user_ns[out] = result
    remember(magics, _last_user_text(messages), result, agent=context.agent)
    return result


def _require_images(messages: list[Any], ids: list[str]) -> None:
    """Refuse, before any request, to send images to a model that cannot read them."""
    if any(isinstance(p, ImagePart) for m in messages for p in Message.coerce(m).parts):
        for model in ids:
            require_images(model)


def _last_user_text(messages: list[Any]) -> str:
    """What the user asked in this call: the text of its last user message."""
    users = [Message.coerce(m) for m in messages if (m.role if isinstance(m, Message) else m["role"]) == "user"]
    return users[-1].text if users else ""


def usable_models() -> list[str]:
    """The default model of every provider that can be called now (the search wrapper aside)."""
    from coditect_magics import providers
    return [f"{row.name}:{row.default_model}" for row in providers.available() if row.usable and row.name != "search"]


def compare(magics: Any, messages: list[dict[str, Any]], ids: list[str], params: dict[str, Any]) -> Any:
    """The same prompt to several models at once (`all`: every usable provider); a table of replies, tokens,
    cost and latency."""
    ids = usable_models() if ids == ["all"] else [resolve_alias(magics, i) for i in ids]
    _require_images(messages, ids)
    table = bridge.run(magics.executor.compare_table(messages, ids, **params))
    magics.shell.user_ns["_llm"] = table
    return table


# subcommands
def _subcommand_fits(magics: Any, words: list[str]) -> bool:
    arity = {"list": (1,), "alias": (3,), "default": (2,), "error": (1, 2), "help": (1,), "costs": (1, 2, 3),
             "reset": (1, 3), "history": (1, 3), "export": (3, 5), "import": (3, 5), "explain": (2, 3),
             "panel": (1,), "compare-panel": (1,)}
    if words[0] == "explain" and len(words) in arity["explain"]:  # `%llm explain recursion` stays a prompt
        return _names_value(magics, words[1]) and (len(words) == 2 or is_model(magics, words[2]))
    return len(words) in arity.get(words[0], ())


def _names_value(magics: Any, reference: str) -> bool:
    try:
        lookup(reference, magics.shell.user_ns)
    except LookupError:
        return False
    return True


def _list(magics: Any, words: list[str]) -> Any:
    from IPython.display import Markdown
    from coditect_magics import providers
    lines = ["| provider | usable | default model | reason | endpoint | known models |", "|---|---|---|---|---|---|"]
    configured = {name: providers.Settings(base_url=url) for name, url in magics.base_urls.items()}
    for row in providers.available(configured):
        spec = registry.entry(row.name).spec
        endpoint = row.endpoint or "SDK default"
        if row.name in magics.base_urls:
            endpoint += " (%config CoditectMagics.base_urls)"
        elif row.endpoint_env:
            endpoint += f" ({row.endpoint_env})"
        lines.append(f"| {row.name} | {'yes' if row.usable else 'no'} | {row.default_model} | {row.reason} | "
                     f"{endpoint} | {', '.join(spec.models)} |")
    aliases = {**registry.ALIASES, **magics.aliases}
    lines += ["", "Aliases: " + ", ".join(f"`{k}` → {v}" for k, v in sorted(aliases.items()))]
    if magics.default_model:
        lines.append(f"\nDefault: {magics.default_model}")
    return Markdown("\n".join(lines))


def _alias(magics: Any, words: list[str]) -> None:
    name, target = words
    registry.resolve(resolve_alias(magics, target))  # refuse an alias to nothing
    magics.aliases = {**magics.aliases, name: target}
    print(f"coditect: alias {name} → {target}")


def _default(magics: Any, words: list[str]) -> None:
    registry.resolve(resolve_alias(magics, words[0]))
    magics.default_model = words[0]
    print(f"coditect: default model is {words[0]}")


def _costs(magics: Any, words: list[str]) -> Any:
    from coditect_magics.costs import costs
    if words == ["--panel"]:
        return panels.costs(magics)
    by = None
    if words:
        if words[0] != "--by":
            raise UsageError("write %llm costs [--by provider|model|agent|day]")
        by = words[1]
    return costs(by=by, ledger=magics.executor.ledger)


def _error(magics: Any, words: list[str]) -> Any:
    value = getattr(sys, "last_value", None)
    if value is None:
        raise UsageError("no exception to explain yet: %llm error explains the last one raised in this kernel")
    text = traceback_text(value)
    messages = [{"role": "system", "content": "You explain Python errors from a Jupyter notebook: say what went "
                                              "wrong in one or two sentences, then show the fix as code."},
                {"role": "user", "content": f"Explain this error and how to fix it:\n\n```\n{text}\n```"}]
    model = words[0] if words else default_model(magics)
    return ask(magics, model, messages, params={})


def _explain(magics: Any, words: list[str]) -> Any:
    """`%llm explain VAR [MODEL]`: the value as a prompt would carry it (a picture as an image), explained."""
    name = words[0]
    value = lookup(name, magics.shell.user_ns)
    kind = type(value).__qualname__ if type(value).__module__ == "builtins" else \
        f"{type(value).__module__}.{type(value).__qualname__}"
    what = f"`{name}`, a {kind}"
    content: Any = ((TextPart(f"Explain this image from the notebook ({what})."), image_part(value))
                    if is_image(value) else f"Explain this value from the notebook ({what}):\n\n{render(value)}")
    messages = [Message("system", "You explain values from a Jupyter notebook: say what the value is and what "
                                  "stands out in it, briefly, and suggest a next step when one is useful."),
                Message("user", content)]
    model = words[1] if len(words) > 1 else default_model(magics)
    return ask(magics, model, messages, params=_params_of(magics))


def _help(magics: Any, words: list[str]) -> None:
    """Every magic's usage, options and examples, then where the settings are."""
    for magic in ("llm", "agent", "cmd", "skill", "memory"):
        print(f"{'=' * 100}\n%{magic}\n{getattr(type(magics), magic).__doc__}")
    print(f"{'=' * 100}\nSettings: %config CoditectMagics lists them; %config CoditectMagics.NAME = VALUE sets one.")


SUBCOMMANDS = {"list": _list, "alias": _alias, "default": _default, "costs": _costs, "error": _error,
               "explain": _explain, "help": _help, "panel": panels.chat, "compare-panel": panels.compare,
               **conversation.SUBCOMMANDS}
