"""Describe images, a video, or a recorded agent session in words."""

from __future__ import annotations

import argparse
import bisect
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from agent.argtypes import positive_float, positive_int
from agent.commands.common import emit, load_image, model_view, usage
from agent.errors import ConfigError
from agent.geometry import FACTOR, MAX_PIXELS, MIN_PIXELS, Size, smart_resize
from agent.imaging import to_model_image
from agent.models.base import Generation, Model
from agent.prompt import Prompt, prompt_text

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi", ".gif", ".mpg", ".mpeg", ".ts"}
# qwen-vl-utils' video defaults: at least 4 frames, frames in pairs (temporal patch 2), each frame
# between 128 and 768 blocks of 28x28; a token budget for the whole video shares out the frame size.
MIN_FRAMES, FRAME_FACTOR = 4, 2
FRAME_MIN_PIXELS, FRAME_MAX_PIXELS = 128 * FACTOR * FACTOR, 768 * FACTOR * FACTOR


@dataclass(frozen=True)
class Video:
    """Frames sampled from a video, evenly in time; ``fps`` is the rate they were sampled at."""

    frames: list[Image.Image]
    fps: float
    duration: float


def frame_count(duration: float, total: int, fps: float, max_frames: int) -> int:
    """How many frames to sample: ``fps`` per second, at least 4, at most ``max_frames``, in pairs."""
    wanted = max(round(duration * fps), MIN_FRAMES)
    n = max(1, min(wanted, max_frames, total))
    return n - n % FRAME_FACTOR if n >= FRAME_FACTOR else n


def frame_pixels(count: int, max_pixels: int, video_tokens: int) -> int:
    """Largest area per frame: the video's token budget shared by frame pairs, within Qwen's bounds."""
    share = video_tokens * FACTOR * FACTOR * FRAME_FACTOR // max(count, 1)
    return max(min(max_pixels, FRAME_MAX_PIXELS, share), min(FRAME_MIN_PIXELS, max_pixels))


def read_video(path: str | Path, fps: float = 2.0, max_frames: int = 32) -> Video:
    """Sample a video file with PyAV at ``fps`` (dynamic: short clips get 4 frames, long ones ``max_frames``).

    Two passes keep memory flat: frame times come from demuxing alone, then only the chosen frames
    are decoded into images.
    """
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ConfigError(f"{path} has no video stream")
            stream = container.streams.video[0]
            rate = float(stream.average_rate or 0)
            times = sorted(float(p.pts * p.time_base) for p in container.demux(stream) if p.pts is not None)
        if not times:
            raise ConfigError(f"{path} holds no video frames")
        rate = rate or (len(times) - 1) / max(times[-1] - times[0], 1e-6) or 1.0
        duration = times[-1] - times[0] + 1 / rate
        n = frame_count(duration, len(times), fps, max_frames)
        # the frame shown at the centre of each of n equal slices of the clip
        wanted = sorted({max(0, bisect.bisect_right(times, times[0] + (i + 0.5) * duration / n) - 1) for i in range(n)})
        picked: list[Image.Image] = []
        with av.open(str(path)) as container:
            for index, frame in enumerate(container.decode(container.streams.video[0])):
                if index == wanted[len(picked)]:
                    picked.append(frame.to_image().convert("RGB"))
                    if len(picked) == len(wanted):
                        break
    except FileNotFoundError:
        raise ConfigError(f"no such video: {path}") from None
    except av.error.FFmpegError as exc:
        raise ConfigError(f"cannot read {path} as a video ({exc})") from None
    if not picked:
        raise ConfigError(f"{path} holds no decodable frames")
    return Video(picked, len(picked) / duration, duration)


def session_frames(path: Path, max_frames: int) -> tuple[list[Image.Image], str]:
    """A recorded run's screenshots, one per step (evenly thinned to ``max_frames``, last kept)."""
    from agent.trajectory import Trajectory

    try:
        trajectory = Trajectory.load(path)
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(str(exc)) from None
    steps = [step for step in trajectory.steps if step.get("screenshot")]
    if not steps:
        raise ConfigError(f"{path} holds a run without screenshots")
    if len(steps) > max_frames:
        steps = [steps[round(i * (len(steps) - 1) / (max_frames - 1))] for i in range(max_frames)]
    return [trajectory.screenshot(step).convert("RGB") for step in steps], trajectory.run.get("instruction", "")


def describe_images(model: Model, images: list[Image.Image], prompt: str | None = None, *,
                    min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS) -> Generation:
    text = prompt_text("tasks")["describe"]
    question = prompt or (text["image"] if len(images) == 1 else text["images"].format(count=len(images)))
    shown = tuple(model_view(image, min_pixels, max_pixels)[1] for image in images)
    return model.generate(Prompt(text["system"], question, shown))


def describe_frames(model: Model, frames: list[Image.Image], fps: float, question: str, *,
                    min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS, video_tokens: int = 4096) -> Generation:
    """Frames as one video: same size for all, ``meta["video"]`` for backends that take video input.

    A server backend receives the frames as a list of images (vLLM's multi-image convention); the
    question then says how they were sampled.
    """
    first = frames[0]
    h, w = smart_resize(first.height, first.width, min_pixels=min(min_pixels, FRAME_MIN_PIXELS),
                        max_pixels=frame_pixels(len(frames), max_pixels, video_tokens))
    shown = tuple(to_model_image(frame, Size(w, h)) for frame in frames)
    system = prompt_text("tasks")["describe"]["system"]
    return model.generate(Prompt(system, question, shown, meta={"video": {"fps": fps}, "model_size": [w, h]}))


def describe(model: Model, inputs: list[str], *, prompt: str | None = None, fps: float = 2.0, max_frames: int = 32,
             min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS, video_tokens: int = 4096) -> dict:
    """Describe image files, or one video file, or one recorded run directory."""
    text = prompt_text("tasks")["describe"]
    paths = [Path(p) for p in inputs]
    videos = [p for p in paths if p.is_dir() or p.suffix.lower() in VIDEO_SUFFIXES]
    if videos and len(paths) > 1:
        raise ConfigError("give several images, or one video, or one run directory; not a mix")
    limits = {"min_pixels": min_pixels, "max_pixels": max_pixels}
    if not videos:
        generation = describe_images(model, [load_image(p) for p in paths], prompt, **limits)
        return {"kind": "images", "inputs": [str(p) for p in paths], "text": generation.text, "usage": usage(generation)}
    path = videos[0]
    if path.is_dir():
        frames, instruction = session_frames(path, max_frames)
        question = prompt or text["session"].format(count=len(frames), instruction=instruction)
        generation = describe_frames(model, frames, 1.0, question, video_tokens=video_tokens, **limits)
        info = {"kind": "session", "frames": len(frames)}
    else:
        video = read_video(path, fps, max_frames)
        timing = text["video_frames"].format(duration=video.duration, count=len(video.frames), fps=video.fps)
        question = f"{prompt or text['video']}\n{timing}"
        generation = describe_frames(model, video.frames, video.fps, question, video_tokens=video_tokens, **limits)
        info = {"kind": "video", "frames": len(video.frames), "fps": round(video.fps, 4),
                "duration": round(video.duration, 3)}
    return {**info, "inputs": [str(path)], "text": generation.text, "usage": usage(generation)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from agent.options import add_model_arguments

    parser.add_argument("inputs", nargs="+", metavar="PATH",
                        help="image files, or one video file, or one run directory (its screenshots become the video)")
    parser.add_argument("--prompt", default=None, help="the question instead of the built-in wording")
    parser.add_argument("--fps", type=positive_float, default=2.0, help="video frames sampled per second (default 2)")
    parser.add_argument("--max-frames", type=positive_int, default=32,
                        help="most frames of a video or session (default 32; servers: allow them, e.g. vLLM "
                             "--limit-mm-per-prompt)")
    parser.add_argument("--video-tokens", type=positive_int, default=4096,
                        help="token budget shared by a video's frames (default 4096)")
    parser.add_argument("--json", action="store_true", help="print JSON with the token usage instead of the text")
    add_model_arguments(parser)


def main(args: argparse.Namespace) -> int:
    from agent.options import build_model

    if args.fps <= 0 or args.max_frames < 1:
        raise ConfigError("--fps must be positive and --max-frames at least 1")
    for path in args.inputs:
        if not Path(path).exists():
            raise ConfigError(f"no such file or directory: {path}")
    model = build_model(args)
    result = describe(model, args.inputs, prompt=args.prompt, fps=args.fps, max_frames=args.max_frames,
                      min_pixels=args.min_pixels, max_pixels=args.max_pixels, video_tokens=args.video_tokens)
    if args.json:
        emit(result)
    else:
        print(result["text"])
    return 0
