"""`TransformersModel`: Qwen2.5-VL in-process with Hugging Face transformers (CPU or GPU).

Works without torchvision (reference §7): the processor is built from the PIL image processor and the
tokenizer only. Screenshots arrive already resized to model space (multiples of 28, `agent.imaging`);
the processor is configured so that its own resize is the identity for that size, and the grid it
reports is checked against the image, so the model never sees a second resize (reference §1).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from agent.errors import ConfigError
from agent.geometry import FACTOR, MAX_PIXELS, MIN_PIXELS, Size, smart_resize
from agent.models.base import Generation
from agent.prompt import Prompt

log = logging.getLogger(__name__)

PATCH = 14
VIDEO_PLACEHOLDER = "<|vision_start|><|video_pad|><|vision_end|>"
IMAGE_PLACEHOLDER = "<|vision_start|><|image_pad|><|vision_end|>"
DTYPES = {"bfloat16": "bfloat16", "bf16": "bfloat16", "float32": "float32", "fp32": "float32",
          "float16": "float16", "fp16": "float16", "auto": "auto"}
ATTENTION = ("sdpa", "eager", "flash_attention_2")
HUB_PROBE_SECONDS = 5.0


class TransformersModel:
    """Qwen2.5-VL from an HF id or a local checkpoint directory; greedy decoding.

    ``min_pixels`` / ``max_pixels`` are the limits `model_size` resizes with; prompts carry images that
    callers resized already. A prompt whose ``meta["video"] = {"fps": F}`` has its images sent as the
    frames of one video sampled at F frames per second.
    """

    def __init__(
        self,
        model_id_or_path: str | Path,
        *,
        dtype: str = "auto",
        device_map: str | dict | None = None,
        attn_implementation: str = "sdpa",
        min_pixels: int = MIN_PIXELS,
        max_pixels: int = MAX_PIXELS,
        max_new_tokens: int = 256,
    ) -> None:
        self.source = str(model_id_or_path)
        self.name = Path(self.source).name if Path(self.source).is_dir() else self.source
        self.min_pixels, self.max_pixels, self.max_new_tokens = min_pixels, max_pixels, max_new_tokens
        check_attention(attn_implementation)
        self.path = resolve_checkpoint(self.source)
        config = json.loads((self.path / "config.json").read_text("utf-8"))
        self.quantization = check_quantization(config)
        self.dtype = resolve_dtype(dtype, config)
        self.attn_implementation = attn_implementation

        import torch
        from transformers import Qwen2_5_VLForConditionalGeneration

        if device_map is None and torch.cuda.is_available():
            device_map = "auto"
        self.device_map = device_map
        t = time.perf_counter()
        extra = {"config": awq_loading_config(self.path)} if self.quantization == "awq" else {}
        try:
            self.model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
                self.path, dtype=getattr(torch, self.dtype), device_map=device_map,
                attn_implementation=attn_implementation, local_files_only=True, **extra,
            ).eval()
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"could not load Qwen2.5-VL weights from {self.path}: {exc}. If the download was interrupted, "
                f"run `hf download {self.source}` again (older huggingface_hub: `huggingface-cli download`)."
            ) from exc
        self.processor = load_processor(self.path)
        self.load_seconds = time.perf_counter() - t
        tokenizer = self.processor.tokenizer
        self._stop_ids = [i for i in {tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")}
                          if isinstance(i, int) and i >= 0]

    # -- the model protocol -------------------------------------------------------------------------
    def generate(self, prompt: Prompt) -> Generation:
        import torch

        t = time.perf_counter()
        video = prompt.meta.get("video")
        inputs, image_tokens = (self._video_inputs(prompt, float(video["fps"])) if video
                                else self._image_inputs(prompt))
        inputs = inputs.to(self.model.device)
        prompt_tokens = int(inputs["input_ids"].shape[1])
        with torch.inference_mode():
            output = self.model.generate(
                **inputs, max_new_tokens=self.max_new_tokens, do_sample=False, temperature=None, top_p=None,
                top_k=None, eos_token_id=self._stop_ids, pad_token_id=self._stop_ids[-1] if self._stop_ids else None,
            )
        new = output[0, prompt_tokens:].tolist()
        completion_tokens = len(new)
        stop = next((i for i, token in enumerate(new) if token in self._stop_ids), len(new))
        text = self.processor.tokenizer.decode(new[:stop], skip_special_tokens=False)
        return Generation(
            text, time.perf_counter() - t, image_tokens, prompt_tokens, completion_tokens,
            {"stopped": stop < len(new)}, finish_reason="stop" if stop < len(new) else "length",
        )

    def generate_batch(self, prompts: list[Prompt]) -> list[Generation]:
        """Several image prompts in one forward pass per token: left padding (so every prompt's last token
        is where generation starts), each row's M-RoPE positions computed by the model from the attention
        mask, each image checked against its own grid. Greedy answers equal one-at-a-time ones (tested)."""
        import torch

        if len(prompts) == 1 or any(p.meta.get("video") for p in prompts):
            return [self.generate(p) for p in prompts]
        t = time.perf_counter()
        inputs, image_tokens = self._image_inputs_batch(prompts)
        inputs = inputs.to(self.model.device)
        width = int(inputs["input_ids"].shape[1])
        with torch.inference_mode():
            output = self.model.generate(
                **inputs, max_new_tokens=self.max_new_tokens, do_sample=False, temperature=None, top_p=None,
                top_k=None, eos_token_id=self._stop_ids, pad_token_id=self._stop_ids[-1] if self._stop_ids else None,
            )
        seconds = time.perf_counter() - t
        out = []
        for row, tokens in enumerate(image_tokens):
            new = output[row, width:].tolist()
            stop = next((i for i, token in enumerate(new) if token in self._stop_ids), len(new))
            text = self.processor.tokenizer.decode(new[:stop], skip_special_tokens=False)
            prompt_tokens = int(inputs["attention_mask"][row].sum())
            out.append(Generation(text, seconds, tokens, prompt_tokens, stop + (stop < len(new)),
                                  {"stopped": stop < len(new), "batch": len(prompts)},
                                  finish_reason="stop" if stop < len(new) else "length"))
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "transformers", "name": self.name, "source": self.source, "path": str(self.path),
            "dtype": self.dtype, "device_map": self.device_map, "device": str(self.model.device),
            "attn_implementation": self.attn_implementation, "quantization": self.quantization,
            "min_pixels": self.min_pixels, "max_pixels": self.max_pixels, "max_new_tokens": self.max_new_tokens,
            "image_processor": type(self.processor.image_processor).__name__,
        }

    def model_size(self, size: Size) -> Size:
        """The model-space size of an image of ``size`` under this model's pixel limits."""
        h, w = smart_resize(size.height, size.width, min_pixels=self.min_pixels, max_pixels=self.max_pixels)
        return Size(w, h)

    # -- inputs -------------------------------------------------------------------------------------
    def _image_inputs(self, prompt: Prompt):
        images, kwargs = _processor_images(prompt.images)
        inputs = self.processor(text=[prompt.render()], return_tensors="pt", **kwargs)
        image_tokens = 0
        if images:
            grids = inputs["image_grid_thw"].tolist()
            for image, (_, gh, gw) in zip(images, grids, strict=True):
                check_grid(image.size, gh, gw)
                image_tokens += gh * gw // 4
        if "mm_token_type_ids" not in inputs:  # without it the model silently drops M-RoPE's 3D positions
            raise RuntimeError("the processor returned no mm_token_type_ids; this transformers version is unsupported")
        return inputs, image_tokens

    def _image_inputs_batch(self, prompts: list[Prompt]):
        images, kwargs = _processor_images([image for p in prompts for image in p.images])
        tokenizer = self.processor.tokenizer
        side, tokenizer.padding_side = tokenizer.padding_side, "left"
        try:
            inputs = self.processor(text=[p.render() for p in prompts], return_tensors="pt", padding=True, **kwargs)
        finally:
            tokenizer.padding_side = side
        grids = iter(inputs["image_grid_thw"].tolist() if images else [])
        image_tokens = []
        for p in prompts:
            count = 0
            for image in p.images:
                _, gh, gw = next(grids)
                check_grid(image.size, gh, gw)
                count += gh * gw // 4
            image_tokens.append(count)
        if "mm_token_type_ids" not in inputs:
            raise RuntimeError("the processor returned no mm_token_type_ids; this transformers version is unsupported")
        return inputs, image_tokens

    def _video_inputs(self, prompt: Prompt, fps: float):
        """The prompt's images as one video (Qwen's layout: frame pairs, ``second_per_grid_ts = 2 / fps``)."""
        import torch
        from transformers import BatchFeature

        frames = [image.convert("RGB") for image in prompt.images]
        if not frames:
            raise ValueError("a video prompt needs at least one frame")
        if len({f.size for f in frames}) != 1:
            raise ValueError("every frame of a video must have the same size")
        check_model_sized(frames[0].size)
        processor = self.processor.image_processor
        pixels, grid = video_patches(frames, processor.image_mean, processor.image_std)
        tokens = int(np.prod(grid)) // 4
        text = prompt.render().replace(IMAGE_PLACEHOLDER * len(frames), VIDEO_PLACEHOLDER, 1)
        text = text.replace("<|video_pad|>", "<|video_pad|>" * tokens, 1)
        encoded = self.processor.tokenizer([text], return_tensors="pt")
        # modality per token (2 = video): the model computes M-RoPE's 3D positions only when given these
        modality = (encoded["input_ids"] == self.processor.video_token_id).long() * 2
        return BatchFeature({
            "input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
            "mm_token_type_ids": modality,
            "pixel_values_videos": torch.from_numpy(pixels), "video_grid_thw": torch.tensor([grid]),
            "second_per_grid_ts": torch.tensor([2.0 / fps]),
        }), tokens


# -- checkpoint resolution and checks ---------------------------------------------------------------
def resolve_checkpoint(source: str) -> Path:
    """A local directory holding the checkpoint; downloads an uncached HF id only when the hub answers.

    Never hangs on retries: offline (``HF_HUB_OFFLINE``) or an unreachable hub gives a `ConfigError`
    that says how to fetch the weights or use a server instead.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"{path} is not a model checkpoint: it has no config.json")
        return path
    if source.startswith((".", "/", "~")) or source.count("/") != 1:
        raise ConfigError(f"model {source!r} is neither a local directory nor a Hugging Face id like Qwen/Qwen2.5-VL-3B-Instruct")
    from huggingface_hub import constants, snapshot_download, try_to_load_from_cache

    cached = try_to_load_from_cache(source, "config.json")
    if isinstance(cached, str):
        return Path(cached).parent
    where = "they are not in the local cache (nor is there a local directory of that name)"
    if constants.HF_HUB_OFFLINE or _offline():
        raise _missing_weights(source, f"HF_HUB_OFFLINE is set and {where}")
    if not _hub_reachable(source):
        raise _missing_weights(source, f"{where} and {constants.ENDPOINT} cannot be reached")
    try:
        log.warning("downloading %s from %s (once; cached afterwards)", source, constants.ENDPOINT)
        return Path(snapshot_download(source, allow_patterns=["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model"]))
    except Exception as exc:  # noqa: BLE001 - any hub failure is reported the same way
        raise _missing_weights(source, f"the download failed ({type(exc).__name__}: {exc})") from exc


def _hub_reachable(repo_id: str) -> bool:
    import httpx
    from huggingface_hub import constants

    try:
        httpx.head(f"{constants.ENDPOINT}/api/models/{repo_id}", timeout=HUB_PROBE_SECONDS, follow_redirects=True)
        return True
    except httpx.HTTPError:
        return False


def _missing_weights(source: str, why: str) -> ConfigError:
    return ConfigError(
        f"cannot load the weights of {source}: {why}. Download them once with `hf download {source}` "
        f"(older huggingface_hub: `huggingface-cli download {source}`), or pass a local checkpoint "
        "directory with --model, or point at a model server with --base-url http://HOST:PORT/v1 --model NAME."
    )


def check_quantization(config: dict[str, Any]) -> str | None:
    """The checkpoint's quantisation method; AWQ needs gptqmodel under transformers 5 (reference §7)."""
    method = (config.get("quantization_config") or {}).get("quant_method")
    if method == "awq" and importlib.util.find_spec("gptqmodel") is None:
        raise ConfigError(
            "this is an AWQ checkpoint, and transformers 5 loads AWQ weights through gptqmodel, which is not "
            "installed. Install the extra with `pip install 'qwen-gui-agent[awq]'` (gptqmodel 7.6.0 builds "
            "against torch 2.13 in about a minute), or use the unquantised checkpoint, or serve the model "
            "with vLLM and pass --base-url."
        )
    return method


def awq_loading_config(path: Path):
    """The checkpoint's config with its AWQ skip list made to match transformers 5's module names.

    AWQ checkpoints of Qwen2.5-VL say ``modules_to_not_convert: ["visual"]``, but transformers 5 names the
    vision tower ``model.visual`` and matches skip patterns from the start of the name, so "visual" skips
    nothing: the tower becomes 4-bit layers with no weights (randomly initialised) and the checkpoint's
    float vision weights are dropped. Adding the ``model.``-prefixed names keeps the tower in float.
    """
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path, local_files_only=True)
    quant = config.quantization_config
    skips = list((quant.get("modules_to_not_convert") if isinstance(quant, dict) else quant.modules_to_not_convert) or [])
    skips += [f"model.{name}" for name in skips if not name.startswith("model.")]
    if isinstance(quant, dict):
        quant["modules_to_not_convert"] = skips
    else:
        quant.modules_to_not_convert = skips
    return config


def resolve_dtype(dtype: str, config: dict[str, Any]) -> str:
    """``auto`` is the checkpoint's dtype, except float16 becomes bfloat16 (fp16 yields "!!!!" output)."""
    name = DTYPES.get(str(dtype).lower())
    if name is None:
        raise ConfigError(f"unknown --dtype {dtype!r}; use auto, bfloat16, float32 or float16")
    if name == "auto":
        text = config.get("text_config") or {}
        found = config.get("dtype") or config.get("torch_dtype") or text.get("dtype") or text.get("torch_dtype")
        name = DTYPES.get(str(found).lower(), "float32") if found else "float32"
        return "bfloat16" if name == "float16" else name
    if name == "float16":
        log.warning("float16 is known to make Qwen2.5-VL answer '!!!!' (vllm#13817); prefer bfloat16")
    return name


def check_attention(name: str) -> None:
    if name not in ATTENTION:
        raise ConfigError(f"unknown attention implementation {name!r}; use one of {', '.join(ATTENTION)}")
    if name == "flash_attention_2" and importlib.util.find_spec("flash_attn") is None:
        raise ConfigError(
            "--attn flash_attention_2 needs the flash-attn package (CUDA only: `pip install flash-attn "
            "--no-build-isolation`), which is not installed; use --attn sdpa (the default) instead."
        )


def check_model_sized(size: tuple[int, int]) -> None:
    width, height = size
    if width % FACTOR or height % FACTOR:
        raise ValueError(
            f"image is {width}x{height}, not a multiple of {FACTOR}: resize it to model space first "
            "(agent.imaging.to_model_image with agent.geometry.smart_resize)"
        )


def check_grid(size: tuple[int, int], grid_h: int, grid_w: int) -> None:
    """The processor must not have resized: model space is ``grid * 14`` (reference §1)."""
    width, height = size
    if (grid_h * PATCH, grid_w * PATCH) != (height, width):
        raise RuntimeError(
            f"the processor resized a {width}x{height} image to {grid_w * PATCH}x{grid_h * PATCH}; coordinates "
            "would be in the wrong space (double resize)"
        )


def load_processor(path: Path):
    """Qwen2.5-VL's processor without a video processor, so that torchvision is not needed."""
    from transformers import AutoTokenizer, Qwen2_5_VLProcessor, Qwen2VLImageProcessorPil

    class ImageTextProcessor(Qwen2_5_VLProcessor):
        @classmethod
        def get_attributes(cls):
            return ["image_processor", "tokenizer"]

    image_processor = Qwen2VLImageProcessorPil.from_pretrained(path, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    template = path / "chat_template.jinja"
    return ImageTextProcessor(image_processor, tokenizer,
                              chat_template=template.read_text("utf-8") if template.is_file() else None)


def video_patches(frames: list, mean, std, temporal: int = 2, merge: int = 2) -> tuple[np.ndarray, list[int]]:
    """Frames (same size, multiples of 28) to Qwen2-VL's flat video patches and ``[t, h, w]`` grid.

    The same layout as transformers' Qwen2VLVideoProcessor.patchify, in numpy (no torchvision).
    """
    video = np.stack([np.asarray(f, dtype=np.float32) / 255.0 for f in frames])  # T, H, W, C
    video = ((video - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)).transpose(0, 3, 1, 2)
    if pad := -len(video) % temporal:
        video = np.concatenate([video, np.repeat(video[-1:], pad, axis=0)])
    t, c, h, w = video.shape
    gt, gh, gw = t // temporal, h // PATCH, w // PATCH
    patches = video.reshape(gt, temporal, c, gh // merge, merge, PATCH, gw // merge, merge, PATCH)
    patches = patches.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return np.ascontiguousarray(patches.reshape(gt * gh * gw, c * temporal * PATCH * PATCH)), [gt, gh, gw]


def _offline() -> bool:
    """HF_HUB_OFFLINE as set now (huggingface_hub reads it once, at import)."""
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _processor_images(images: list) -> tuple[list, dict[str, Any]]:
    """RGB copies of model-sized images and the processor arguments that make its resize a no-op for them
    (smart_resize of a 28-multiple whose area lies in [min, max] is the identity)."""
    images = [image.convert("RGB") for image in images]
    for image in images:
        check_model_sized(image.size)
    if not images:
        return images, {}
    areas = [w * h for w, h in (image.size for image in images)]
    return images, {"images": images, "size": {"shortest_edge": min(areas), "longest_edge": max(areas)}}
