"""Reference implementations ("oracles") for tests/test_reference_equivalence.py: MindCV 0.3.0 and timm.

MindCV runs in the test process (it is MindSpore too). timm runs in a separate PyTorch process, started by running
this file as a script, so that PyTorch and MindSpore never share a process (both bundle their own oneDNN/OpenMP)
and the torchvision stand-in below never leaks into the test session.

The oracles are test-only packages, installed by .ci/run. A missing one fails the test with the install line that
is missing; only MINDCV_RESNETV2_SKIP_ORACLES=1, set on purpose, turns that into a skip.
"""
import argparse
import importlib.abc
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import types

import numpy as np

SKIP_ORACLES_ENV = "MINDCV_RESNETV2_SKIP_ORACLES"
INSTALL_LINES = {
    "mindcv": "pip install --no-deps mindcv==0.3.0",
    "torch": "pip install torch==2.13.0",
    "timm": "pip install --no-deps timm==1.0.31",
}
TIMM_TIMEOUT_S = 600


def require_oracles(*modules):
    """Fail (or, with MINDCV_RESNETV2_SKIP_ORACLES=1, skip) naming the install line of each oracle not installed.

    Only looks the packages up; it imports nothing, so torch is never loaded into the MindSpore test process.
    """
    import pytest

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    lines = "; ".join(INSTALL_LINES[m] for m in missing)
    message = f"oracle package(s) {', '.join(missing)} not installed; install with: {lines}"
    if os.environ.get(SKIP_ORACLES_ENV) == "1":
        pytest.skip(f"{message} (skipped because {SKIP_ORACLES_ENV}=1)")
    pytest.fail(f"{message}. To skip the reference-equivalence tests on purpose, set {SKIP_ORACLES_ENV}=1.")


def random_array(name, shape, rng):
    """A float32 array that makes every parameter matter: BN statistics and affine terms away from 1/0.

    Works on both naming schemes (ours/MindCV: gamma, beta, moving_mean, moving_variance; timm: weight, bias,
    running_mean, running_var) because a 1-D `weight` is always a BN scale. Conv and dense weights are normal with
    variance 1/fan_in, so activations stay of order one through a hundred layers.
    """
    field = name.rsplit(".", 1)[-1]
    if len(shape) >= 2:
        values = rng.normal(0.0, np.sqrt(1.0 / np.prod(shape[1:])), shape)
    elif field in ("gamma", "weight", "moving_variance", "running_var"):
        values = rng.uniform(0.5, 1.5, shape)
    elif field in ("beta", "bias", "moving_mean", "running_mean"):
        values = rng.normal(0.0, 0.1, shape)
    else:
        raise ValueError(f"no random rule for parameter '{name}' of shape {tuple(shape)}")
    return values.astype(np.float32)


def random_inputs(sizes, seed, batch_size=2):
    """{size: (batch, 3, size, size) float32} standard-normal images; each depends only on (seed, size), so every
    oracle and every list of sizes sees the same image for a size."""
    return {
        size: np.random.default_rng([seed, size]).normal(size=(batch_size, 3, size, size)).astype(np.float32)
        for size in sizes
    }


def relative_error(actual, expected):
    """max |actual - expected| / max |expected|, and the absolute maximum, for assertion messages and reports."""
    max_abs = float(np.abs(actual - expected).max())
    return max_abs / float(np.abs(expected).max()), max_abs


def run_timm_references(timm_names, out_dir, sizes, seed):
    """Run this file in one PyTorch process for all `timm_names` (one torch import, the slow part).

    Returns {timm_name: (path of its timm-keyed safetensors state dict, {str(size): logits,
    "feature_channels": [num_chs], "feature_reductions": [reduction]} (timm's feature_info, level by level))}.
    """
    command = [sys.executable, os.path.abspath(__file__), os.fspath(out_dir), "--seed", str(seed)]
    command += ["--models", *timm_names, "--sizes", *map(str, sizes)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMM_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"timm reference run failed ({' '.join(command)}):\n{done.stderr[-4000:]}")
    return {
        name: (os.path.join(out_dir, f"{name}.safetensors"), dict(np.load(os.path.join(out_dir, f"{name}.npz"))))
        for name in timm_names
    }


class _TorchvisionStandIn(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Satisfies timm's import-time `from torchvision... import X` when torchvision is absent.

    timm imports torchvision at import time only for data transforms/datasets and for FrozenBatchNorm2d (used by
    its freeze utilities); none of it is on the resnetv2 forward path. torchvision cannot be installed beside
    torch 2.13.0 here (PyPI's build fails to import against it). Every name resolves to a placeholder class whose
    construction raises, so if timm ever did use torchvision on this path the run would fail loudly, never
    silently compute something else.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "torchvision" or fullname.startswith("torchvision."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _PlaceholderModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


class _PlaceholderMeta(type):
    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _placeholder(f"{cls.__qualname__}.{name}")


def _placeholder(qualname):
    def refuse(*args, **kwargs):
        raise RuntimeError(f"{qualname} was used, but torchvision is not installed (import-time stand-in only)")

    return _PlaceholderMeta(qualname.rsplit(".", 1)[-1], (), {"__init__": refuse, "__qualname__": qualname})


class _PlaceholderModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _placeholder(f"{self.__name__}.{name}")


def _timm_main(argv=None):
    """PyTorch side: timm networks with random weights and BN statistics, their state dicts, eval logits and
    feature levels."""
    parser = argparse.ArgumentParser(description=_timm_main.__doc__)
    parser.add_argument("out_dir")
    parser.add_argument("--models", nargs="+", required=True, help="timm model names, e.g. resnetv2_50")
    parser.add_argument("--sizes", type=int, nargs="+", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if importlib.util.find_spec("torchvision") is None:
        sys.meta_path.insert(0, _TorchvisionStandIn())
    import timm
    import torch
    from safetensors.torch import save_file

    os.makedirs(args.out_dir, exist_ok=True)
    for name in args.models:
        net = timm.create_model(name, pretrained=False)
        rng = np.random.default_rng(args.seed)
        state = {
            key: value if key.endswith("num_batches_tracked") else torch.from_numpy(random_array(key, value.shape, rng))
            for key, value in net.state_dict().items()
        }
        net.load_state_dict(state, strict=True)
        net.eval()
        save_file({k: v.contiguous() for k, v in state.items()}, os.path.join(args.out_dir, f"{name}.safetensors"))
        with torch.no_grad():
            inputs = random_inputs(args.sizes, args.seed)
            logits = {str(size): net(torch.from_numpy(images)).numpy() for size, images in inputs.items()}
        features = dict(feature_channels=[info["num_chs"] for info in net.feature_info],
                        feature_reductions=[info["reduction"] for info in net.feature_info])
        np.savez(os.path.join(args.out_dir, f"{name}.npz"), **logits, **features)


if __name__ == "__main__":
    _timm_main()
