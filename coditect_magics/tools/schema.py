"""A tool from a Python function: its JSON schema from the signature and type hints (pydantic), its argument
descriptions from the docstring (docstring-parser, Google/NumPy/Sphinx styles), and a validated, awaitable call.

    @tool
    def weather(city: str, unit: Literal["C", "F"] = "C") -> str:
        '''Today's weather in a city.

        Args:
            city: The city's name, e.g. "Paris".
        '''

    Tool.from_function(any_function)      # the same, for a function named from the notebook
"""

from __future__ import annotations

import asyncio
import inspect
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, get_type_hints

from coditect_magics.providers import ToolSpec

from .errors import ToolArgumentsError

# what Anthropic and OpenAI accept as a tool name
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Tool:
    """A callable the model may use: `spec` goes into the request, `run(arguments)` validates and calls it."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    function: Callable[..., Any] = field(repr=False, compare=False)
    arguments_model: Any = field(repr=False, compare=False)   # the pydantic model that validates the arguments
    permission: str | None = None   # what a call needs to run without asking (run, write, bash, mcp); None: reads only

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise ValueError(f"tool name {self.name!r} is not allowed: use 1-64 letters, digits, _ or -, "
                             f"e.g. Tool.from_function(fn, name='my_tool')")

    @property
    def spec(self) -> ToolSpec:
        """What the model is told about the tool."""
        return ToolSpec(self.name, self.description, self.parameters)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly, as if it were not decorated."""
        return self.function(*args, **kwargs)

    @classmethod
    def from_function(cls, function: Callable[..., Any], *, name: str | None = None,
                      description: str | None = None) -> "Tool":
        """A tool from any function (sync or async); `name` and `description` default to the function's own."""
        if isinstance(function, Tool):
            return function
        if not callable(function):
            raise TypeError(f"{function!r:.60} is not a function, so it cannot be a tool")
        from docstring_parser import parse
        from pydantic import PydanticSchemaGenerationError, PydanticUndefinedAnnotation
        docs = parse(inspect.getdoc(function) or "")
        try:
            model = arguments_model(function, {p.arg_name: p.description or "" for p in docs.params})
        except (PydanticSchemaGenerationError, PydanticUndefinedAnnotation) as exc:
            raise TypeError(f"{getattr(function, '__name__', function)!r} cannot be a tool: a parameter's type has "
                            f"no JSON schema ({str(exc).splitlines()[0]}); use JSON-like types, enums, dataclasses "
                            f"or pydantic models") from None
        return cls(name or getattr(function, "__name__", type(function).__name__),
                   (description if description is not None else docs.description or "").strip(),
                   json_schema(model), function, model)

    def bind(self, arguments: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """The validated positional and keyword arguments for the function; ToolArgumentsError lists what is wrong."""
        from pydantic import ValidationError
        if not isinstance(arguments, Mapping):
            raise ToolArgumentsError(self.name, [f"arguments must be a JSON object, got {type(arguments).__name__}"])
        try:
            validated = self.arguments_model.model_validate(dict(arguments))
        except ValidationError as exc:
            raise ToolArgumentsError(self.name, [problem(e) for e in exc.errors(include_url=False)]) from None
        positional = {name for name, p in inspect.signature(self.function).parameters.items()
                      if p.kind == p.POSITIONAL_ONLY}
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for attribute, info in type(validated).model_fields.items():
            name = info.alias or attribute
            if name in positional:
                args.append(getattr(validated, attribute))
            elif attribute in validated.model_fields_set:  # left out: the function's own default applies
                kwargs[name] = getattr(validated, attribute)
        return args, kwargs

    async def run(self, arguments: Mapping[str, Any]) -> "str | ToolOutput":
        """Validate, call (a sync function in a worker thread, so several run at once) and return the result as text
        (or as a ToolOutput, text with images, when the function returned one)."""
        args, kwargs = self.bind(arguments)
        function = self.function
        if any(inspect.iscoroutinefunction(f) for f in (function, getattr(function, "__call__", None))):
            value = await function(*args, **kwargs)
        else:
            value = await asyncio.to_thread(function, *args, **kwargs)
            if inspect.isawaitable(value):
                value = await value
        return value if isinstance(value, ToolOutput) else result_text(value)


def tool(function: Callable[..., Any] | None = None, *, name: str | None = None,
         description: str | None = None) -> Any:
    """Mark a function as a tool: `@tool` or `@tool(name=..., description=...)`; it stays callable as before."""
    if function is None:
        return lambda f: Tool.from_function(f, name=name, description=description)
    return Tool.from_function(function, name=name, description=description)


def arguments_model(function: Callable[..., Any], descriptions: Mapping[str, str]) -> Any:
    """A pydantic model of the function's parameters. Fields get neutral names with the parameter's name as alias,
    so that parameters called `json`, `schema` or `model_name` do not clash with BaseModel's own attributes."""
    from pydantic import ConfigDict, Field, create_model
    from pydantic.fields import FieldInfo
    signature = inspect.signature(function)
    try:
        hints = get_type_hints(function, include_extras=True)
    except Exception:  # unresolvable forward references: fall back to the raw annotations
        hints = {}
    fields: dict[str, Any] = {}
    for index, parameter in enumerate(signature.parameters.values()):
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue  # the model can only be offered named arguments
        annotation = hints.get(parameter.name, parameter.annotation)
        if annotation is inspect.Parameter.empty:
            annotation = Any
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        stated = [m for m in getattr(annotation, "__metadata__", ()) if isinstance(m, FieldInfo)]
        if isinstance(default, FieldInfo):  # `x: int = Field(3, description=...)` in the signature
            stated.append(default)
            default = default.default
        # a description written into the type (Annotated or Field) beats the docstring's
        described = any(info.description for info in stated)
        info = Field(default, alias=parameter.name, **({} if described or not descriptions.get(parameter.name)
                                                       else {"description": descriptions[parameter.name]}))
        fields[f"p{index}"] = (annotation, FieldInfo.merge_field_infos(*stated, info) if stated else info)
    name = re.sub(r"\W", "_", getattr(function, "__name__", "tool"))
    return create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)


def json_schema(model: Any) -> dict[str, Any]:
    """The model's JSON schema without the titles pydantic adds (noise to the model)."""
    from pydantic.json_schema import GenerateJsonSchema

    class Untitled(GenerateJsonSchema):
        def field_title_should_be_set(self, schema: Any) -> bool:
            return False

    schema = model.model_json_schema(schema_generator=Untitled)
    schema.pop("title", None)
    return schema


def problem(error: Mapping[str, Any]) -> str:
    """One pydantic error as a line the model can act on: where, what, and what it sent."""
    where = ".".join(str(part) for part in error.get("loc", ())) or "arguments"
    line = f"{where}: {error.get('msg', 'invalid')}"
    if error.get("type") not in ("missing", "extra_forbidden") and "input" in error:
        line += f" (got {error['input']!r:.80})"
    return line


@dataclass(frozen=True)
class ToolOutput:
    """What a tool returns when it has images as well as text (a figure, an MCP image block)."""

    text: str
    images: tuple[Any, ...] = ()      # ImageParts


def result_text(value: Any) -> str:
    """What the model sees of a tool's return value: text as is, anything else as JSON (str() where JSON can't)."""
    if isinstance(value, str):
        return value
    from pydantic_core import to_json
    return to_json(value, fallback=str).decode()
