"""Answers as data: a schema from a pydantic model, a TypedDict or a JSON-schema dict; its `OutputSchema` for the
wire; an answer's text validated into the object with readable errors; and the call that asks again with those
errors when an answer does not fit. Every attempt goes through the executor, so each is an ordinary ledger row.

    schema = resolve_schema("City", namespace)        # or Schema.of(City), Schema.of({"type": "object", ...})
    city = schema.validate('{"name": "Paris"}')      # the instance (a dict for a TypedDict or a JSON schema)
    reply = await executor.complete("openai:gpt-4.1-mini", "The capital of France?", schema=City)
    reply.parsed                                     # City(name='Paris', ...)

Where a provider cannot constrain its output (its spec has no output mode), the schema goes into the prompt
instead; validation applies either way."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, AsyncIterator, Mapping, Sequence

from coditect_magics.errors import UsageError
from coditect_magics.providers import registry
from coditect_magics.providers.types import Message, OutputSchema, Reply, Request, Usage

_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_FENCE = re.compile(r"^```[\w+-]*\s*\n(.*?)\n?```$", re.S)


class InvalidAnswer(ValueError):
    """An answer that still does not match its schema after the retries: `text` keeps the raw answer, `errors`
    the validation errors (one line each), `attempts` how many answers were asked for."""

    def __init__(self, schema: str, errors: Sequence[str], text: str, attempts: int = 1) -> None:
        self.schema, self.errors, self.text, self.attempts = schema, tuple(errors), text, attempts
        tries = f" after {attempts} tries" if attempts > 1 else ""
        more = f" (+{len(self.errors) - 3} more)" if len(self.errors) > 3 else ""
        super().__init__(f"the answer does not match {schema}{tries}: {'; '.join(self.errors[:3])}{more}")


@dataclass(frozen=True)
class Schema:
    """The shape an answer must take. `kind` is model (a pydantic model class), typeddict or json (a JSON-schema
    dict); `source` is that class or dict; `json_schema` what goes on the wire."""

    name: str
    kind: str
    source: Any = field(repr=False)
    json_schema: Mapping[str, Any] = field(repr=False)

    @classmethod
    def of(cls, value: Any, name: str = "") -> "Schema":
        """The schema of a pydantic model class, a TypedDict or a JSON-schema dict; UsageError for anything else
        (or a dict that is not a valid JSON schema)."""
        if isinstance(value, Schema):
            return value
        if isinstance(value, Mapping):
            return cls(_wire_name(str(value.get("title") or name or "answer")), "json", dict(value),
                       _checked(dict(value), name))
        kind = _kind(value)
        if kind is None:
            what = name or repr(value)[:40]
            raise UsageError(f"{what} ({type(value).__name__}) is not a schema: give a pydantic model class, a "
                             "TypedDict or a JSON-schema dict")
        return _class_schema(value, kind, name)

    @property
    def output(self) -> OutputSchema:
        """The schema as a request carries it (each adapter sends it in its API's native form)."""
        return OutputSchema(self.name, self.json_schema)

    @property
    def fields(self) -> tuple[str, ...]:
        """The top-level fields an answer has (the columns of a map or a compare)."""
        if self.kind == "model":
            return tuple(self.source.model_fields)
        return tuple(self.json_schema.get("properties", {}))

    def validate(self, text: str) -> Any:
        """The answer's text as the object (a model instance; a dict for a TypedDict or a JSON schema). A fenced
        ```json block is read inside its fence; the nulls a strict API made the model write for optional fields
        are dropped (`providers.output.unstrict`), so their defaults apply. InvalidAnswer (one line per error, the
        raw text kept) when it does not fit."""
        from coditect_magics.providers.output import unstrict
        try:
            value = unstrict(json.loads(unfenced(text)), self.json_schema)
        except json.JSONDecodeError as exc:
            raise InvalidAnswer(self.name, [f"Invalid JSON: {exc}"], text) from None
        if self.kind == "json":
            return self._validate_json(value, text)
        from pydantic import TypeAdapter, ValidationError
        adapter = self.source if self.kind == "model" else TypeAdapter(self.source)
        try:  # JSON mode, as the answer came: pydantic reads strings into dates, enums... as JSON allows
            return (adapter.model_validate_json if self.kind == "model" else adapter.validate_json)(json.dumps(value))
        except ValidationError as exc:
            raise InvalidAnswer(self.name, [_pydantic_line(e) for e in exc.errors()], text) from None

    def _validate_json(self, value: Any, text: str) -> Any:
        import jsonschema_rs  # ~25 ms on first use; jsonschema with its format checkers can take a second
        found = sorted(jsonschema_rs.validator_for(dict(self.json_schema)).iter_errors(value),
                       key=lambda e: list(map(str, e.instance_path)))
        if found:
            raise InvalidAnswer(self.name, [f"{_path(e.instance_path)}: {e.message}" for e in found], text)
        return value

    def row(self, value: Any) -> dict[str, Any]:
        """A validated answer as a row of columns, one per field."""
        data = value.model_dump() if self.kind == "model" else dict(value)
        return {name: data.get(name) for name in self.fields}

    def instructions(self) -> str:
        """What the prompt says when the provider cannot constrain its output itself."""
        return (f"Answer with one JSON object only (no prose, no code fence) that validates against this JSON "
                f"schema named {self.name}:\n{json.dumps(self.json_schema, indent=1)}")


@functools.lru_cache(maxsize=128)
def _class_schema(value: type, kind: str, name: str) -> Schema:
    """A class's schema, made once per class (pydantic builds the JSON schema anew on every call, ~0.1 ms): a class
    redefined in the notebook is a new class, so it gets its own."""
    from pydantic import PydanticUserError, TypeAdapter
    try:
        schema = value.model_json_schema() if kind == "model" else TypeAdapter(value).json_schema()
    except PydanticUserError as exc:  # typing.TypedDict before 3.12, a type pydantic cannot describe
        raise UsageError(f"{name or value.__name__}: {str(exc).splitlines()[0]}") from None
    return Schema(_wire_name(value.__name__), kind, value, schema)


def resolve_schema(value_or_name: Any, namespace: Mapping[str, Any]) -> Schema:
    """The schema a magic's `--schema NAME` names: NAME looked up in the user's namespace (a dotted name reaches
    into a module or class); a value is taken as it is. UsageError, one line, for an unknown name or a value that is
    not a schema."""
    if not isinstance(value_or_name, str):
        return Schema.of(value_or_name)
    name = value_or_name.strip()
    head, *rest = name.split(".")
    if head not in namespace:
        raise UsageError(f"no variable {head!r} in the notebook: define a pydantic model, a TypedDict or a "
                         f"JSON-schema dict named {head} first")
    value = namespace[head]
    for part in rest:
        if not hasattr(value, part):
            raise UsageError(f"{'.'.join([head, *rest[:rest.index(part)]])} has no attribute {part!r}")
        value = getattr(value, part)
    return Schema.of(value, name)


def constrains(model_id: str) -> bool:
    """Whether the provider of `model_id` constrains output to a schema itself (its spec's output mode); when it
    cannot, the schema goes into the prompt."""
    return registry.output_mode(model_id) is not None


def feedback(schema: Schema, error: InvalidAnswer) -> Message:
    """The user turn that asks again, after the model's answer: what was wrong with it."""
    lines = "\n".join(f"- {line}" for line in error.errors)
    return Message("user", f"Your answer does not match the schema {schema.name}:\n{lines}\n"
                           "Answer again with the corrected JSON object only.")


@dataclass(frozen=True)
class Retrying:
    """An event of a structured stream: the answer so far did not fit; the next chunks are a new answer."""

    attempt: int
    error: InvalidAnswer


@dataclass(frozen=True)
class Spent:
    """What every attempt of a structured call cost, summed from their ledger rows (cost None when one is
    unknown)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    rows: tuple[Any, ...] = ()


class Structured:
    """A structured call under way: iterate for chunks (and a `Retrying` event before each new answer). Afterwards
    `.reply` (the last reply, `parsed` set, usage summed over the attempts), `.row` (a `Spent`), `.text` (the last
    answer, also when it failed), `.model`, `.call_id`; InvalidAnswer when the last answer still does not fit."""

    def __init__(self, executor: Any, target: Any, messages: Any, schema: Any, *, retries: int | None = None,
                 fallbacks: Sequence[str] = (), **options: Any) -> None:
        self.executor, self.schema = executor, Schema.of(schema)
        self.retries = executor.settings.schema_retries if retries is None else retries
        chain = executor.chain(target, messages, fallbacks,
                               **{k: options.pop(k) for k in ("temperature", "max_tokens", "stop") if k in options})
        self.request = replace(chain[0], output=self.schema.output)
        self.fallbacks, self.options = [r.model for r in chain[1:]], options
        self.prompted = not all(constrains(r.model) for r in chain)
        self.executions: list[Any] = []
        self.text, self.model, self.reply, self.call_id = "", chain[0].model, None, None

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._run()

    async def _run(self) -> AsyncIterator[Any]:
        messages = list(self.request.messages)
        if self.prompted:
            messages = _with_system(messages, self.schema.instructions())
        for attempt in range(1, self.retries + 2):
            execution = self.executor.stream(replace(self.request, messages=tuple(messages)),
                                             fallbacks=self.fallbacks, **self.options)
            self.executions.append(execution)
            self.call_id = execution.call_id
            async for chunk in execution:
                self.text, self.model = execution.text, execution.model
                yield chunk
            try:
                parsed = self.schema.validate(execution.text)
            except InvalidAnswer as exc:
                if attempt > self.retries:
                    self.reply = self._summed(execution.reply)  # the footer counts every try
                    raise InvalidAnswer(self.schema.name, exc.errors, execution.text, attempt) from None
                messages += [Message("assistant", execution.text), feedback(self.schema, exc)]
                self.text = ""
                yield Retrying(attempt + 1, exc)
                continue
            self.reply = replace(self._summed(execution.reply), parsed=parsed)
            return

    def _summed(self, reply: Reply | None) -> Reply | None:
        """The last reply with the usage of every try."""
        usage = sum((e.reply.usage for e in self.executions if e.reply is not None), Usage())
        return replace(reply, usage=usage) if reply is not None else None

    @property
    def row(self) -> Spent:
        rows = tuple(e.row for e in self.executions if e.row is not None)
        costs = [getattr(r, "cost_usd", None) for r in rows]
        return Spent(sum(r.input_tokens for r in rows), sum(r.output_tokens for r in rows),
                     None if any(c is None for c in costs) else sum(costs), rows)

    @property
    def parsed(self) -> Any:
        return self.reply.parsed if self.reply is not None else None


async def complete(executor: Any, target: Any, messages: Any = None, *, schema: Any,
                   retries: int | None = None, **options: Any) -> Reply:
    """One whole structured reply (`Reply.parsed` the validated object); InvalidAnswer when none fits."""
    call = Structured(executor, target, messages, schema, retries=retries, stream=False, **options)
    async for _ in call:
        pass
    assert call.reply is not None
    return call.reply


async def settle(executor: Any, target: str, messages: Sequence[Message], text: str, schema: Schema, *,
                 retries: int, **options: Any) -> tuple[Any, Any]:
    """An answer some other loop produced (an agent's tool loop) validated: `(parsed, None)` when it fits, else
    asked again (without tools) with the errors, `(parsed, the Structured call)`; InvalidAnswer when nothing fits."""
    try:
        return schema.validate(text), None
    except InvalidAnswer as exc:
        if retries < 1:
            raise
        again = [*messages, Message("assistant", text), feedback(schema, exc)]
        call = Structured(executor, target, again, schema, retries=retries - 1, **options)
        async for _ in call:
            pass
        return call.parsed, call


def with_instructions(messages: Sequence[Message], schema: Schema) -> list[Message]:
    """The messages with the schema in the system prompt (for a loop that cannot send it natively: tools)."""
    return _with_system(list(messages), schema.instructions())


def _with_system(messages: list[Message], text: str) -> list[Message]:
    """`text` as a system message right after the existing ones (every API takes the system prompt first)."""
    at = next((i for i, m in enumerate(messages) if m.role != "system"), len(messages))
    return [*messages[:at], Message("system", text), *messages[at:]]


def _kind(value: Any) -> str | None:
    if not isinstance(value, type):
        return None
    from typing_extensions import is_typeddict
    if is_typeddict(value):
        return "typeddict"
    from pydantic import BaseModel
    return "model" if issubclass(value, BaseModel) else None


def _checked(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """The dict, once checked against its draft's meta-schema (a typo in a type should say so before any call)."""
    import jsonschema_rs
    try:
        jsonschema_rs.meta.validate(schema)
    except jsonschema_rs.ValidationError as exc:
        raise UsageError(f"{name or 'the dict'} is not a valid JSON schema: {exc.message} at "
                         f"{_path(exc.instance_path)}") from None
    return schema


def _wire_name(name: str) -> str:
    """A name every API takes (OpenAI: letters, digits, _ and -, at most 64)."""
    return (_NAME.sub("_", name).strip("_") or "answer")[:64]


def unfenced(text: str) -> str:
    """The text inside a Markdown code fence when the whole answer is one (```json ... ```); else the text."""
    text = text.strip()
    match = _FENCE.match(text)
    return match.group(1).strip() if match else text


def _path(parts: Any) -> str:
    return ".".join(map(str, parts)) or "(root)"


def _pydantic_line(error: Mapping[str, Any]) -> str:
    return f"{_path(error.get('loc', ()))}: {error.get('msg', 'invalid')}"
