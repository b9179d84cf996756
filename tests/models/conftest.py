"""A tiny random Qwen2.5-VL, built once per test session (about a megabyte, no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.models.tiny import build_tiny_qwen25vl


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_qwen25vl(tmp_path_factory.mktemp("tiny-qwen25vl"))


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from agent.models.transformers import TransformersModel

    return TransformersModel(tiny_model_dir, max_new_tokens=16)
