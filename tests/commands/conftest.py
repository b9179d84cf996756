"""Fixtures for the describe / detect / ground commands: a tiny model, screenshots, videos, a scripted server."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from agent.models.tiny import build_tiny_qwen25vl


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_qwen25vl(tmp_path_factory.mktemp("tiny-qwen25vl"))


def make_screen(path: Path, size: tuple[int, int], targets: dict[str, tuple[int, int, int, int]]) -> Path:
    """A light UI-ish screenshot with solid dark-grey rectangles at ``targets`` (x1, y1, x2, y2 exclusive)."""
    image = Image.new("RGB", size, (245, 245, 245))
    for x1, y1, x2, y2 in targets.values():
        image.paste((90, 90, 90), (x1, y1, x2, y2))
    image.save(path)
    return path


def make_video(path: Path, seconds: float = 3.0, rate: int = 10, size: tuple[int, int] = (320, 240)) -> Path:
    """An H.264 (or MPEG-4) clip of a square moving left to right, written with PyAV."""
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        frames = round(seconds * rate)
        for i in range(frames):
            array = np.full((size[1], size[0], 3), 240, np.uint8)
            x = int(i * (size[0] - 40) / max(frames - 1, 1))
            array[100:140, x : x + 40] = (200, 30, 30)
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
