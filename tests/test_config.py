"""course_lib.config: the COURSE_FAST switch, device choice and seeding."""

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib import config

ROOT = Path(__file__).resolve().parents[1]

# Runs in a fresh interpreter started with COURSE_FAST=1 (FAST is read at import): first the values
# read at import, then the module re-imported (importlib.reload re-runs the import-time read) under
# each value of COURSE_FAST, the last one invalid. One interpreter, as importing torch is the slow part.
_PARSE_SCRIPT = """
import importlib, json, os
import course_lib, course_lib.config as c
out = {"import": [course_lib.FAST, course_lib.fast_or_full("fast", "full")]}
for value in ["1", "true", "YES", " on ", "0", "false", "No", "off", "", None, "maybe"]:
    if value is None:
        os.environ.pop("COURSE_FAST")
    else:
        os.environ["COURSE_FAST"] = value
    try:
        importlib.reload(c)
        out[repr(value)] = [c.FAST, c.fast_or_full("fast", "full")]
    except ValueError as error:
        out[repr(value)] = "ValueError: " + str(error)
print(json.dumps(out))
"""


def test_course_fast_is_read_at_import():
    env = {**os.environ, "COURSE_FAST": "1"}
    proc = subprocess.run([sys.executable, "-c", _PARSE_SCRIPT], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result.pop("import") == [True, "fast"]
    for value in ["'1'", "'true'", "'YES'", "' on '"]:
        assert result[value] == [True, "fast"], value
    for value in ["'0'", "'false'", "'No'", "'off'", "''", "None"]:
        assert result[value] == [False, "full"], value
    error = result["'maybe'"]
    assert error.startswith("ValueError") and "COURSE_FAST" in error and "'maybe'" in error, error


def test_fast_or_full_follows_fast():
    assert config.fast_or_full(3, 4000) == (3 if config.FAST else 4000)


def test_course_fast_read_only_in_config():
    reads = re.compile(r"""(environ\s*\[|environ\.get\(|getenv\()\s*['"]COURSE_FAST['"]""")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("course_lib", "lessons")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name != "config.py" and reads.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], f"COURSE_FAST must be read only in course_lib/config.py; also read in {offenders}"


def test_get_device_cpu(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    assert config.get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert config.get_device() == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "tpu")
    assert config.get_device("cpu") == torch.device("cpu"), "the argument wins over the environment"


def test_get_device_default(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert config.get_device().type == expected


@pytest.mark.parametrize("name", ["tpu", "gpu", "CPU", "cuda0", ""])
def test_get_device_bad_name(name, monkeypatch):
    with pytest.raises(ValueError, match="device"):
        config.get_device(name)
    if name:
        monkeypatch.setenv("COURSE_DEVICE", name)
        with pytest.raises(ValueError, match="device"):
            config.get_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("name", ["cuda", "cuda:0"])
def test_get_device_cuda_without_cuda(name, monkeypatch):
    with pytest.raises(RuntimeError, match="CUDA"):
        config.get_device(name)
    monkeypatch.setenv("COURSE_DEVICE", name)
    with pytest.raises(RuntimeError, match="CUDA"):
        config.get_device()


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="this machine has MPS")
def test_get_device_mps_without_mps():
    with pytest.raises(RuntimeError, match="MPS"):
        config.get_device("mps")


def test_seed_everything_repeats():
    def draw(seed):
        gen = config.seed_everything(seed)
        return torch.randn(5), torch.randn(3, generator=gen), np.random.rand(2), random.random()

    first, again, other = draw(7), draw(7), draw(8)
    for a, b, c in zip(first, again, other):
        assert np.array_equal(np.asarray(a), np.asarray(b))
        assert not np.array_equal(np.asarray(a), np.asarray(c))


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3", None])
def test_seed_everything_bad_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        config.seed_everything(seed)
