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
import inspect
import json
import os
import re
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


def factory_names(factory, variable):
    """The names a MindCV factory builds, read from its source (MindCV keeps no list of them): every string the
    factory compares `variable` with, alone (`opt == "adam"`) or in a list (`opt in ["sgd", "momentum"]`)."""
    source = inspect.getsource(factory)
    names = re.findall(rf'{variable} == "(\w+)"', source)
    for group in re.findall(rf"{variable} in \[([^\]]*)\]", source):
        names += re.findall(r'"(\w+)"', group)
    return set(names)


def random_array(name, shape, rng):
    """A float32 array that makes every parameter matter: BN statistics and affine terms away from 1/0.

    Works on both naming schemes (ours/MindCV: gamma, beta, moving_mean, moving_variance; timm: weight, bias,
    running_mean, running_var) because a 1-D `weight` is always a norm scale; EvoNorm's `v` is drawn like a scale
    and FRN's threshold `tau` like a shift. Conv and dense weights are normal with
    variance 1/fan_in, so activations stay of order one through a hundred layers.
    """
    field = name.rsplit(".", 1)[-1]
    if len(shape) >= 2:
        values = rng.normal(0.0, np.sqrt(1.0 / np.prod(shape[1:])), shape)
    elif field in ("gamma", "weight", "moving_variance", "running_var", "v"):
        values = rng.uniform(0.5, 1.5, shape)
    elif field in ("beta", "bias", "moving_mean", "running_mean", "tau"):
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


def run_timm_references(timm_names, out_dir, sizes, seed, npz_loads=()):
    """Run this file in one PyTorch process for all `timm_names` (one torch import, the slow part).

    Returns {timm_name: (path of its timm-keyed safetensors state dict, {str(size): logits, "param_count": n,
    "buffer_count": n, "feature_channels": [num_chs], "feature_reductions": [reduction]})}: buffer_count leaves
    out BN step counters; the feature lists are timm's feature_info, level by level. npz_loads: (label,
    timm_name, npz path, num_classes) tuples; each builds that timm model, loads the npz with timm's own loader
    (`load_pretrained`), and adds {label: (npz path, {str(size): logits})}.
    """
    command = [sys.executable, os.path.abspath(__file__), os.fspath(out_dir), "--seed", str(seed)]
    command += ["--models", *timm_names, "--sizes", *map(str, sizes)]
    for load in npz_loads:
        command += ["--npz-load", ",".join(map(str, load))]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMM_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"timm reference run failed ({' '.join(command)}):\n{done.stderr[-4000:]}")
    results = {
        name: (os.path.join(out_dir, f"{name}.safetensors"), dict(np.load(os.path.join(out_dir, f"{name}.npz"))))
        for name in timm_names
    }
    for label, _, npz_path, _ in npz_loads:
        results[label] = (npz_path, dict(np.load(os.path.join(out_dir, f"{label}.npz"))))
    return results


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


def run_timm_layers(cases, out_dir):
    """Run timm layers in one PyTorch process: forward and backward of `sum(output * upstream)`.

    cases: {case: (class path such as "timm.layers.StdConv2d" or "torch.nn.MaxPool2d", constructor kwargs,
    {"input": x, "upstream": g, param name: value})}.
    Returns {case: {"output": y, "grad.input": dx, "grad.<param>": d<param>}} (the layer in train mode).
    """
    spec_path = os.path.join(out_dir, "layer_cases.json")
    arrays_path = os.path.join(out_dir, "layer_arrays.npz")
    with open(spec_path, "w") as handle:
        json.dump({case: [cls, kwargs] for case, (cls, kwargs, _) in cases.items()}, handle)
    np.savez(arrays_path, **{f"{case}/{name}": v for case, (_, _, arrays) in cases.items() for name, v in arrays.items()})
    command = [sys.executable, os.path.abspath(__file__), os.fspath(out_dir), "--layers", spec_path]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMM_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"timm layer run failed ({' '.join(command)}):\n{done.stderr[-4000:]}")
    results = {}
    for key, value in np.load(os.path.join(out_dir, "layer_results.npz")).items():
        case, name = key.split("/", 1)
        results.setdefault(case, {})[name] = value
    return results


def _import_timm():
    if importlib.util.find_spec("torchvision") is None:
        sys.meta_path.insert(0, _TorchvisionStandIn())
    import timm

    return timm


def _timm_layers_main(out_dir, spec_path):
    """PyTorch side of run_timm_layers."""
    modules = {"timm": _import_timm()}
    import torch

    modules["torch"] = torch
    with open(spec_path) as handle:
        spec = json.load(handle)
    arrays = np.load(os.path.join(os.path.dirname(spec_path), "layer_arrays.npz"))
    results = {}
    for case, (cls, kwargs) in spec.items():
        package, *path = cls.split(".")
        layer = modules[package]
        for attribute in path:
            layer = getattr(layer, attribute)
        layer = layer(**kwargs)
        params = dict(layer.named_parameters())
        with torch.no_grad():
            for name, param in params.items():
                param.copy_(torch.from_numpy(arrays[f"{case}/{name}"]))
        x = torch.from_numpy(arrays[f"{case}/input"]).requires_grad_(True)
        out = layer.train()(x)
        (out * torch.from_numpy(arrays[f"{case}/upstream"])).sum().backward()
        results[f"{case}/output"] = out.detach().numpy()
        results[f"{case}/grad.input"] = x.grad.numpy()
        for name, param in params.items():
            results[f"{case}/grad.{name}"] = param.grad.numpy()
    np.savez(os.path.join(out_dir, "layer_results.npz"), **results)


def _timm_main(argv=None):
    """PyTorch side: timm networks with random weights and BN statistics, their state dicts, eval logits and
    feature levels."""
    parser = argparse.ArgumentParser(description=_timm_main.__doc__)
    parser.add_argument("out_dir")
    parser.add_argument("--models", nargs="+", help="timm model names, e.g. resnetv2_50")
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layers", help="JSON spec written by run_timm_layers (instead of --models)")
    parser.add_argument("--npz-load", action="append", default=[], help="LABEL,TIMM_NAME,NPZ_PATH,NUM_CLASSES")
    args = parser.parse_args(argv)
    if args.layers:
        return _timm_layers_main(args.out_dir, args.layers)
    if not args.models or not args.sizes:
        parser.error("--models and --sizes are required without --layers")

    timm = _import_timm()
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
        counts = dict(
            param_count=sum(p.numel() for p in net.parameters()),
            buffer_count=sum(b.numel() for k, b in net.named_buffers() if not k.endswith("num_batches_tracked")),
        )
        features = dict(feature_channels=[info["num_chs"] for info in net.feature_info],
                        feature_reductions=[info["reduction"] for info in net.feature_info])
        np.savez(os.path.join(args.out_dir, f"{name}.npz"), **_eval_logits(net, args.sizes, args.seed), **counts,
                 **features)
        del net, state
    for load in args.npz_load:
        label, name, npz_path, num_classes = load.split(",")
        net = timm.create_model(name, pretrained=False, num_classes=int(num_classes))
        net.load_pretrained(npz_path)
        np.savez(os.path.join(args.out_dir, f"{label}.npz"), **_eval_logits(net, args.sizes, args.seed))


def _eval_logits(net, sizes, seed):
    """{str(size): logits} of a timm network in eval mode on random_inputs."""
    import torch

    net.eval()
    with torch.no_grad():
        return {str(size): net(torch.from_numpy(images)).numpy() for size, images in random_inputs(sizes, seed).items()}


if __name__ == "__main__":
    _timm_main()
