"""Our prompt against the one the cookbooks build with qwen-agent's NousFnCallPrompt, structure for structure.

qwen-agent (a test-only dependency, `.[dev]`) renders the cookbook-style messages: its system block and
tools line, the user turn with the screenshot after the text; the ChatML text comes from Qwen2.5-VL's
chat template (the tiny model's copy). The cookbooks' tool definitions are recorded below as structure
(field names and order, types, enums, required, which actions each field is "Required only by"), read off
the Qwen2.5-VL computer-use and mobile-agent cookbooks' `ComputerUse` / `MobileUse` tools.
"""

from __future__ import annotations

import json
import re
from importlib.metadata import version

import jinja2
import pytest
from PIL import Image
from qwen_agent.llm.fncall_prompts.nous_fncall_prompt import NousFnCallPrompt
from qwen_agent.llm.schema import ContentItem, Message
from qwen_agent.tools.base import BaseTool

from agent.geometry import Size
from agent.models.tiny import CHAT_TEMPLATE
from agent.prompt import build_prompt, history_entry, prompt_text
from tools import COMPUTER_USE, MOBILE_USE, Tool
from tools.base import EXTENSIONS
from tools.schema import parameters_schema

QWEN_AGENT_VERSION = version("qwen-agent")  # checked with 0.0.34

# The cookbooks' definitions: (field, type, enum, the actions it is "Required only by"), in their order.
COOKBOOK = {
    "computer_use": {
        "actions": ["key", "type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click",
                    "double_click", "scroll", "wait", "terminate"],
        "fields": [
            ("keys", "array", None, ["key"]),
            ("text", "string", None, ["type"]),
            ("coordinate", "array", None, ["mouse_move", "left_click_drag"]),
            ("pixels", "number", None, ["scroll"]),
            ("time", "number", None, ["wait"]),
            ("status", "string", ["success", "failure"], ["terminate"]),
        ],
    },
    "mobile_use": {
        "actions": ["key", "click", "long_press", "swipe", "type", "system_button", "open", "wait", "terminate"],
        "fields": [
            ("coordinate", "array", None, ["click", "long_press", "swipe"]),
            ("coordinate2", "array", None, ["swipe"]),
            ("text", "string", None, ["key", "type", "open"]),
            ("time", "number", None, ["long_press", "wait"]),
            ("button", "string", ["Back", "Home", "Menu", "Enter"], ["system_button"]),
            ("status", "string", ["success", "failure"], ["terminate"]),
        ],
    },
}
# Key order inside each property object, as the cookbooks' dicts are written.
COOKBOOK_KEYS = {"action": ["description", "enum", "type"], "button": ["description", "enum", "type"],
                 "status": ["description", "type", "enum"]}
# The function object's keys in the cookbooks' stored prompts. qwen-agent 0.0.34's BaseTool.function has
# name_for_human and args_format commented out; the qwen-agent the cookbooks ran put them in, and their
# values still come from BaseTool (name_for_human = name; the English args_format).
COOKBOOK_FUNCTION_KEYS = ["name_for_human", "name", "description", "parameters", "args_format"]
SIZE = Size(1288, 728)


class _Tool(BaseTool):
    """A qwen-agent tool carrying a definition, as the cookbooks' ComputerUse / MobileUse do."""

    def __init__(self, name: str, description: str, parameters: dict) -> None:
        self.name, self.description, self.parameters = name, description, parameters
        super().__init__({})

    def call(self, params, **kwargs):  # pragma: no cover - never called: only the definition is rendered
        raise NotImplementedError


def cookbook_function(tool: BaseTool) -> dict:
    return {"name_for_human": tool.name_for_human, "name": tool.name, "description": tool.description,
            "parameters": tool.parameters, "args_format": tool.args_format}


def tools_line(system: str) -> dict:
    lines = system.split("<tools>\n", 1)[1].split("\n</tools>", 1)[0].split("\n")
    assert len(lines) == 1, "one tool, one line"
    return json.loads(lines[0])


def required_only_by(description: str) -> list[str]:
    match = re.search(r"Required only by ((?:`action=\w+`(?:, and |, | and )?)+)\.", description)
    return re.findall(r"`action=(\w+)`", match.group(1)) if match else []


def optional_for(description: str) -> list[str]:
    match = re.search(r"Optional for ((?:`action=\w+`(?:, and |, | and )?)+)\.", description)
    return re.findall(r"`action=(\w+)`", match.group(1)) if match else []


@pytest.mark.parametrize("base", [COMPUTER_USE, MOBILE_USE], ids=lambda t: t.name)
def test_cookbook_schema_is_the_cookbooks_field_for_field(base: Tool) -> None:
    tool = base.with_extensions(())
    line = tools_line(build_prompt(tool, "x", [], [], SIZE).system)
    assert list(line) == ["type", "function"] and line["type"] == "function"
    function = line["function"]
    assert list(function) == COOKBOOK_FUNCTION_KEYS
    assert function["name_for_human"] == function["name"] == tool.name
    assert function["args_format"] == "Format the arguments as a JSON object."
    params = function["parameters"]
    assert list(params) == ["properties", "required", "type"]
    assert params["required"] == ["action"] and params["type"] == "object"
    expected = COOKBOOK[tool.name]
    properties = params["properties"]
    assert list(properties) == ["action"] + [f[0] for f in expected["fields"]]
    assert properties["action"]["enum"] == expected["actions"]
    assert properties["action"]["type"] == "string"
    for name, kind, enum, required_by in expected["fields"]:
        prop = properties[name]
        assert list(prop) == COOKBOOK_KEYS.get(name, ["description", "type"]), name
        assert prop["type"] == kind and prop.get("enum") == enum, name
        assert required_only_by(prop["description"]) == required_by, name
        assert optional_for(prop["description"]) == [], name
    assert list(properties["action"]) == COOKBOOK_KEYS["action"]


@pytest.mark.parametrize("base", [COMPUTER_USE, MOBILE_USE], ids=lambda t: t.name)
def test_default_schema_differs_only_by_the_documented_extensions(base: Tool) -> None:
    documented = prompt_text()["differences"]
    assert set(EXTENSIONS) <= set(documented)
    for entry in documented.values():
        assert entry["what"] and entry["why"] and entry["switch"]
    cookbook = parameters_schema(base.with_extensions(()))["properties"]
    extended = parameters_schema(base)["properties"]
    assert list(extended) == list(cookbook)  # no field added or moved
    added = [a for a in extended["action"]["enum"] if a not in cookbook["action"]["enum"]]
    assert added == ["answer"]  # the `answer` extension, last
    for name in cookbook:
        if name == "action":
            continue
        assert extended[name]["type"] == cookbook[name]["type"] and extended[name].get("enum") == cookbook[name].get("enum")
        more = [a for a in required_only_by(extended[name]["description"]) if a not in required_only_by(cookbook[name]["description"])]
        assert more == (["answer"] if name == "text" else []), name
        clicks = ["left_click", "right_click", "middle_click", "double_click", "scroll"]
        assert optional_for(extended[name]["description"]) == (clicks if (base.name, name) == ("computer_use", "coordinate") else [])
    one = base.with_extensions(("answer",))
    assert "answer" in one.action_names and not optional_for(parameters_schema(one)["properties"]["coordinate"]["description"])


def _qwen_agent_text(tool: Tool, instruction: str, calls: list[dict]) -> tuple[str, list]:
    """The ChatML text the cookbooks' pipeline gives the model: NousFnCallPrompt, then the chat template."""
    system = build_prompt(tool, instruction, [], [], SIZE).system
    definition = tools_line(system)["function"]
    functions = [cookbook_function(_Tool(definition["name"], definition["description"], definition["parameters"]))]
    # the mobile cookbook's user turn; each earlier step is the whole call
    history = "".join(f"Step {i}: {json.dumps(call)}; " for i, call in enumerate(calls, start=1))
    query = f"The user query: {instruction}\nTask progress (You have done the following operation on the current device): {history}"
    messages = NousFnCallPrompt().preprocess_fncall_messages(
        messages=[Message(role="system", content=[ContentItem(text="You are a helpful assistant.")]),
                  Message(role="user", content=[ContentItem(text=query), ContentItem(image="file:///screen.png")])],
        functions=functions, lang=None,
    )
    dumped = [m.model_dump() for m in messages]
    text = jinja2.Environment().from_string(CHAT_TEMPLATE).render(messages=dumped, add_generation_prompt=True)
    return text, dumped


STEPS = {
    "mobile_use": [{"action": "open", "text": "File Manager"}, {"action": "click", "coordinate": [540, 1210]},
                   {"action": "type", "text": "au_uu \"SzH3yR2\".mp3"}],
    "computer_use": [{"action": "mouse_move", "coordinate": [644, 342]}, {"action": "key", "keys": ["ctrl", "a"]},
                     {"action": "scroll", "pixels": -300}],
}


@pytest.mark.parametrize("base", [COMPUTER_USE, MOBILE_USE], ids=lambda t: t.name)
@pytest.mark.parametrize("extensions", [(), EXTENSIONS], ids=["cookbook", "default"])
def test_rendered_prompt_is_what_qwen_agent_builds(base: Tool, extensions: tuple[str, ...]) -> None:
    """System block, tools line, user turn, history entries and image placement, character for character."""
    tool = base.with_extensions(extensions)
    steps = STEPS[tool.name]
    history = [history_entry(tool.name, tool.validate(args)) for args in steps]
    instruction = "Open the file manager app and view the au_uu_SzH3yR2.mp3 file in MUSIC Folder"
    ours = build_prompt(tool, instruction, history, [Image.new("RGB", (SIZE.width, SIZE.height))], SIZE)
    theirs, messages = _qwen_agent_text(tool, instruction, [{"name": tool.name, "arguments": a} for a in steps])
    assert ours.render() == theirs, QWEN_AGENT_VERSION
    # the same over HTTP: one system text, then the user's text before the screenshot
    sent = ours.messages(["data:image/png;base64,AA=="])
    assert sent[0] == {"role": "system", "content": "".join(item["text"] for item in messages[0]["content"])}
    assert [list(part)[0] if "image" in part else "text" for part in messages[1]["content"]] == ["text", "image"]
    assert [part["type"] for part in sent[1]["content"]] == ["text", "image_url"]
    assert sent[1]["content"][0]["text"] == messages[1]["content"][0]["text"]


def test_the_loop_runs_the_cookbook_schema_when_asked(tmp_path) -> None:
    from agent.cli import agent_config, build_parser
    from agent.loop import Agent
    from agent.models import ReplayModel
    from agent.trajectory import TrajectoryWriter
    from environments.canvas import CanvasEnvironment

    parse = build_parser().parse_args
    assert agent_config(parse(["run", "x", "--env", "browser", "--cookbook-schema"])).tool_extensions == ()
    assert agent_config(parse(["run", "x", "--env", "browser", "--tool-extensions", "answer"])).tool_extensions == ("answer",)
    assert agent_config(parse(["run", "x", "--env", "browser"])).tool_extensions == EXTENSIONS
    with pytest.raises(SystemExit):
        parse(["run", "x", "--env", "browser", "--tool-extensions", "teleport"])
    answers = ['<tool_call>\n{"name": "computer_use", "arguments": {"action": "answer", "text": "42"}}\n</tool_call>',
               '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>']
    model = ReplayModel(answers)
    config = agent_config(parse(["run", "x", "--env", "browser", "--cookbook-schema"]))
    result = Agent(model, CanvasEnvironment(Size(1280, 720), 1.0), config, TrajectoryWriter(tmp_path / "t")).run("x")
    assert result.outcome == "success" and result.answer is None
    assert '"answer"' not in model.prompts[0].system and "Optional for" not in model.prompts[0].system
    assert "unknown action 'answer' for computer_use" in model.prompts[1].user
    assert json.loads((tmp_path / "t" / "run.json").read_text())["options"]["tool_extensions"] == []
