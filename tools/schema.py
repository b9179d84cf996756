"""The function definitions shown to the model, generated from the pydantic action models.

The native tools have one flat ``parameters`` object (reference §2): ``action`` is an enum and every
other field says which actions need it. We build exactly that from the union, so the schema the model
reads and the schema we validate against cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from tools.base import Tool

# Key order inside a property as the cookbooks' definitions write it (their `status` puts type before enum).
_KEY_ORDER = {"status": ("description", "type", "enum")}
_DEFAULT_ORDER = ("description", "enum", "type")


def parameters_schema(tool: Tool) -> dict[str, Any]:
    """The flat JSON-schema ``parameters`` object of a tool, in the native layout.

    Each field says which actions it belongs to: "Required only by ..." for the actions the cookbook
    lists (the validator gives some of them a default, e.g. ``wait``'s ``time``), then "Optional for ..."
    for the actions that take it only through an extension (a click's coordinate). With no extension
    switched on, names, order, types, enums and those action lists are the cookbook's.
    """
    bullets = [f"* `{name}`: {cls.__doc__.strip().splitlines()[0]}" for name, cls in zip(tool.action_names, tool.actions)]
    properties: dict[str, dict[str, Any]] = {
        "action": {
            "description": "The action to perform. The available actions are:\n" + "\n".join(bullets),
            "enum": tool.action_names,
            "type": "string",
        }
    }
    listed: dict[str, list[str]] = {}
    optional: dict[str, list[str]] = {}
    found: dict[str, dict[str, Any]] = {}
    for name, cls in zip(tool.action_names, tool.actions):
        schema = cls.model_json_schema()["properties"]
        for field, info in cls.model_fields.items():
            if field == "action" or tool.hidden(cls, field):
                continue
            found.setdefault(field, _plain(schema[field]))
            extra = info.json_schema_extra
            (optional if isinstance(extra, dict) and "extension" in extra else listed).setdefault(field, []).append(name)
    for field in [*tool.fields, *(f for f in found if f not in tool.fields)]:
        if field not in found:
            continue
        prop = found[field]
        parts = [prop.pop("description", "")]
        if field in listed:
            parts.append("Required only by " + _names(listed[field]) + ".")
        if field in optional:
            parts.append("Optional for " + _names(optional[field]) + ".")
        prop["description"] = " ".join(p for p in parts if p)
        order = _KEY_ORDER.get(field, _DEFAULT_ORDER)
        properties[field] = {key: prop[key] for key in order if key in prop}
    return {"properties": properties, "required": ["action"], "type": "object"}


def function_definition(tool: Tool, description: str) -> dict[str, Any]:
    """One tool as the cookbook renders it into the ``<tools>`` block."""
    return {
        "type": "function",
        "function": {
            "name_for_human": tool.name,
            "name": tool.name,
            "description": description,
            "parameters": parameters_schema(tool),
            "args_format": "Format the arguments as a JSON object.",
        },
    }


def _plain(schema: dict[str, Any]) -> dict[str, Any]:
    """Reduce pydantic's schema of one field to the native shape: description, enum, type."""
    branch = schema
    for option in schema.get("anyOf", []):
        if option.get("type") != "null":
            branch = option
    out: dict[str, Any] = {}
    if "description" in schema or "description" in branch:
        out["description"] = schema.get("description", branch.get("description"))
    if "enum" in branch:
        out["enum"] = branch["enum"]
    elif "const" in branch:
        out["enum"] = [branch["const"]]
    out["type"] = branch.get("type", "string")
    return out


def _names(actions: list[str]) -> str:
    """`` `action=a` ``, `` `action=a` and `action=b` ``, `` `action=a`, `action=b`, and `action=c` `` (the cookbook's)."""
    names = [f"`action={a}`" for a in actions]
    if len(names) < 3:
        return " and ".join(names)
    return ", ".join(names[:-1]) + ", and " + names[-1]
