"""Incremental JPEG: spliced output must be byte-identical to a full encode of the new frame.

``tile`` (the target restart interval in MCUs) is varied so small images get many tiles per row too:
tile=1 puts a marker after every MCU, the harshest test of crop alignment and edge padding.
"""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from agent.jpeg import MCU, RowJpegEncoder, _split, tile_mcus
from agent.trajectory import TrajectoryWriter
from environments.base import Damage


def make_image(rng: np.random.Generator, width: int, height: int, kind: str) -> np.ndarray:
    """"ui": flat panels with text-like specks; "noise": every pixel random (worst case, lots of 0xFF bytes)."""
    if kind == "noise":
        return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    pixels = np.full((height, width, 3), 240, dtype=np.uint8)
    for _ in range(4):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        pixels[y:y + int(rng.integers(1, height + 1)), x:x + int(rng.integers(1, width + 1))] = rng.integers(0, 256, 3)
    text = rng.random((height, width)) < 0.08
    pixels[text] = rng.integers(0, 80, (int(text.sum()), 3))
    return pixels


def change(rng: np.random.Generator, pixels: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """A copy of ``pixels`` with new content inside each (clamped) box and nothing changed outside."""
    new = pixels.copy()
    for left, top, right, bottom in boxes:
        region = new[max(top, 0):max(bottom, 0), max(left, 0):max(right, 0)]
        region[...] = rng.integers(0, 256, region.shape, dtype=np.uint8)
    return new


def random_box(rng: random.Random, width: int, height: int) -> tuple[int, int, int, int]:
    """Boxes anywhere, often touching an edge, sometimes empty or sticking out of the image."""
    left = rng.choice([0, rng.randrange(-5, width + 1)])
    top = rng.choice([0, height - 1, rng.randrange(-5, height + 1)])
    return left, top, left + rng.randrange(0, width // 2 + 8), top + rng.randrange(0, max(height // 3, 2) + 4)


def assert_identical_sequence(seed: int, width: int, height: int, kind: str, steps: int = 4,
                              tile: int = 8) -> list[str]:
    """Feeds ``steps`` damaged frames and checks every output against a fresh full encode."""
    rng, prng = np.random.default_rng(seed), random.Random(seed)
    encoder, reference = RowJpegEncoder(tile=tile), RowJpegEncoder(tile=tile)
    pixels = make_image(rng, width, height, kind)
    first = encoder.encode(Image.fromarray(pixels), frame=1)
    assert encoder.last == "full" and first == reference.save(Image.fromarray(pixels))
    paths = []
    for frame in range(2, steps + 2):
        boxes = [random_box(prng, width, height) for _ in range(prng.choice([0, 1, 1, 2, 3, 20]))]
        pixels = change(rng, pixels, boxes)
        image = Image.fromarray(pixels)
        data = encoder.encode(image, frame=frame, damage=Damage(frame - 1, tuple(boxes)))
        assert data == reference.save(image), (seed, width, height, kind, tile, boxes, encoder.last)
        paths.append(encoder.last)
    return paths


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(width=st.one_of(st.integers(1, 90), st.integers(90, 700)), height=st.integers(1, 90),
       kind=st.sampled_from(["ui", "noise"]), tile=st.sampled_from([1, 2, 3, 8]), seed=st.integers(0, 2**32 - 1))
def test_splice_is_byte_identical_small(width: int, height: int, kind: str, tile: int, seed: int) -> None:
    assert_identical_sequence(seed, width, height, kind, tile=tile)


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (1366, 768), (1280, 720), (1000, 333), (17, 1080),
                                               (1920, 40), (1080, 200)])
@pytest.mark.parametrize("kind", ["ui", "noise"])
def test_splice_is_byte_identical_screens(width: int, height: int, kind: str) -> None:
    paths = [path for seed in range(3) for path in assert_identical_sequence(seed, width, height, kind)]
    assert ("blocks" if tile_mcus(width) < -(-width // MCU) else "rows") in paths, paths  # splicing really ran


@pytest.mark.parametrize("tile", [1, 2])
@pytest.mark.parametrize(("width", "height"), [(1366, 768), (1000, 333), (250, 250)])
def test_splice_is_byte_identical_narrow_tiles(width: int, height: int, tile: int) -> None:
    paths = [path for seed in range(2) for path in assert_identical_sequence(seed, width, height, "noise", tile=tile)]
    assert "blocks" in paths, paths


@pytest.mark.parametrize(("width", "blocks"), [(1, 1), (17, 2), (300, 19), (320, 10), (1080, 4), (1280, 8),
                                               (1316, 83), (1366, 43), (1440, 9), (1920, 8), (3840, 8)])
def test_tile_width_divides_the_row(width: int, blocks: int) -> None:
    """Near 8 MCUs (128 px), at least 4, dividing the MCUs per row; a prime count makes the row one tile."""
    assert tile_mcus(width) == blocks
    data = RowJpegEncoder().save(Image.new("RGB", (width, 20), "gray"))
    assert _split(data, blocks) is not None and _split(data, blocks + 1) is None  # DRI really is in MCUs


def test_restart_markers_do_not_change_the_pixels() -> None:
    pixels = make_image(np.random.default_rng(4), 333, 77, "noise")
    plain = io.BytesIO()
    Image.fromarray(pixels).save(plain, "JPEG", quality=RowJpegEncoder().quality, subsampling=2)
    with Image.open(plain) as a, Image.open(io.BytesIO(RowJpegEncoder(tile=1).save(Image.fromarray(pixels)))) as b:
        assert np.array_equal(np.asarray(a), np.asarray(b))


def test_misaligned_crops_would_differ() -> None:
    """Why crops start on tile boundaries and end on one or at the image edge: otherwise edge padding
    (or the 2x2 chroma grid) differs and so do the bytes, which the identity tests would catch."""
    pixels = make_image(np.random.default_rng(6), 100, 32, "noise")
    encoder = RowJpegEncoder(tile=1)  # 7 MCUs per row, a tile each

    def segments(box: tuple[int, int, int, int]) -> list[bytes]:
        split = _split(encoder._save(Image.fromarray(pixels).crop(box), 1), 1)
        assert split is not None
        return split[1][::2]

    full = segments((0, 0, 100, 32))
    assert segments((32, 0, 100, 32)) == full[2:7] + full[9:14]  # aligned, to the right edge
    assert segments((16, 16, 48, 32)) == full[8:10]  # aligned, inside
    assert segments((0, 0, 40, 16))[2] != full[2]  # ends inside a tile: padded where the image is not
    assert segments((8, 0, 100, 16))[0] != full[0]  # starts off the MCU grid


def test_many_rows_and_edges_at_1080p() -> None:
    """First tile, partial last row (1080 = 67 * 16 + 8), several rectangles, the last tile column."""
    rng = np.random.default_rng(7)
    encoder, reference = RowJpegEncoder(), RowJpegEncoder()
    pixels = make_image(rng, 1920, 1080, "ui")
    encoder.encode(Image.fromarray(pixels), frame=1)
    cases = [[(0, 0, 1, 1)], [(1900, 1072, 1920, 1080)], [(0, 1079, 1920, 1080), (5, 0, 6, 40)],
             [(100, 15, 200, 17)], [(0, 300, 50, 340), (1800, 320, 1920, 400), (900, 1000, 901, 1080)],
             [(1919, 0, 1920, 1080)], [(0, 0, 1920, 16), (600, 100, 800, 300)],  # full-width strip, a box
             [(0, 300, 1920, 310), (900, 0, 910, 1080)],  # a cross: two crops that share a tile
             [(0, 0, 1920, 1080)]]  # everything: a full encode
    for frame, boxes in enumerate(cases, start=2):
        pixels = change(rng, pixels, boxes)
        data = encoder.encode(Image.fromarray(pixels), frame=frame, damage=Damage(frame - 1, tuple(boxes)))
        assert data == reference.save(Image.fromarray(pixels)), boxes
        assert encoder.last == ("full" if frame == len(cases) + 1 else "blocks"), (boxes, encoder.last)


def test_output_decodes_close_to_the_frame() -> None:
    rng = np.random.default_rng(3)
    encoder = RowJpegEncoder()
    pixels = make_image(rng, 640, 200, "ui")
    encoder.encode(Image.fromarray(pixels), frame=1)
    pixels[40:60, 100:300] = 0
    data = encoder.encode(Image.fromarray(pixels), frame=2, damage=Damage(1, ((100, 40, 300, 60),)))
    assert encoder.last == "blocks"
    with Image.open(io.BytesIO(data)) as decoded:
        decoded.load()
        assert decoded.format == "JPEG" and decoded.size == (640, 200) and decoded.mode == "RGB"
        error = np.abs(np.asarray(decoded, dtype=int) - pixels.astype(int))
    assert error[45:55, 110:290].max() < 12  # the new black bar is there
    assert error.mean() < 12


def test_fallbacks_and_reuse() -> None:
    rng = np.random.default_rng(5)
    encoder = RowJpegEncoder()
    pixels = make_image(rng, 300, 100, "ui")  # 19 MCUs per row (prime): a tile per row
    first = encoder.encode(Image.fromarray(pixels), frame=1)
    assert encoder.encode(Image.fromarray(pixels), frame=2, damage=Damage(1, ())) is first
    assert encoder.last == "reused"
    assert encoder.encode(Image.fromarray(pixels), frame=3, damage=Damage(2, ((0, 200, 50, 300), (10, 10, 10, 50)))) is first
    assert encoder.last == "reused"  # boxes outside the image or empty touch no rows
    box = ((0, 0, 10, 10),)
    for frame, image, damage in [
        (4, Image.fromarray(pixels), None),  # no damage: cannot tell
        (5, Image.fromarray(pixels), Damage(3, box)),  # since is not the cached frame
        (6, Image.fromarray(pixels[:, :200]), Damage(5, box)),  # size changed
        (7, Image.fromarray(pixels), Damage(6, ((0, 0, 1, 60),))),  # more than half the rows
        (None, Image.fromarray(pixels), Damage(7, box)),  # a spliced frame without an id ...
        (9, Image.fromarray(pixels), Damage(8, box)),  # ... cannot be referred to later
    ]:
        assert encoder.encode(image, frame=frame, damage=damage) == encoder.save(image)
        assert encoder.last == ("rows" if frame is None else "full"), frame


def test_non_rgb_frames_and_info_are_ignored() -> None:
    rng = np.random.default_rng(9)
    rgba = Image.fromarray(np.dstack([make_image(rng, 64, 48, "ui"), np.full((48, 64), 255, np.uint8)]), "RGBA")
    rgba.info["comment"] = b"from the screen"
    encoder = RowJpegEncoder()
    encoder.encode(rgba, frame=1)
    rgba.paste((1, 2, 3, 255), (0, 0, 8, 8))
    data = encoder.encode(rgba, frame=2, damage=Damage(1, ((0, 0, 8, 8),)))
    assert encoder.last == "rows" and data == encoder.save(rgba.convert("RGB"))  # 4 MCUs wide: one tile
    assert b"from the screen" not in data


def test_unusable_structure_always_encodes_in_full() -> None:
    class Progressive(RowJpegEncoder):
        def save(self, image: Image.Image) -> bytes:
            buf = io.BytesIO()
            image.save(buf, "JPEG", progressive=True)
            return buf.getvalue()

    image = Image.new("RGB", (64, 64), "white")
    assert _split(Progressive().save(image), 4) is None
    plain = io.BytesIO()
    image.save(plain, "JPEG")
    assert _split(plain.getvalue(), 4) is None  # no restart markers
    encoder = Progressive()
    encoder.encode(image, frame=1)
    encoder.encode(image, frame=2, damage=Damage(1, ((0, 0, 4, 4),)))
    assert encoder.last == "full"


def test_trajectory_writer_uses_damage(tmp_path) -> None:
    rng = np.random.default_rng(11)
    pixels = make_image(rng, 320, 240, "ui")
    writer = TrajectoryWriter(tmp_path / "run", image_format="jpeg")
    writer.save_screenshot(0, Image.fromarray(pixels), frame=10)
    pixels[100:120, 0:50] = 7
    name = writer.save_screenshot(1, Image.fromarray(pixels), frame=11, damage=Damage(10, ((0, 100, 50, 120),)))
    assert writer._jpeg.last == "blocks" and name.endswith(".jpg")
    assert (tmp_path / "run" / name).read_bytes() == RowJpegEncoder().save(Image.fromarray(pixels))
    png = TrajectoryWriter(tmp_path / "png", image_format="png")
    with Image.open(tmp_path / "png" / png.save_screenshot(0, Image.fromarray(pixels), frame=12)) as decoded:
        assert decoded.format == "PNG" and np.array_equal(np.asarray(decoded), pixels)
