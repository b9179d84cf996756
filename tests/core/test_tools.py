"""The action schema: validation rules, feedback wording, and the generated function definitions."""

from __future__ import annotations

import json

import pytest

from agent.errors import ActionValidationError
from agent.geometry import Size
from agent.prompt import prompt_text, system_prompt
from tools import COMPUTER_USE, MOBILE_USE
from tools.base import EXTENSIONS
from tools.schema import function_definition, parameters_schema

NATIVE_COMPUTER_ACTIONS = ["key", "type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click",
                           "double_click", "scroll", "wait", "terminate"]
NATIVE_MOBILE_ACTIONS = ["key", "click", "long_press", "swipe", "type", "system_button", "open", "wait", "terminate"]


def test_native_enums_plus_answer_extension() -> None:
    assert COMPUTER_USE.action_names == NATIVE_COMPUTER_ACTIONS + ["answer"]
    assert MOBILE_USE.action_names == NATIVE_MOBILE_ACTIONS + ["answer"]


@pytest.mark.parametrize("action", ["left_click", "right_click", "middle_click", "double_click"])
def test_every_click_takes_an_optional_coordinate(action: str) -> None:
    assert COMPUTER_USE.validate({"action": action}).points() == {}
    assert COMPUTER_USE.validate({"action": action, "coordinate": [3, 4]}).points() == {"coordinate": (3.0, 4.0)}


@pytest.mark.parametrize(("tool", "args"), [
    (COMPUTER_USE, {"action": "key", "keys": ["ctrl", "c"]}),
    (COMPUTER_USE, {"action": "type", "text": "hi"}),
    (COMPUTER_USE, {"action": "mouse_move", "coordinate": [1, 2]}),
    (COMPUTER_USE, {"action": "left_click_drag", "coordinate": [1, 2]}),
    (COMPUTER_USE, {"action": "scroll", "pixels": -300}),
    (COMPUTER_USE, {"action": "wait", "time": 1.5}),
    (COMPUTER_USE, {"action": "terminate", "status": "failure"}),
    (COMPUTER_USE, {"action": "answer", "text": "42"}),
    (MOBILE_USE, {"action": "key", "text": "volume_up"}),
    (MOBILE_USE, {"action": "click", "coordinate": [1, 2]}),
    (MOBILE_USE, {"action": "long_press", "coordinate": [1, 2], "time": 3}),
    (MOBILE_USE, {"action": "swipe", "coordinate": [1, 2], "coordinate2": [3, 4]}),
    (MOBILE_USE, {"action": "system_button", "button": "Back"}),
    (MOBILE_USE, {"action": "open", "text": "Settings"}),
    (MOBILE_USE, {"action": "answer", "text": "Paris"}),
])
def test_valid_actions_round_trip(tool, args) -> None:
    action = tool.validate(args)
    assert action.to_json_dict() == {k: (list(v) if isinstance(v, list) else v) for k, v in args.items()} | (
        {"coordinate": [float(c) for c in args["coordinate"]]} if "coordinate" in args else {}) | (
        {"coordinate2": [float(c) for c in args["coordinate2"]]} if "coordinate2" in args else {}) | (
        {"pixels": float(args["pixels"])} if "pixels" in args else {}) | (
        {"time": float(args["time"])} if "time" in args else {})


@pytest.mark.parametrize(("tool", "args", "message"), [
    (COMPUTER_USE, {"action": "teleport"}, "unknown action 'teleport' for computer_use; use one of: key, type"),
    (COMPUTER_USE, {"action": "left_click_drag"}, "action 'left_click_drag' needs the field 'coordinate'"),
    (COMPUTER_USE, {"action": "left_click", "text": "x"}, "does not take the field 'text'; leave it out"),
    (COMPUTER_USE, {"action": "left_click", "coordinate": [5]}, "field 'coordinate' of action 'left_click' must be [x, y]"),
    (COMPUTER_USE, {"action": "left_click", "coordinate": [-5, 3]}, "must be [x, y]: two non-negative numbers"),
    (COMPUTER_USE, {"action": "key", "keys": []}, "field 'keys' of action 'key'"),
    (COMPUTER_USE, {"action": "terminate", "status": "done"}, "field 'status' of action 'terminate'"),
    (COMPUTER_USE, {"coordinate": [1, 2]}, 'need an "action" field'),
    (COMPUTER_USE, ["left_click"], "must be a JSON object"),
    (MOBILE_USE, {"action": "click"}, "action 'click' needs the field 'coordinate'"),
    (MOBILE_USE, {"action": "system_button", "button": "Power"}, "field 'button' of action 'system_button'"),
    (MOBILE_USE, {"action": "left_click", "coordinate": [1, 2]}, "unknown action 'left_click' for mobile_use"),
])
def test_validation_errors_say_what_to_fix(tool, args, message: str) -> None:
    with pytest.raises(ActionValidationError) as exc:
        tool.validate(args)
    assert message in str(exc.value)


@pytest.mark.parametrize(("tool", "args", "sentences"), [
    (COMPUTER_USE, {"action": "left_click", "coordinate": [[5, 6]]}, 1),
    (COMPUTER_USE, {"action": "left_click", "coordinate": ["a", "b"]}, 1),
    (MOBILE_USE, {"action": "swipe", "coordinate": [[1, 2]], "coordinate2": "x"}, 2),
])
def test_each_problem_is_said_once(tool, args, sentences: int) -> None:
    with pytest.raises(ActionValidationError) as exc:
        tool.validate(args)
    problems = str(exc.value).split("; ")
    assert len(problems) == len(set(problems)) == sentences
    assert problems[0].startswith("field 'coordinate' of action") and "must be [x, y]" in problems[0]


def test_schema_is_generated_in_the_native_shape() -> None:
    params = parameters_schema(COMPUTER_USE)
    assert list(params["properties"]) == ["action", "keys", "text", "coordinate", "pixels", "time", "status"]
    assert params["required"] == ["action"]
    assert params["properties"]["action"]["enum"] == COMPUTER_USE.action_names
    assert params["properties"]["coordinate"]["type"] == "array"
    assert "Required only by `action=mouse_move` and `action=left_click_drag`." in params["properties"]["coordinate"]["description"]
    assert "Optional for `action=left_click`, `action=right_click`" in params["properties"]["coordinate"]["description"]
    assert params["properties"]["status"]["enum"] == ["success", "failure"]
    mobile = parameters_schema(MOBILE_USE)["properties"]
    assert mobile["button"]["enum"] == ["Back", "Home", "Menu", "Enter"]
    assert list(mobile) == ["action", "coordinate", "coordinate2", "text", "time", "button", "status"]  # the cookbook's order


@pytest.mark.parametrize("extensions", [EXTENSIONS, ("answer",), ()])
def test_every_schema_field_is_accepted_by_the_validator(extensions) -> None:
    """What the model is shown and what we accept cannot drift: each action's own fields validate; an
    extension switched off only hides a field the validator still accepts (a click's coordinate)."""
    for tool in (COMPUTER_USE.with_extensions(extensions), MOBILE_USE.with_extensions(extensions)):
        for name, cls in zip(tool.action_names, tool.actions):
            fields = set(cls.model_fields) - {"action"}
            described = {f for f, p in parameters_schema(tool)["properties"].items() if f"action={name}`" in p.get("description", "")}
            hidden = {f for f in fields if tool.hidden(cls, f)}
            assert described == fields - hidden, name
            assert hidden <= ({"coordinate"} if "optional_coordinate" not in extensions else set())


def test_extensions_switch_what_is_shown_and_accepted() -> None:
    cookbook = COMPUTER_USE.with_extensions(())
    assert cookbook is COMPUTER_USE.with_extensions([])  # one Tool per set: prompts are cached per Tool
    assert "answer" not in cookbook.action_names
    with pytest.raises(ActionValidationError, match="unknown action 'answer' for computer_use"):
        cookbook.validate({"action": "answer", "text": "42"})
    assert cookbook.validate({"action": "left_click", "coordinate": [3, 4]}).points() == {"coordinate": (3.0, 4.0)}
    assert MOBILE_USE.with_extensions(("optional_coordinate",)).validate({"action": "click", "coordinate": [1, 2]})
    with pytest.raises(ValueError, match="unknown tool extension"):
        COMPUTER_USE.with_extensions(("teleport",))


def test_function_definition_and_system_prompt_show_model_resolution() -> None:
    description = prompt_text()["tools"]["computer_use"]["description"].format(width=1316, height=728)
    definition = function_definition(COMPUTER_USE, description)
    assert definition["function"]["name"] == definition["function"]["name_for_human"] == "computer_use"
    system = system_prompt(COMPUTER_USE, Size(1316, 728))
    assert "The screen's resolution is 1316x728." in system
    tools_block = system.split("<tools>\n", 1)[1].split("\n</tools>", 1)[0]
    assert json.loads(tools_block) == definition
