"""Every model of timm's ResNetV2 family that we added computes timm's logits from converted weights.

For each architecture, timm (PyTorch, one subprocess for all) builds the model with random weights and random norm
statistics (tests/reference_nets.py), saves its state dict as safetensors and its eval logits; our converter
(what `python -m mindcv_resnetv2.convert timm` runs) turns the file into a checkpoint of our model, and our logits
must agree to float32 accuracy. Parameter counts must equal timm's: trainable = timm's parameters, total = timm's
parameters + buffers (BN moving statistics). Inputs are 64x64 (all) and 97x97 for one net of each stem, whose odd
sizes exercise the padding of BiT's zero-padded pool, the max-pool padding and the ceil-mode average-down pool.

PyNative mode: a single forward needs no graph compilation (the deepest nets compile for tens of seconds);
graph mode's logits equal PyNative's (tests/test_models.py checks BiT and a 'd' net).

Google's BiT .npz path: an npz written here in Google's key layout (BiT-M-R50x1.npz) is loaded by timm's own npz
loader (`load_pretrained`) for the reference logits, and by our `convert bit` for ours.

The four widest BiT nets (217M-937M parameters; 40 s to 4.5 min and up to 10.9 GB each here) run only when
MINDCV_RESNETV2_BIG_ORACLES is 1 (all) or lists them by name; docs/measurements.md records their results.
"""
import gc
import logging
import os

import mindspore as ms
import numpy as np
import pytest
from reference_nets import random_inputs, relative_error, require_oracles, run_timm_references

from mindcv_resnetv2.convert import convert_bit_npz, convert_timm_checkpoint
from mindcv_resnetv2.models import create_model
from mindcv_resnetv2.convert.timm import TIMM_NAMES
from mindcv_resnetv2.models.summary import count_parameters

_logger = logging.getLogger(__name__)
SEED = 0
TIMM_RTOL = 1e-4
BIG_ORACLES_ENV = "MINDCV_RESNETV2_BIG_ORACLES"
BIG = {"resnetv2_50x3_bit", "resnetv2_101x3_bit", "resnetv2_152x2_bit", "resnetv2_152x4_bit"}
ODD_SIZE_CHECKED = {"resnetv2_50x1_bit", "resnetv2_18d", "resnetv2_50t"}
FAMILY = sorted(name for name, ours in TIMM_NAMES.items() if name == ours)
NPZ_CLASSES = 10


def _sizes(name):
    return (64, 97) if name in ODD_SIZE_CHECKED else (64,)


def big_selected():
    """The widest nets to check: MINDCV_RESNETV2_BIG_ORACLES=1 for all four, or a comma-separated list of names
    (then only those run: one per run keeps within a 24 GB machine; resnetv2_152x4_bit's oracle peaked at 10.9 GB,
    see docs/measurements.md, "the widest BiT nets")."""
    chosen = os.environ.get(BIG_ORACLES_ENV, "")
    return BIG if chosen == "1" else BIG & set(chosen.split(","))


def _selected():
    chosen = os.environ.get(BIG_ORACLES_ENV, "")
    if chosen and chosen != "1":
        return sorted(big_selected())
    return [n for n in FAMILY if n not in BIG or n in big_selected()]


def bit_npz_arrays(layers=(3, 4, 6, 3), width_factor=1, num_classes=NPZ_CLASSES, seed=1):
    """Random weights under the keys of Google's BiT ResNet .npz files: HWIO kernels, (C,) norms, 'resnet/' prefix."""
    rng = np.random.default_rng(seed)

    def kernel(k, cin, cout):
        return rng.normal(0.0, 1.0, (k, k, cin, cout)).astype(np.float32)

    def norm(prefix, channels):
        return {f"{prefix}group_norm/gamma": rng.uniform(0.5, 1.5, channels).astype(np.float32),
                f"{prefix}group_norm/beta": rng.normal(0.0, 0.1, channels).astype(np.float32)}

    stem = 64 * width_factor
    arrays = {"resnet/root_block/standardized_conv2d/kernel": kernel(7, 3, stem)}
    in_ch = stem
    for stage, depth in enumerate(layers, 1):
        mid = 64 * width_factor * 2 ** (stage - 1)
        out = 4 * mid
        for unit in range(1, depth + 1):
            prefix = f"resnet/block{stage}/unit{unit:02d}/"
            for part, (k, cin, cout) in zip("abc", ((1, in_ch, mid), (3, mid, mid), (1, mid, out))):
                arrays[f"{prefix}{part}/standardized_conv2d/kernel"] = kernel(k, cin, cout)
                arrays.update(norm(f"{prefix}{part}/", cin))
            if unit == 1:
                arrays[f"{prefix}a/proj/standardized_conv2d/kernel"] = kernel(1, in_ch, out)
            in_ch = out
    arrays.update(norm("resnet/", in_ch))
    arrays["resnet/head/conv2d/kernel"] = rng.normal(0.0, in_ch ** -0.5, (1, 1, in_ch, num_classes)).astype(np.float32)
    arrays["resnet/head/conv2d/bias"] = rng.normal(0.0, 0.1, num_classes).astype(np.float32)
    return arrays


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """timm's state dicts, logits and counts for every selected architecture, and the npz case, in one process."""
    require_oracles("torch", "timm")
    out_dir = tmp_path_factory.mktemp("timm_family")
    npz_path = str(out_dir / "BiT-M-R50x1.npz")
    np.savez(npz_path, **bit_npz_arrays())
    sizes = sorted({size for name in FAMILY for size in _sizes(name)})
    npz_load = ("bit_npz", "resnetv2_50x1_bit", npz_path, NPZ_CLASSES)
    return run_timm_references(_selected(), out_dir, sizes, SEED, npz_loads=[npz_load])


def _check_logits(net, expected, sizes, what):
    net.set_train(False)
    for size, images in random_inputs(sizes, SEED).items():
        actual = net(ms.Tensor(images)).asnumpy()
        assert actual.shape == expected[str(size)].shape
        rel, max_abs = relative_error(actual, expected[str(size)])
        # Reported per model (pytest -o log_cli=true --log-cli-level=INFO shows it).
        _logger.info("%s at %dx%d: max |diff| %.3g, relative %.3g", what, size, size, max_abs, rel)
        assert rel <= TIMM_RTOL, f"{what} at {size}: max |diff| {max_abs:.3g} = {rel:.3g} of max |logit|"


@pytest.mark.slow
@pytest.mark.parametrize("timm_name", FAMILY)
def test_converted_weights_give_timms_logits(timm_name, references, tmp_path, pynative_mode):
    if timm_name not in references:
        pytest.skip(f"{timm_name} not selected ({BIG_ORACLES_ENV}=1 checks the widest BiT nets too)")
    timm_file, expected = references[timm_name]
    converted = convert_timm_checkpoint(timm_file, str(tmp_path / "converted.ckpt"), model_name=timm_name)
    gc.collect()  # the converter's copy of the network, before building ours (GBs for the widest nets)
    net = create_model(timm_name, checkpoint_path=converted)
    assert count_parameters(net) == int(expected["param_count"])
    assert count_parameters(net, trainable_only=False) == int(expected["param_count"] + expected["buffer_count"])
    _check_logits(net, expected, _sizes(timm_name), f"{timm_name} vs timm")


@pytest.mark.slow
def test_bit_npz_converts_like_timms_npz_loader(references, tmp_path, pynative_mode):
    npz_path, expected = references["bit_npz"]
    converted = convert_bit_npz(npz_path, str(tmp_path / "bit.ckpt"))
    net = create_model("resnetv2_50x1_bit", num_classes=NPZ_CLASSES, checkpoint_path=converted)
    _check_logits(net, expected, (64,), "resnetv2_50x1_bit from BiT npz vs timm's npz loader")
