"""A tiny random Qwen2.5-VL saved like a real checkpoint, for tests and benchmarks (no hub, no network).

Same architecture, processor and special tokens as the real model, a few hundred kilobytes of random
weights: loading it exercises the real code path (config, tokenizer, processor, vision tower, M-RoPE,
generate) while its answers are noise. Build once per session with `build_tiny_qwen25vl(path)`.
"""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
PLAIN_ADDED_TOKENS = ["<tool_call>", "</tool_call>"]  # added but not special in Qwen's tokenizer: kept on decode

# Qwen2.5-VL's own chat template, shortened to what its processor needs (images, videos, text turns).
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _corpus() -> list[str]:
    """Text the BPE learns merges from: our prompt files and typical answers."""
    texts = []
    for name in ("qwen25vl.toml", "tasks.toml"):
        try:
            data = tomllib.loads(resources.files("agent.prompts").joinpath(name).read_text("utf-8"))
        except FileNotFoundError:
            continue
        texts += _strings(data)
    texts += [
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [640, 360]}}\n</tool_call>',
        '{"name": "mobile_use", "arguments": {"action": "swipe", "coordinate": [10, 20], "coordinate2": [30, 40]}}',
        '```json\n[{"bbox_2d": [12, 34, 56, 78], "label": "button"}]\n```',
        "The screenshot shows a browser window with a search box, a sign-in button and a list of results.",
        "0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ .,;:!?'\"()[]{}<>/\\|-_=+*&^%$#@~`",
    ]
    return texts * 4


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def build_tokenizer(path: Path, vocab_size: int = 512):
    """A byte-level BPE with Qwen's special tokens, saved as ``tokenizer.json`` + config in ``path``."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus(), trainer)
    tokenizer.add_special_tokens(SPECIAL_TOKENS)  # ids after the learned vocabulary, as in Qwen
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in PLAIN_ADDED_TOKENS])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens={"image_token": "<|image_pad|>", "video_token": "<|video_pad|>"},
    )
    fast.save_pretrained(path)
    return fast


# Shapes of the two tiny variants. vLLM's CPU attention supports head sizes 32, 64, 80, ... but not 16,
# so the variant vLLM serves has text head_dim 64 (256 / 4 heads) and vision head_dim 80 (160 / 2 heads);
# mrope_section must sum to half the text head_dim.
TINY = {"hidden": 64, "intermediate": 128, "mrope_section": [2, 3, 3], "max_positions": 4096,
        "vision_hidden": 32, "vision_intermediate": 64}
TINY_VLLM = {"hidden": 256, "intermediate": 512, "mrope_section": [8, 12, 12], "max_positions": 32768,
             "vision_hidden": 160, "vision_intermediate": 320}


def build_tiny_qwen25vl(path: str | Path, *, dtype: str = "float32", seed: int = 0, shapes: dict | None = None) -> Path:
    """Write a random tiny Qwen2.5-VL checkpoint (model, processor, tokenizer, chat template) to ``path``.

    Text: hidden 64, 2 layers; vision: depth 2, hidden 32 (``shapes=TINY_VLLM``: the variant vLLM can
    serve, see `build_tiny_qwen25vl_vllm`). ``dtype`` is recorded in config.json (tests of the dtype
    rules write ``float16`` here).
    """
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    from agent.geometry import MIN_PIXELS

    shapes = shapes or TINY
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(path)
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": shapes["hidden"],
            "intermediate_size": shapes["intermediate"],
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": shapes["max_positions"],
            "max_window_layers": 2,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0,
                                "mrope_section": shapes["mrope_section"]},
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            "depth": 2,
            "hidden_size": shapes["vision_hidden"],
            "intermediate_size": shapes["vision_intermediate"],
            "num_heads": 2,
            "out_hidden_size": shapes["hidden"],
            "fullatt_block_indexes": [1],
            "window_size": 112,
            "tokens_per_second": 2,
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.save_pretrained(path)
    _set_dtype(path, dtype)

    # The hub checkpoint's own preprocessor_config.json layout (min/max_pixels keys, the large default).
    preprocessor = {
        "min_pixels": MIN_PIXELS, "max_pixels": 16384 * 28 * 28, "patch_size": 14, "temporal_patch_size": 2,
        "merge_size": 2, "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711], "image_processor_type": "Qwen2VLImageProcessor",
        "processor_class": "Qwen2_5_VLProcessor",
    }
    (path / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2))
    (path / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    return path


def build_tiny_qwen25vl_vllm(path: str | Path, *, seed: int = 0) -> Path:
    """The tiny model with head sizes vLLM's CPU attention supports (text 64, vision 80): ~2.7 M params, 11 MB."""
    return build_tiny_qwen25vl(path, seed=seed, shapes=TINY_VLLM)


def _set_dtype(path: Path, dtype: str) -> None:
    """Record ``dtype`` in config.json the way checkpoints on the hub do (both spellings)."""
    config_file = path / "config.json"
    config = json.loads(config_file.read_text())
    config["dtype"] = dtype
    config["torch_dtype"] = dtype
    for sub in ("text_config", "vision_config"):
        if isinstance(config.get(sub), dict):
            config[sub]["dtype"] = dtype
    config_file.write_text(json.dumps(config, indent=2))


def build_tiny_awq(path: str | Path, *, group_size: int = 32, seed: int = 0) -> Path:
    """The tiny model as a (random) AWQ GEMM checkpoint laid out like Qwen's own AWQ releases.

    The language model's linear layers are packed 4-bit (``qweight``/``qzeros``/``scales``), the vision
    tower stays float, and config.json says ``modules_to_not_convert: ["visual"]`` as Qwen's do. Loading
    it needs the ``[awq]`` extra (gptqmodel); without it, `TransformersModel` says how to install it.
    """
    import torch
    from safetensors.torch import load_file, save_file

    path = build_tiny_qwen25vl(path, dtype="float16", seed=seed)
    weights = load_file(path / "model.safetensors")
    generator = torch.Generator().manual_seed(seed)
    packed = {}
    for name, tensor in weights.items():
        if name.startswith("model.layers.") and name.endswith("proj.weight"):  # the text decoder's linears
            base, (rows, cols) = name[: -len(".weight")], tensor.shape
            packed[f"{base}.qweight"] = torch.randint(-(2**31), 2**31 - 1, (cols, rows // 8), dtype=torch.int32,
                                                      generator=generator)
            packed[f"{base}.qzeros"] = torch.full((cols // group_size, rows // 8), 0x88888888 - 2**32, dtype=torch.int32)
            packed[f"{base}.scales"] = (torch.rand((cols // group_size, rows), generator=generator) * 0.01).half()
        else:
            packed[name] = tensor
    save_file(packed, path / "model.safetensors", metadata={"format": "pt"})
    config = json.loads((path / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "awq", "bits": 4, "group_size": group_size, "zero_point": True,
                                     "version": "gemm", "modules_to_not_convert": ["visual"]}
    (path / "config.json").write_text(json.dumps(config, indent=2))
    return path
