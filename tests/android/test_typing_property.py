"""Property: any printable ASCII text typed through `commands.type_ascii` arrives verbatim after the
device's shell has parsed the line (the simulator parses it as POSIX sh does) and ``input text`` has
turned ``%s`` into spaces."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.geometry import Size
from environments.android.commands import type_ascii
from environments.android_sim import Phone
from environments.android_sim.shell import _split_commands, run
from environments.android_sim.ui import Screen

PRINTABLE = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@settings(max_examples=300, deadline=None)
@given(text=PRINTABLE)
def test_typed_text_arrives_verbatim(text):
    phone = Phone(Size(360, 640))
    phone.push(Screen("com.sim.notes", "edit", {"fields": {"title": ""}, "focus": "title"}))
    output = run(phone, type_ascii(text) if text else "true")
    assert output == b""
    assert phone.top.fields["title"] == text


@settings(max_examples=300, deadline=None)
@given(text=PRINTABLE)
def test_model_text_cannot_start_another_command(text):
    """However the text is built, the device's shell sees only ``input`` commands in the line."""
    import shlex

    for segment, _ in _split_commands(type_ascii(text or "x")):
        argv = shlex.split(segment)
        assert argv[0] == "input" and argv[1] in ("text", "keyevent") and len(argv) == 3
