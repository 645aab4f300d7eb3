"""Structured output in the APIs' own terms, written once for every adapter: OpenAI's strict JSON-schema form (every
object closed, every property required, the optional ones nullable), the Chat Completions `response_format` that
OpenAI, LM Studio and Hugging Face share, the names those APIs accept, and the way back from a strict answer to the
schema the user wrote."""

from __future__ import annotations

import copy
import re
from typing import Any, Literal, Mapping

from .types import OutputSchema

# How a provider constrains an answer to a schema: its API takes the schema ("json_schema"), a forced tool call
# carries the answer ("tool"), or an embedded sampler follows a grammar made from it ("grammar"). None: it cannot,
# and the service asks in the prompt and validates instead.
OutputMode = Literal["json_schema", "tool", "grammar"]

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions")


def wire_name(name: str) -> str:
    """A name OpenAI's json_schema and Anthropic's tools accept (letters, digits, _ and -, at most 64)."""
    return _NAME_CHARS.sub("_", name).strip("_")[:64] or "answer"


class _NotStrict(Exception):
    """The schema says something strict mode cannot (an open map): it is sent with strict off."""


def open_map(node: Any) -> bool:
    """Whether an object schema takes keys it does not name: additionalProperties true or a schema,
    patternProperties, or no properties at all. Closing it would change what it means."""
    if not isinstance(node, Mapping) or not is_object_schema(node):
        return False
    extra = node.get("additionalProperties")
    if "patternProperties" in node or extra is True or isinstance(extra, Mapping):
        return True
    return extra is not False and not node.get("properties")


def has_open_map(schema: Mapping[str, Any]) -> bool:
    """Whether any object in the schema (its definitions included) is an open map."""
    return any(open_map(node) for node in _walk(schema))


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """The schema as OpenAI's strict mode takes it, or None where strict mode cannot say the same (an open map, a
    root that is not an object). The user's schema is left as it was."""
    if not is_object_schema(schema) or has_open_map(schema):
        return None
    root = copy.deepcopy(dict(schema))
    try:
        return _strict(root, root)
    except _NotStrict:
        return None


def json_schema_format(output: OutputSchema) -> dict[str, Any]:
    """Chat Completions' `response_format`: the strict form with `strict: true` when asked and possible, else the
    schema as written with `strict: false`."""
    strict = strict_schema(output.schema) if output.strict else None
    return {"type": "json_schema", "json_schema": {"name": wire_name(output.name),
                                                   "schema": strict if strict is not None else dict(output.schema),
                                                   "strict": strict is not None}}


def unstrict(value: Any, schema: Mapping[str, Any]) -> Any:
    """An answer to the strict form read back against the schema as written: the nulls strict mode made the model
    write for properties the schema leaves optional (and does not allow to be null) are dropped."""
    return _unstrict(value, schema, schema)


def is_object_schema(node: Mapping[str, Any]) -> bool:
    """Whether a schema node describes an object."""
    kind = node.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind) or (kind is None and "properties" in node)


def _children(node: Mapping[str, Any]) -> list[Any]:
    """The subschemas a schema node holds directly."""
    found: list[Any] = []
    for key in _SUBSCHEMA_MAPS:
        if isinstance(node.get(key), Mapping):
            found.extend(node[key].values())
    for key in _SUBSCHEMA_LISTS:
        if isinstance(node.get(key), list):
            found.extend(node[key])
    for key in ("items", "not", "additionalProperties"):
        if isinstance(node.get(key), Mapping):
            found.append(node[key])
    if isinstance(node.get("items"), list):
        found.extend(node["items"])
    return [child for child in found if isinstance(child, Mapping)]


def _walk(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    nodes, stack = [], [node]
    while stack:
        current = stack.pop()
        nodes.append(current)
        stack.extend(_children(current))
    return nodes


def _resolve(root: Mapping[str, Any], ref: str) -> dict[str, Any]:
    """A local `#/...` reference's target."""
    target: Any = root
    for key in ref[2:].split("/") if ref.startswith("#/") else ():
        target = target.get(key.replace("~1", "/").replace("~0", "~")) if isinstance(target, Mapping) else None
    if not isinstance(target, Mapping) or not ref.startswith("#/"):
        raise _NotStrict(ref)
    return dict(target)


def _strict(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Make one node (in place) and everything under it strict; returns the node (a $ref with siblings inlined,
    since strict mode takes a $ref alone)."""
    if "$ref" in node and len(node) > 1:
        merged = {**_resolve(root, node.pop("$ref")), **node}
        node.clear()
        node.update(merged)
    node.pop("default", None)   # strict mode refuses defaults; they do not constrain the answer anyway
    if "oneOf" in node:         # strict mode takes anyOf only; any of the choices is still an answer
        node["anyOf"] = node.pop("oneOf")
    for key in _SUBSCHEMA_MAPS:
        if isinstance(node.get(key), dict):
            node[key] = {name: _strict(dict(child), root) for name, child in node[key].items()}
    for key in ("anyOf", "allOf", "prefixItems"):
        if isinstance(node.get(key), list):
            node[key] = [_strict(dict(child), root) for child in node[key]]
    if isinstance(node.get("items"), dict):
        node["items"] = _strict(dict(node["items"]), root)
    if is_object_schema(node):
        optional = [name for name in node.get("properties", {}) if name not in (node.get("required") or ())]
        for name in optional:
            node["properties"][name] = _nullable(node["properties"][name])
        node["required"] = list(node.get("properties", {}))
        node["additionalProperties"] = False
    return node


def _nullable(node: dict[str, Any]) -> dict[str, Any]:
    """The schema, or null."""
    if _allows_null(node):
        return node
    kind = node.get("type")
    if isinstance(kind, (str, list)) and "enum" not in node and "const" not in node:
        return {**node, "type": [*(kind if isinstance(kind, list) else [kind]), "null"]}
    if isinstance(node.get("anyOf"), list):
        return {**node, "anyOf": [*node["anyOf"], {"type": "null"}]}
    return {"anyOf": [node, {"type": "null"}]}


def _allows_null(node: Mapping[str, Any]) -> bool:
    kind = node.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    if "enum" in node and None in node["enum"]:
        return True
    return any(isinstance(v, Mapping) and _allows_null(v) for v in node.get("anyOf") or ())


def _unstrict(value: Any, node: Mapping[str, Any], root: Mapping[str, Any]) -> Any:
    if isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        try:
            node = {**_resolve(root, node["$ref"]), **{k: v for k, v in node.items() if k != "$ref"}}
        except _NotStrict:
            return value
    if isinstance(value, dict) and isinstance(node.get("properties"), Mapping):
        required, props = set(node.get("required") or ()), node["properties"]
        return {key: _unstrict(item, props[key], root) if isinstance(props.get(key), Mapping) else item
                for key, item in value.items()
                if not (item is None and key in props and key not in required and not _allows_null(props[key]))}
    if isinstance(value, list) and isinstance(node.get("items"), Mapping):
        return [_unstrict(item, node["items"], root) for item in value]
    return value
