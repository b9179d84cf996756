"""The function definitions shown to the model, generated from the pydantic action models.

The native tools have one flat ``parameters`` object (reference §2): ``action`` is an enum and every
other field says which actions need it. We build exactly that from the union, so the schema the model
reads and the schema we validate against cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from tools.base import Tool


def parameters_schema(tool: Tool) -> dict[str, Any]:
    """The flat JSON-schema ``parameters`` object of a tool, in the native layout."""
    bullets = [f"* `{name}`: {cls.__doc__.strip().splitlines()[0]}" for name, cls in zip(tool.action_names, tool.actions)]
    properties: dict[str, dict[str, Any]] = {
        "action": {
            "description": "The action to perform. The available actions are:\n" + "\n".join(bullets),
            "enum": tool.action_names,
            "type": "string",
        }
    }
    required_by: dict[str, list[str]] = {}
    optional_for: dict[str, list[str]] = {}
    for name, cls in zip(tool.action_names, tool.actions):
        schema = cls.model_json_schema()["properties"]
        for field, info in cls.model_fields.items():
            if field == "action":
                continue
            if field not in properties:
                properties[field] = _plain(schema[field])
            (required_by if info.is_required() else optional_for).setdefault(field, []).append(name)
    for field, prop in properties.items():
        if field == "action":
            continue
        parts = [prop.pop("description", "")]
        if field in required_by:
            parts.append("Required by " + _names(required_by[field]) + ".")
        if field in optional_for:
            parts.append("Optional for " + _names(optional_for[field]) + ".")
        prop["description"] = " ".join(p for p in parts if p)
        properties[field] = {"description": prop.pop("description"), **prop}
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
    return ", ".join(f"`action={a}`" for a in actions)
