"""How far the client's resize is from the pixels Qwen's own processor makes, which `--resize server` sends.

For a few screenshot-like images (text, flat panels, gradients, a noisy photo), resized to the model size:

- vLLM's processor: transformers' ``Qwen2VLImageProcessor`` as vLLM loads it (the torchvision backend,
  uint8 antialiased bicubic), run in vLLM's own venv on the ORIGINAL file: what the model sees when the
  server resizes (`agent.server_resize`). The reference.
- the client's resize (`agent.imaging.to_model_image`, torch's uint8 antialiased bicubic), lossless;
- what `--resize client` actually hands the model: that resize as JPEG q90, through vLLM's processor;
- transformers' PIL backend (``Qwen2VLImageProcessorPil``, what the in-process path loads without
  torchvision) on the original.

Levels are 0-255 per channel; "≤1" / "≤4" are the shares of values within 1 / 4 levels of the reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from rich.console import Console
from rich.table import Table

SIZES = ((1280, 720), (1366, 768), (1920, 1080), (2560, 1440))
MAX_PIXELS = 12_845_056  # ScreenSpot's default, the checkpoint's own

_VLLM_SIDE = """
import json, sys
import numpy as np
from PIL import Image
from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor

processor = Qwen2VLImageProcessor(min_pixels=3136, max_pixels=int(sys.argv[2]))
captured = []
resize = processor.resize
processor.resize = lambda *a, **k: captured.append(resize(*a, **k)) or captured[-1]
for path in json.loads(sys.argv[1]):
    captured.clear()
    with Image.open(path) as image:
        processor(images=[image.convert("RGB")])
    np.save(path + ".vllm.npy", captured[0][0].permute(1, 2, 0).numpy())
"""


def screenshot(size: tuple[int, int], seed: int) -> Image.Image:
    """Text rows, buttons, a gradient band and a noisy photo: the kinds of content screenshots have."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", size, (248, 248, 248))
    draw = ImageDraw.Draw(image)
    w, h = size
    band = Image.linear_gradient("L").resize((w, h // 8)).convert("RGB")
    image.paste(band, (0, 0))
    for row in range(h // 8 + 10, h - 20, 22):
        draw.text((20, row), f"Line {row}: The quick brown fox jumps over the lazy dog 0123456789", fill=(30, 30, 30))
    for j in range(12):
        x, y = int(rng.integers(0, w - 140)), int(rng.integers(h // 8, h - 40))
        draw.rectangle([x, y, x + 130, y + 32], fill=tuple(int(v) for v in rng.integers(0, 255, 3)), outline=(0, 0, 0))
        draw.text((x + 8, y + 10), f"Button {j}", fill=(255, 255, 255))
    photo = Image.fromarray(rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)).resize((w // 4, h // 4))
    image.paste(photo, (w - w // 4 - 20, h // 2))
    return image


def _stats(a: np.ndarray, reference: np.ndarray) -> tuple[float, int, float, float]:
    d = np.abs(a.astype(np.int16) - reference.astype(np.int16))
    return float(d.mean()), int(d.max()), float((d <= 1).mean() * 100), float((d <= 4).mean() * 100)


def main() -> None:
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from agent.commands.serve import REPO_VLLM_VENV
    from agent.geometry import Geometry, Size
    from agent.imaging import decode, encode, to_model_image

    python = os.environ.get("GUI_AGENT_VLLM_PYTHON") or str(REPO_VLLM_VENV / "bin" / "python")
    if not Path(python).exists():
        raise SystemExit(f"no vLLM interpreter at {python}: `make vllm-venv` builds it, or set GUI_AGENT_VLLM_PYTHON")
    pil_processor = Qwen2VLImageProcessorPil(min_pixels=3136, max_pixels=MAX_PIXELS)
    captured: list[np.ndarray] = []
    pil_resize = pil_processor.resize
    pil_processor.resize = lambda *a, **k: captured.append(pil_resize(*a, **k)) or captured[-1]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths, ours = [], {}
        for i, size in enumerate(SIZES):
            original = Path(tmp) / f"s{i}.png"
            screenshot(size, i).save(original)
            model = Geometry.for_screenshot(Size(*size), max_pixels=MAX_PIXELS).model
            client = to_model_image(decode(original.read_bytes()), model)
            jpeg = Path(tmp) / f"s{i}-client.jpg"
            jpeg.write_bytes(encode(client, "jpeg"))
            captured.clear()
            pil_processor(images=[Image.open(original).convert("RGB")])
            ours[i] = (size, model, np.asarray(client), np.transpose(captured[0], (1, 2, 0)))
            paths += [str(original), str(jpeg)]
        done = subprocess.run([python, "-c", _VLLM_SIDE, json.dumps(paths), str(MAX_PIXELS)], text=True,
                              env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True)
        if done.returncode != 0:
            raise SystemExit(f"vLLM's processor could not run with {python} (`make vllm-venv` builds it, or set "
                             f"GUI_AGENT_VLLM_PYTHON):\n{done.stderr[-2000:]}")
        for i, (size, model, client, pil) in ours.items():
            reference = np.load(Path(tmp) / f"s{i}.png.vllm.npy")
            received = np.load(Path(tmp) / f"s{i}-client.jpg.vllm.npy")
            assert reference.shape == client.shape == received.shape == pil.shape, (reference.shape, client.shape)
            for label, pixels in (("client resize (lossless)", client), ("client resize + JPEG q90 (--resize client)", received),
                                  ("transformers PIL backend", pil)):
                rows.append((f"{size[0]}x{size[1]} → {model.width}x{model.height}", label, *_stats(pixels, reference)))
    table = Table(title="Pixels against vLLM's processor resizing the original file (--resize server / auto)")
    for column in ("screenshot", "pixels", "mean |Δ|", "max |Δ|", "≤ 1 level", "≤ 4 levels"):
        table.add_column(column, justify="right")
    for size, label, mean, worst, one, four in rows:
        table.add_row(size, label, f"{mean:.3f}", str(worst), f"{one:.2f}%", f"{four:.2f}%")
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
