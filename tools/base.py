"""Shared pieces of the two native tools: the base model, common actions, and the `Tool` handle.

Each action is a frozen pydantic model; a tool is a discriminated union of them keyed on ``action``.
Errors are rewritten into sentences the model can act on when they are fed back to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from agent.errors import ActionValidationError

# Deliberate differences from the cookbooks' tool definitions (documented in agent/prompts/qwen25vl.toml,
# [differences]); each can be switched off, and with none the model is shown the exact cookbook schema.
EXTENSIONS = ("optional_coordinate", "answer")

Coordinate = Annotated[
    tuple[Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)]],
    Field(description="(x, y): the pixels from the left and from the top edge of the screenshot."),
]


class Action(BaseModel):
    """Base of every action: immutable, and unknown fields are an error the model is told about."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    extension: ClassVar[str | None] = None  # an action the cookbooks do not have: shown only when enabled

    action: str

    def to_json_dict(self) -> dict[str, Any]:
        """The action as the model would write its arguments (no unset optionals)."""
        return self.model_dump(mode="json", exclude_none=True)

    def points(self) -> dict[str, tuple[float, float]]:
        """The model-space points this action carries, by field name."""
        return {
            name: value
            for name in ("coordinate", "coordinate2")
            if (value := getattr(self, name, None)) is not None
        }


class Type(Action):
    """Type a string of text on the keyboard into the focused element."""

    action: Literal["type"]
    text: str = Field(description="The text to type.")


class Wait(Action):
    """Wait the given number of seconds for the screen to change."""

    action: Literal["wait"]
    time: float = Field(default=2.0, ge=0, le=120, description="Seconds to wait.")


class Terminate(Action):
    """End the task and report whether it succeeded."""

    action: Literal["terminate"]
    status: Literal["success", "failure"] = Field(description="Whether the task was completed.")


class Answer(Action):
    """Give the answer to a question the user asked (extension: Qwen3-VL and GUI-Owl use it)."""

    extension: ClassVar[str | None] = "answer"
    action: Literal["answer"]
    text: str = Field(description="The answer to report to the user.")


def optional_coordinate(description: str = "") -> Any:
    """A click's (or scroll's) optional coordinate: the schema shows it only with ``optional_coordinate`` on.

    The validator accepts it either way: the model sends one with every click whatever it is shown.
    """
    return Field(None, json_schema_extra={"extension": "optional_coordinate"}, description=description or None)


@dataclass(frozen=True)
class Tool:
    """A native tool: its name, its action union and the order of its fields in the schema.

    ``extensions``: the deliberate differences from the cookbook schema that are switched on.
    """

    name: str
    actions: tuple[type[Action], ...]
    adapter: TypeAdapter
    fields: tuple[str, ...] = ()  # the order of the non-action parameters, as in the cookbook's definition
    extensions: frozenset[str] = field(default_factory=lambda: frozenset(EXTENSIONS))

    def with_extensions(self, extensions: Any) -> Tool:
        """This tool with only ``extensions`` switched on (none: the cookbook's schema and actions)."""
        wanted = frozenset(extensions)
        if unknown := wanted - set(EXTENSIONS):
            raise ValueError(f"unknown tool extension(s) {', '.join(sorted(unknown))}; known: {', '.join(EXTENSIONS)}")
        if wanted == self.extensions:
            return self
        return _restricted(self.name, self.actions, self.fields, wanted)

    def hidden(self, action: type[Action], field_name: str) -> bool:
        """Whether the schema leaves out this field of this action (an extension that is off)."""
        extra = action.model_fields[field_name].json_schema_extra
        return isinstance(extra, dict) and extra.get("extension") not in self.extensions

    @property
    def action_names(self) -> list[str]:
        return [a.model_fields["action"].annotation.__args__[0] for a in self.actions]

    def validate(self, arguments: Any) -> Action:
        """Build the action, or raise `ActionValidationError` in words the model can act on."""
        if not isinstance(arguments, dict):
            raise ActionValidationError(
                f"the arguments of {self.name} must be a JSON object like "
                f'{{"action": "{self.action_names[0]}", ...}}, got {type(arguments).__name__}'
            )
        if "action" not in arguments:
            raise ActionValidationError(
                f"the arguments of {self.name} need an \"action\" field, one of: {', '.join(self.action_names)}"
            )
        try:
            return self.adapter.validate_python(arguments)
        except ValidationError as exc:
            raise ActionValidationError(self._explain(arguments, exc)) from None

    def _explain(self, arguments: dict, exc: ValidationError) -> str:
        action = arguments.get("action")
        problems = []
        for err in exc.errors(include_url=False):
            kind, loc = err["type"], [str(p) for p in err["loc"]]
            if kind in ("union_tag_invalid", "union_tag_not_found"):
                return f"unknown action {action!r} for {self.name}; use one of: {', '.join(self.action_names)}"
            field = loc[1] if len(loc) > 1 else "arguments"
            if field.startswith("coordinate") and len(loc) > 2 or kind in ("tuple_type", "too_short", "too_long") and field.startswith("coordinate"):
                problems.append(
                    f"field {field!r} of action {action!r} must be [x, y]: two non-negative numbers, in pixels "
                    f"of the screenshot (got {arguments.get(field)!r})"
                )
            elif kind == "missing":
                problems.append(f"action {action!r} needs the field {field!r}")
            elif kind == "extra_forbidden":
                problems.append(f"action {action!r} does not take the field {field!r}; leave it out")
            else:
                problems.append(f"field {field!r} of action {action!r}: {err['msg']} (got {err['input']!r})")
        return "; ".join(dict.fromkeys(problems))  # one error per bad item ([[x, y]] gives two): say it once


def make_tool(name: str, actions: tuple[type[Action], ...], fields: tuple[str, ...] = ()) -> Tool:
    return _restricted(name, actions, fields, frozenset(EXTENSIONS))


@lru_cache(maxsize=16)
def _restricted(name: str, actions: tuple[type[Action], ...], fields: tuple[str, ...], extensions: frozenset[str]) -> Tool:
    """One Tool object per tool and set of extensions (prompts are cached per Tool)."""
    kept = tuple(a for a in actions if a.extension is None or a.extension in extensions)
    union = Annotated[Union[kept], Field(discriminator="action")]  # noqa: UP007 - built at run time
    return Tool(name, kept, TypeAdapter(union), fields, extensions)
