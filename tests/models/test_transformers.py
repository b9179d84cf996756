"""TransformersModel on a tiny random Qwen2.5-VL: the real loading, processor and generate path."""

from __future__ import annotations

import importlib.util
import json
import shutil

import pytest
import torch
from PIL import Image

from agent.errors import ConfigError
from agent.geometry import MAX_PIXELS, MIN_PIXELS, Geometry, Size
from agent.imaging import to_model_image
from agent.loop import Agent, AgentConfig
from agent.models.transformers import TransformersModel, resolve_dtype
from agent.prompt import Prompt
from agent.trajectory import Trajectory, TrajectoryWriter
from environments.canvas import CanvasEnvironment

SCREENS = [Size(1920, 1080), Size(1280, 720), Size(1080, 2400), Size(390, 844)]
LIMITS = [(MIN_PIXELS, MAX_PIXELS), (MIN_PIXELS, 256 * 28 * 28), (256 * 28 * 28, 16384 * 28 * 28), (MIN_PIXELS, 64 * 28 * 28)]


def screenshot(size: Size) -> Image.Image:
    image = Image.new("RGB", (size.width, size.height), (236, 239, 244))
    image.paste((255, 0, 255), (size.width // 3, size.height // 3, size.width // 3 + 40, size.height // 3 + 30))
    return image


def test_loads_and_generates_with_counts(tiny_model):
    geometry = Geometry.for_screenshot(Size(1280, 720))
    image = to_model_image(screenshot(Size(1280, 720)), geometry.model)
    generation = tiny_model.generate(Prompt("You are a helpful assistant.", "Click the square.", (image,)))
    assert isinstance(generation.text, str)
    assert generation.image_tokens == geometry.image_tokens == 46 * 26
    assert generation.prompt_tokens > generation.image_tokens
    assert 1 <= generation.completion_tokens <= 16
    assert generation.seconds > 0
    assert "<|im_end|>" not in generation.text
    info = tiny_model.describe()
    assert info["backend"] == "transformers" and info["dtype"] == "float32"
    assert info["image_processor"] == "Qwen2VLImageProcessorPil"


def test_greedy_decoding_is_deterministic(tiny_model):
    prompt = Prompt("", "Describe.", (screenshot(Size(280, 196)),))
    assert tiny_model.generate(prompt).text == tiny_model.generate(prompt).text


@pytest.mark.parametrize("size", SCREENS, ids=str)
@pytest.mark.parametrize("limits", LIMITS, ids=lambda v: f"{v[0]}-{v[1]}")
def test_model_space_is_the_processor_grid(tiny_model, size, limits):
    """Our resize, then the processor's: image_grid_thw * 14 is exactly the image we sent."""
    geometry = Geometry.for_screenshot(size, min_pixels=limits[0], max_pixels=limits[1])
    image = to_model_image(screenshot(size), geometry.model)
    inputs, tokens = tiny_model._image_inputs(Prompt("", "x", (image,)))
    _, gh, gw = inputs["image_grid_thw"][0].tolist()
    assert (gw * 14, gh * 14) == (geometry.model.width, geometry.model.height)
    assert tokens == geometry.image_tokens
    assert (inputs["input_ids"][0] == tiny_model.processor.image_token_id).sum().item() == tokens


@pytest.mark.parametrize("size", SCREENS, ids=str)
@pytest.mark.parametrize("limits", LIMITS, ids=lambda v: f"{v[0]}-{v[1]}")
def test_our_smart_resize_agrees_with_the_processors_own_resize(tiny_model, size, limits):
    """Un-resized screenshots through the HF image processor land on our smart_resize size."""
    out = tiny_model.processor.image_processor(
        [screenshot(size)], size={"shortest_edge": limits[0], "longest_edge": limits[1]}, return_tensors="np"
    )
    _, gh, gw = out["image_grid_thw"][0].tolist()
    geometry = Geometry.for_screenshot(size, min_pixels=limits[0], max_pixels=limits[1])
    assert (gw * 14, gh * 14) == (geometry.model.width, geometry.model.height)


def test_known_sizes_from_the_reference():
    assert Geometry.for_screenshot(Size(1920, 1080), max_pixels=16384 * 784).model == Size(1932, 1092)
    assert Geometry.for_screenshot(Size(1920, 1080)).model == Size(1316, 728)
    assert Geometry.for_screenshot(Size(1080, 2400), max_pixels=16384 * 784).model == Size(1092, 2408)
    assert Geometry.for_screenshot(Size(1280, 720)).model == Size(1288, 728)


def test_an_image_the_processor_would_resize_is_refused(tiny_model):
    with pytest.raises(ValueError, match="not a multiple of 28"):
        tiny_model.generate(Prompt("", "x", (Image.new("RGB", (1280, 720)),)))


def test_prefill_is_rendered_and_excluded_from_the_text(tiny_model):
    image = screenshot(Size(280, 196))
    plain = tiny_model.generate(Prompt("", "Click.", (image,)))
    prefill = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": ['
    prefilled = tiny_model.generate(Prompt("", "Click.", (image,), prefill=prefill))
    extra = len(tiny_model.processor.tokenizer(prefill, add_special_tokens=False)["input_ids"])
    assert prefilled.prompt_tokens == plain.prompt_tokens + extra
    assert not prefilled.text.startswith("<tool_call>")
    # Greedy continuation: prefilling the first answer tokens yields exactly the rest of the answer.
    tokenizer = tiny_model.processor.tokenizer
    ids = tokenizer(plain.text, add_special_tokens=False)["input_ids"]
    for k in range(min(4, len(ids) - 1), 0, -1):
        head = tokenizer.decode(ids[:k])
        if tokenizer(head, add_special_tokens=False)["input_ids"] == ids[:k]:
            break
    else:
        pytest.fail(f"no token prefix of {plain.text!r} round-trips through the tokenizer")
    saved = tiny_model.max_new_tokens
    tiny_model.max_new_tokens = 2  # random weights have near-ties: compare the next tokens only
    try:
        continued = tiny_model.generate(Prompt("", "Click.", (image,), prefill=head))
    finally:
        tiny_model.max_new_tokens = saved
    assert continued.text and plain.text.startswith(head + continued.text)


def test_agent_loop_plumbing_records_every_attempt(tiny_model, tmp_path):
    """Random weights answer garbage: the episode ends "failure" (the model's) after the retries, all recorded."""
    config = AgentConfig(max_steps=3, max_retries=2)
    env = CanvasEnvironment(Size(1280, 720))
    env.show_target((600, 300, 680, 360))
    result = Agent(tiny_model, env, config, TrajectoryWriter(tmp_path / "run")).run("click the magenta square")
    assert (result.outcome, result.fault) == ("failure", "model")
    assert "3 tries" in result.reason
    trajectory = Trajectory.load(tmp_path / "run")
    assert trajectory.run["model"]["backend"] == "transformers"
    attempts = trajectory.steps[0]["attempts"]
    assert len(attempts) == 3
    assert all(isinstance(a["raw"], str) and a.get("error") for a in attempts)
    assert attempts[0]["feedback"] is None and attempts[1]["feedback"] == attempts[0]["error"]
    assert trajectory.steps[0]["geometry"]["model"] == [1288, 728]
    assert trajectory.result["outcome"] == "failure" and trajectory.result["fault"] == "model"


def test_video_prompt_uses_video_inputs(tiny_model):
    frames = tuple(Image.new("RGB", (336, 224), (40 * i, 120, 60)) for i in range(5))
    generation = tiny_model.generate(Prompt("", "What happened?", frames, meta={"video": {"fps": 2.0}}))
    assert generation.image_tokens == 3 * (224 // 28) * (336 // 28)  # 5 frames padded to 6: 3 temporal patches
    assert generation.prompt_tokens > generation.image_tokens


# -- dtype, attention, AWQ, missing weights ----------------------------------------------------------
@pytest.mark.parametrize(
    ("asked", "config", "expected"),
    [
        ("auto", {"torch_dtype": "float16"}, "bfloat16"),
        ("auto", {"dtype": "bfloat16"}, "bfloat16"),
        ("auto", {"text_config": {"dtype": "float16"}}, "bfloat16"),
        ("auto", {"dtype": "float32"}, "float32"),
        ("auto", {}, "float32"),
        ("bf16", {"dtype": "float16"}, "bfloat16"),
        ("float32", {"dtype": "bfloat16"}, "float32"),
        ("float16", {"dtype": "bfloat16"}, "float16"),
    ],
)
def test_dtype_rules(asked, config, expected):
    assert resolve_dtype(asked, config) == expected


def test_unknown_dtype_is_a_config_error():
    with pytest.raises(ConfigError, match="--dtype"):
        resolve_dtype("int3", {})


def test_fp16_checkpoint_loads_as_bf16(tiny_model_dir, tmp_path):
    path = shutil.copytree(tiny_model_dir, tmp_path / "fp16")
    config = json.loads((path / "config.json").read_text())
    config["dtype"] = config["torch_dtype"] = "float16"
    (path / "config.json").write_text(json.dumps(config))
    model = TransformersModel(path, max_new_tokens=4)
    assert model.dtype == "bfloat16"
    assert next(model.model.parameters()).dtype == torch.bfloat16
    assert model.generate(Prompt("", "x", (screenshot(Size(280, 196)),))).completion_tokens >= 1


@pytest.fixture
def without(monkeypatch):
    """Hide packages from the model module's import checks, whatever this machine has installed."""
    real = importlib.util.find_spec

    def hide(*names):
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in names else real(name, *a))

    return hide


def test_flash_attention_without_flash_attn_is_a_config_error(tiny_model_dir, without):
    without("flash_attn")
    with pytest.raises(ConfigError, match="flash-attn"):
        TransformersModel(tiny_model_dir, attn_implementation="flash_attention_2")
    with pytest.raises(ConfigError, match="sdpa"):
        TransformersModel(tiny_model_dir, attn_implementation="fast")


def test_awq_checkpoint_without_gptqmodel_names_the_extra(tmp_path, without):
    from agent.models.tiny import build_tiny_awq

    without("gptqmodel")
    path = build_tiny_awq(tmp_path / "awq")
    assert json.loads((path / "config.json").read_text())["quantization_config"]["quant_method"] == "awq"
    with pytest.raises(ConfigError, match=r"pip install 'qwen-gui-agent\[awq\]'"):
        TransformersModel(path)


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """An empty HF cache and a hub endpoint on a closed loopback port: no real network is ever touched."""
    import socket

    from huggingface_hub import constants

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return tmp_path / "hub"


def test_uncached_id_with_unreachable_hub_says_how_to_download(empty_hub):
    with pytest.raises(ConfigError) as info:
        TransformersModel("Qwen/Qwen2.5-VL-3B-Instruct")
    message = str(info.value)
    assert "hf download Qwen/Qwen2.5-VL-3B-Instruct" in message and "huggingface-cli download" in message
    assert "--base-url" in message and "cannot be reached" in message


def test_uncached_id_offline_says_how_to_download(empty_hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE is set"):
        TransformersModel("Qwen/Qwen2.5-VL-3B-Instruct")


def test_cached_id_loads_without_network(empty_hub, tiny_model_dir):
    snapshot = empty_hub / "models--tiny--qwen25vl" / "snapshots" / "0123abc"
    shutil.copytree(tiny_model_dir, snapshot)
    (empty_hub / "models--tiny--qwen25vl" / "refs").mkdir()
    (empty_hub / "models--tiny--qwen25vl" / "refs" / "main").write_text("0123abc")
    model = TransformersModel("tiny/qwen25vl", max_new_tokens=2)
    assert model.path == snapshot and model.name == "tiny/qwen25vl"


def test_cached_config_without_weights_says_how_to_download(empty_hub, tiny_model_dir):
    snapshot = empty_hub / "models--tiny--broken" / "snapshots" / "0123abc"
    shutil.copytree(tiny_model_dir, snapshot, ignore=shutil.ignore_patterns("*.safetensors"))
    (empty_hub / "models--tiny--broken" / "refs").mkdir()
    (empty_hub / "models--tiny--broken" / "refs" / "main").write_text("0123abc")
    with pytest.raises(ConfigError, match="hf download tiny/broken"):
        TransformersModel("tiny/broken")


def test_bad_local_paths_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="neither a local directory"):
        TransformersModel(str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="no config.json"):
        TransformersModel(tmp_path)


def test_video_patches_match_the_image_processor_layout(tiny_model):
    """A 'video' of one frame twice must patchify exactly as the processor does a single image."""
    import numpy as np

    from agent.models.transformers import video_patches

    rng = np.random.default_rng(0)
    frame = Image.fromarray(rng.integers(0, 255, (56, 84, 3), dtype=np.uint8))
    processor = tiny_model.processor.image_processor
    expected = processor([frame], size={"shortest_edge": 56 * 84, "longest_edge": 56 * 84}, return_tensors="np")
    patches, grid = video_patches([frame, frame], processor.image_mean, processor.image_std)
    assert grid == expected["image_grid_thw"][0].tolist()
    np.testing.assert_allclose(patches, expected["pixel_values"], atol=1e-5)


@pytest.mark.parametrize("video", [False, True], ids=["image", "video"])
def test_vision_tokens_get_mrope_3d_positions(tiny_model, video):
    """Qwen2.5-VL only computes its 3D (t, h, w) positions when told which tokens are vision tokens."""
    frames = (screenshot(Size(280, 196)),) * (2 if video else 1)
    prompt = Prompt("", "x", frames, meta={"video": {"fps": 1.0}} if video else {})
    inputs, tokens = tiny_model._video_inputs(prompt, 1.0) if video else tiny_model._image_inputs(prompt)
    assert (inputs["mm_token_type_ids"] == (2 if video else 1)).sum().item() == tokens
    grid = inputs["video_grid_thw" if video else "image_grid_thw"]
    positions, deltas = tiny_model.model.model.get_rope_index(
        inputs["input_ids"], image_grid_thw=None if video else grid, video_grid_thw=grid if video else None,
        attention_mask=inputs["attention_mask"], second_per_grid_ts=inputs.get("second_per_grid_ts"),
        mm_token_type_ids=inputs["mm_token_type_ids"],
    )
    vision = inputs["mm_token_type_ids"][0] > 0
    h_ids, w_ids = positions[1, 0, vision], positions[2, 0, vision]
    assert len(set(h_ids.tolist())) == 196 // 28 and len(set(w_ids.tolist())) == 280 // 28  # a 2D grid
    assert deltas.item() < 0  # vision tokens share positions: the sequence's positions end early
    tiny_model.max_new_tokens, saved = 2, tiny_model.max_new_tokens
    try:
        tiny_model.model.model.rope_deltas = None
        tiny_model.generate(prompt)
    finally:
        tiny_model.max_new_tokens = saved
    assert tiny_model.model.model.rope_deltas is not None and tiny_model.model.model.rope_deltas.item() == deltas.item()


def test_awq_skip_list_keeps_the_vision_tower_in_float(tiny_model_dir, tmp_path):
    """Qwen's AWQ configs skip "visual", which transformers 5 (module "model.visual") does not match.

    Measured with gptqmodel 7.6.0 in a scratch venv: unpatched, the vision tower became 4-bit layers
    with missing (random) weights; patched, it stays float and loads the checkpoint's weights.
    """
    from transformers.quantizers.quantizers_utils import should_convert_module

    from agent.models.transformers import awq_loading_config

    path = shutil.copytree(tiny_model_dir, tmp_path / "awq")
    config = json.loads((path / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "awq", "bits": 4, "group_size": 32, "version": "gemm",
                                     "zero_point": True, "modules_to_not_convert": ["visual"]}
    (path / "config.json").write_text(json.dumps(config))
    vision, text = "model.visual.blocks.0.attn.qkv", "model.language_model.layers.0.self_attn.q_proj"
    assert should_convert_module(vision, ["visual"])  # the bug: "visual" does not protect the tower
    skips = awq_loading_config(path).quantization_config["modules_to_not_convert"]
    assert not should_convert_module(vision, skips) and not should_convert_module("model.visual.merger.mlp.0", skips)
    assert should_convert_module(text, skips)


def test_token_budget_reached_is_finish_reason_length(tiny_model):
    """The in-process backend says when it stopped at max_new_tokens, so the parser can refuse a cut call."""
    prompt = Prompt("", "Describe.", (screenshot(Size(280, 196)),))
    saved = tiny_model.max_new_tokens
    reasons = []
    try:
        for budget in (1, 2, 16):
            tiny_model.max_new_tokens = budget
            generation = tiny_model.generate(prompt)
            reasons.append(generation.finish_reason)
            stopped = generation.info["stopped"]
            assert generation.finish_reason == ("stop" if stopped else "length")
            assert generation.cut_off == (not stopped)
            if not stopped:
                assert generation.completion_tokens == budget
    finally:
        tiny_model.max_new_tokens = saved
    assert "length" in reasons  # the seeded random model never says <|im_end|> first: one budget at least is reached


def test_pixel_limits_are_read_once_and_handed_to_loop_and_model(tiny_model_dir):
    """`gui-agent run` reads --min/--max-pixels once; the loop's config and the model get the same limits."""
    from agent.cli import build_parser
    from agent.options import agent_config, build_model, pixel_limits

    args = build_parser().parse_args(["run", "x", "--env", "browser", "--model", str(tiny_model_dir),
                                      "--min-pixels", "6272", "--max-pixels", "200704"])
    pixels = pixel_limits(args)
    config, model = agent_config(args, pixels), build_model(args, pixels)
    assert (config.min_pixels, config.max_pixels) == (model.min_pixels, model.max_pixels) == (6272, 200704)
