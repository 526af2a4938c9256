"""Fixtures shared by the baseline tests: one torch thread, and a tiny random Llama saved as a model folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from toolgym.testing import tiny_llama


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    # On a small shared machine, a second intra-op thread competing with busy cores makes the tiny models' steps
    # many times slower; one thread keeps these tests fast and changes no result.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama and its tokenizer, saved where ``hf:<folder>`` loads them."""
    folder = tmp_path_factory.mktemp("tiny") / "model"
    model, tokenizer = tiny_llama(seed=4)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
