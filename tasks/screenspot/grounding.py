"""Ask the model about one sample the way Qwen2.5-VL is evaluated, score its answer, and run many at once.

The query follows the ScreenSpot-Pro harness's Qwen2.5-VL adapter (reference §5): the ``computer_use``
system prompt carrying the model-space resolution, the instruction as the user turn, one screenshot
resized once to model space, greedy decoding, and optionally the assistant turn prefilled up to the
coordinate. Scoring follows the official scripts: the answer's point (a box's centre) is mapped per axis
to the original image and is correct iff it lies inside the target box, edges included; an answer with
no point is wrong and counted as ``wrong_format``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from PIL import Image
from rich.console import Console

from agent.errors import ConfigError, OutOfRangeError, ParseError, error_record
from agent.geometry import Geometry, ModelPoint, Size
from agent.imaging import decode, encode_once, to_model_image
from agent.models.base import Model
from agent.parser import parse_point, parse_tool_calls
from agent.prompt import Prompt, system_prompt
from agent.server_resize import ResizeMode, ServerResized, for_server
from tasks.runner import Unit, run_units
from tasks.screenspot.data import Sample
from tools import COMPUTER_USE

# The ScreenSpot-Pro harness's prefill: the model only has to write "x, y]}}\n</tool_call>".
PREFILL = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": ['
# 16384·28·28, the model repo's preprocessor_config max (and vLLM's): no downscaling of any v1/v2 image and
# of all Pro screenshots up to 4K, and a server never resizes our image a second time.
EVAL_MAX_PIXELS = 12_845_056
FSYNC_EVERY = 1.0  # seconds between fsyncs of results.jsonl (each line is flushed at once)
EDGE_TOLERANCE = 1e-6  # pixels: absorbs float noise of the model→image round trip, nothing more


@dataclass(frozen=True)
class QuerySettings:
    min_pixels: int
    max_pixels: int = EVAL_MAX_PIXELS
    prefill: bool = True
    resize: ResizeMode = "auto"  # servers only: where the screenshot is resized (agent.server_resize)


@dataclass(frozen=True)
class Score:
    correctness: str  # "correct" | "wrong" | "wrong_format"
    point: tuple[float, float] | None  # in original image pixels
    model_point: tuple[float, float] | None
    reason: str = ""


def build_query(sample_image: Image.Image, instruction: str, settings: QuerySettings) -> tuple[Prompt, Geometry]:
    """The prompt for one sample and the geometry that maps its answer back to the original image."""
    size = Size(*sample_image.size)
    geometry = Geometry.for_screenshot(size, size, min_pixels=settings.min_pixels, max_pixels=settings.max_pixels)
    return _prompt(to_model_image(sample_image, geometry.model), geometry, instruction, settings), geometry


def _prompt(model_image: Image.Image, geometry: Geometry, instruction: str, settings: QuerySettings) -> Prompt:
    return Prompt(
        # the cookbook's computer_use schema, as the Pro harness shows it (no tool extensions)
        system_prompt(COMPUTER_USE.with_extensions(()), geometry.model), instruction, (model_image,),
        PREFILL if settings.prefill else "",
        {"model_size": [geometry.model.width, geometry.model.height]},
        image_first=True,  # as the ScreenSpot-Pro harness's Qwen2.5-VL adapter lays out the user turn
    )


@lru_cache(maxsize=8)
def model_screenshot(path: Path, min_pixels: int, max_pixels: int, encoding: str | None = None,
                     resize: ResizeMode = "client") -> tuple[Geometry, Image.Image | ServerResized]:
    """The screenshot at model size, made once per file: ScreenSpot asks several questions about most
    screenshots, and decoding, resizing and encoding are most of the client's work per sample
    (tests/bench/bench_screenspot.py).

    ``encoding`` (the server's image format; None for in-process models, which need pixels) is done here,
    once. For a server, a file that already has the model size is neither decoded nor re-encoded: its own
    bytes are sent; so is one the server may resize itself (``resize``, `agent.server_resize`).
    """
    data = path.read_bytes()
    if encoding is not None:
        geometry, sent = for_server(data, min_pixels, max_pixels, resize)
        if sent is not None:
            return geometry, sent
    else:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            size = Size(*image.size)
        geometry = Geometry.for_screenshot(size, size, min_pixels=min_pixels, max_pixels=max_pixels)
    model_image = to_model_image(decode(data), geometry.model)
    return geometry, model_image if encoding is None else encode_once(model_image, encoding)


def score(text: str, geometry: Geometry, box: tuple[float, float, float, float], *, cut_off: bool = False) -> Score:
    """Correct iff the answer's point, mapped per axis to the original image, is inside ``box`` (edges count).

    ``cut_off``: the model stopped at its token limit; a point it may not have finished is wrong_format.
    """
    try:
        x, y = _point(text, cut_off)
    except ParseError as exc:
        return Score("wrong_format", None, None, str(exc))
    reason = ""
    try:
        p = geometry.to_screen(ModelPoint(x, y))
        px, py = p.x, p.y
    except OutOfRangeError as exc:  # the official scripts score it anyway: it can only hit a box on the border
        px, py = x * geometry.input.width / geometry.model.width, y * geometry.input.height / geometry.model.height
        reason = str(exc)
    x1, y1, x2, y2 = box
    inside = x1 - EDGE_TOLERANCE <= px <= x2 + EDGE_TOLERANCE and y1 - EDGE_TOLERANCE <= py <= y2 + EDGE_TOLERANCE
    return Score("correct" if inside else "wrong", (px, py), (x, y), reason)


def _point(text: str, cut_off: bool = False) -> tuple[float, float]:
    """`parse_point`, plus the Pro harness's rule that a 4-number coordinate is a box whose centre counts."""
    try:
        return parse_point(text, cut_off=cut_off)
    except ParseError:
        for call in parse_tool_calls(text, cut_off=cut_off):  # raises ParseError again when there is no call at all
            c = call.arguments.get("coordinate")
            if isinstance(c, list) and len(c) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in c):
                return (c[0] + c[2]) / 2, (c[1] + c[3]) / 2
        raise


def ground_sample(model: Model, sample: Sample, settings: QuerySettings) -> dict[str, Any]:
    """Ask ``model`` about ``sample`` and score the answer; the result record for ``results.jsonl``."""
    record: dict[str, Any] = {**sample.to_dict(), "prefill": settings.prefill}
    try:
        geometry, model_image = model_screenshot(sample.image, settings.min_pixels, settings.max_pixels,
                                                 getattr(model, "image_format", None), settings.resize)
    except (OSError, ValueError) as exc:  # unreadable, or an aspect ratio the model cannot take
        return record | {"outcome": "skipped", "success": False, "reason": f"cannot use the image: {exc}"}
    box, size = sample.box, geometry.screenshot
    if sample.image_size and tuple(sample.image_size) != (size.width, size.height):
        # Pro's harness normalises the box by img_size: the same as scaling it to the real image.
        sx, sy = size.width / sample.image_size[0], size.height / sample.image_size[1]
        box = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
        record["img_size_mismatch"] = {"annotated": list(sample.image_size), "actual": [size.width, size.height]}
    prompt = _prompt(model_image, geometry, sample.instruction, settings)
    generation = model.generate(prompt)
    answer = prompt.prefill + generation.text
    result = score(answer, geometry, box, cut_off=generation.cut_off)
    return record | {
        "outcome": "success" if result.correctness == "correct" else "failure",
        "success": result.correctness == "correct",
        "correctness": result.correctness,
        "answer": answer,
        "point": _rounded(result.point),
        "model_point": _rounded(result.model_point),
        "image_size": [size.width, size.height],
        "model_size": [geometry.model.width, geometry.model.height],
        "box": [round(v, 2) for v in box],
        "reason": result.reason,
        "model_seconds": round(generation.seconds, 4),
    }


def _rounded(point: tuple[float, float] | None) -> list[float] | None:
    return None if point is None else [round(point[0], 3), round(point[1], 3)]


def unit(sample: Sample) -> Unit:
    """The runner's key for a sample: one 'episode' per sample."""
    return Unit(sample.id, 0, 0)


# -- running many ---------------------------------------------------------------------------------------
def run_samples(
    samples: Sequence[Sample],
    ask: Callable[[Sample], dict[str, Any]],
    out: str | Path,
    *,
    config: dict[str, Any],
    workers: int = 1,
    console: Console | None = None,
    episode_timeout: float | None = None,
    pool_factory: Callable[[Callable], Any] | None = None,
) -> list[dict[str, Any]]:
    """Run every sample not yet in ``OUT/results.jsonl`` with ``workers`` threads; all records, old and new.

    The runner is `tasks.runner.run_units`, as for every suite (resume, option check, progress); a sample
    is one unit with no directory of its own, and ``workers`` requests are in flight at once. Samples
    whose record is an error (the server failed) run again on resume.
    """
    by_key = {unit(s).key: s for s in samples}

    def run_one(key: Unit, directory: Path | None) -> dict[str, Any]:
        sample = by_key[key.key]
        try:
            return dict(ask(sample))
        except (ConfigError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - one failed request must not end the evaluation; it reruns on resume
            return {**sample.to_dict(), "outcome": "error", "success": False, "reason": f"{type(exc).__name__}: {exc}",
                    **error_record(exc)}

    # hundreds of lines a second: an fsync each would cost more than the requests
    pool = pool_factory(lambda index: run_one) if pool_factory is not None else None  # Ray: the same on each actor
    return run_units([unit(s) for s in samples], run_one, out, config=config, retry_errors=True,
                     console=console or Console(stderr=True), label="screenspot", workers=workers, pool=pool,
                     episode_timeout=episode_timeout,
                     directories=False, fsync_every=FSYNC_EVERY, noun="samples",
                     # every request in flight fails when the server dies; a few more in a row mean it stays down
                     max_server_failures=2 * max(1, workers) + 3,
                     resume="run the same command again to resume (failed samples rerun)")
