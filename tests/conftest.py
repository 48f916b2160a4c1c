"""Shared pytest set-up: tests marked ``cuda`` are skipped on machines without a CUDA GPU.

The markers themselves (``cuda``, ``slow``) are registered in pyproject.toml.
"""

import pytest
import torch


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip_cuda = pytest.mark.skip(reason="needs a CUDA GPU; torch.cuda.is_available() is False")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip_cuda)
