"""Our models compute what the reference implementations compute, given the same weights.

* resnetv2_50/101 (MindCV layout) against MindCV 0.3.0's own networks, built with `mindcv.models.create_model`:
  identical parameter names and shapes, and identical logits. Sizes 224 and 99: at both the stem output is even
  (112, 50), so MindSpore's pad_mode="same" max-pool pads bottom/right only, the deviation from symmetric padding
  that a re-implementation is most likely to miss; 99 also gives odd feature maps (25, 13, 7) in the stages.
  (An input of 97 would not test it: its stem output 49 is padded symmetrically by "same".)
* preact_resnet18/50/101 (paper layout) against timm's resnetv2_18/50/101 in PyTorch: timm's state dict, saved as
  safetensors the way timm publishes weights, goes through our converter (`convert_timm_checkpoint`, what the
  command line runs) and our strict checkpoint loader, and the logits must agree to float32 accuracy at 224 and at
  an odd size (97).
* The 101-layer nets differ from the 50-layer ones only in their stage depths, so they are checked at 224 only
  (each extra size costs a graph compilation of two deep networks).
* The initial weights of resnetv2_50 have MindCV's distributions, tensor by tensor (conv std, BN 1/0, classifier).

* One training step of resnetv2_50 (train-mode BN, loss, every gradient, the moving-statistics update) equals
  MindCV's.

Logits are compared in eval mode (BN uses the random moving statistics) and in graph mode, as users run inference.
The oracle packages are installed by .ci/run; see tests/reference_nets.py for what happens when one is missing.
"""
import logging

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn
from reference_nets import random_array, random_inputs, relative_error, require_oracles, run_timm_references

from mindcv_resnetv2.checkpoint import load_checkpoint
from mindcv_resnetv2.convert import convert_timm_checkpoint
from mindcv_resnetv2.models import create_model

_logger = logging.getLogger(__name__)
SEED = 0
# Same framework, same kernels: measured bit-identical; the tolerance only absorbs a future kernel choice.
MINDCV_RTOL = 1e-6
# Different frameworks' float32 convolutions; measured differences are well below this.
TIMM_RTOL = 1e-4
# Initial weight spread (std) of ours vs MindCV's, per tensor: sampling noise is < 1% even for the smallest conv.
INIT_STD_RTOL = 0.05


def _case_id(value):
    """Test ids like resnetv2_50-224-99 (no spaces or parentheses, so they can be typed on a command line)."""
    return "-".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _logits(net, images):
    return net(ms.Tensor(images)).asnumpy()


def _assert_close(actual, expected, rtol, what):
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != reference {expected.shape}"
    rel, max_abs = relative_error(actual, expected)
    _logger.info("%s: max |diff| %.3g, relative %.3g", what, max_abs, rel)
    assert rel <= rtol, f"{what}: max |diff| {max_abs:.3g} = {rel:.3g} of max |logit| (allowed {rtol:g})"


@pytest.fixture(scope="module")
def initial_weights():
    """{name: array} of a freshly built resnetv2_50: ours and MindCV's."""
    require_oracles("mindcv")
    import mindcv.models

    return tuple(
        {name: p.asnumpy() for name, p in net.parameters_and_names()}
        for net in (create_model("resnetv2_50"), mindcv.models.create_model("resnetv2_50"))
    )


def _std_ratio(ours, reference, name):
    return float(ours[name].std() / reference[name].std())


def test_initialisation_matches_mindcv(initial_weights):
    """He-normal fan_out convolutions (std sqrt(2 / (out * k * k))) and BN 1/0, tensor by tensor, as MindCV does.

    A fan_in/fan_out mix-up would show as a std ratio of 2 or 1/2 on the 1x1 bottleneck convolutions.
    """
    ours, reference = initial_weights
    for name, value in ours.items():
        if name == "classifier.weight":
            continue
        if value.ndim >= 2:
            ratio = _std_ratio(ours, reference, name)
            assert abs(ratio - 1) < INIT_STD_RTOL, f"{name}: initial std is {ratio:.3f}x MindCV's"
        else:
            np.testing.assert_array_equal(value, reference[name], err_msg=name)


def test_classifier_initialisation_matches_mindcv(initial_weights):
    ours, reference = initial_weights
    ratio = _std_ratio(ours, reference, "classifier.weight")
    assert abs(ratio - 1) < INIT_STD_RTOL, f"classifier.weight: initial std is {ratio:.3f}x MindCV's"


def _mindcv_pair(model_name):
    """Ours and MindCV's `model_name`, after checking their parameter lists agree, holding the same random weights."""
    require_oracles("mindcv")
    import mindcv.models

    reference = mindcv.models.create_model(model_name)
    ours = create_model(model_name)
    ours_shapes = {name: tuple(p.shape) for name, p in ours.parameters_and_names()}
    reference_shapes = {name: tuple(p.shape) for name, p in reference.parameters_and_names()}
    assert ours_shapes == reference_shapes

    rng = np.random.default_rng(SEED)
    weights = {name: random_array(name, shape, rng) for name, shape in ours_shapes.items()}
    for net in (reference, ours):
        for name, param in net.parameters_and_names():
            param.set_data(ms.Tensor(weights[name]))
    return ours, reference


# Each equivalence case takes 10-60 s on 2 cores (graph compilation of two ResNets, a PyTorch process, converter).
@pytest.mark.slow
@pytest.mark.parametrize("model_name, sizes", [("resnetv2_50", (224, 99)), ("resnetv2_101", (224,))], ids=_case_id)
def test_mindcv_layout_matches_mindcv(model_name, sizes, graph_mode):
    ours, reference = _mindcv_pair(model_name)
    for net in (reference, ours):
        net.set_train(False)
    for size, images in random_inputs(sizes, SEED).items():
        _assert_close(_logits(ours, images), _logits(reference, images), MINDCV_RTOL, f"{model_name} at {size}x{size}")


def _training_step(net, images, labels):
    """Loss, gradient of every trainable parameter, and the BN moving statistics after one train-mode forward."""
    net.set_train(True)
    trainable = net.trainable_params()
    loss, grads = ms.value_and_grad(lambda x, y: nn.CrossEntropyLoss()(net(x), y), None, trainable)(images, labels)
    moving = {name: p.asnumpy() for name, p in net.parameters_and_names() if ".moving_" in name}
    return loss.asnumpy(), {p.name: g.asnumpy() for p, g in zip(trainable, grads)}, moving


def test_mindcv_layout_training_step_matches_mindcv(pynative_mode):
    """Train mode too: BN on batch statistics, the same gradients, the same moving-statistics update (momentum)."""
    ours, reference = _mindcv_pair("resnetv2_50")
    images = ms.Tensor(random_inputs((64,), SEED, batch_size=4)[64])
    labels = ms.Tensor(np.array([1, 2, 3, 4], np.int32))
    ours_loss, ours_grads, ours_moving = _training_step(ours, images, labels)
    ref_loss, ref_grads, ref_moving = _training_step(reference, images, labels)

    _assert_close(ours_loss, ref_loss, MINDCV_RTOL, "training loss")
    assert ours_grads.keys() == ref_grads.keys() and ours_moving.keys() == ref_moving.keys()
    for name in ref_grads:
        np.testing.assert_allclose(ours_grads[name], ref_grads[name], rtol=MINDCV_RTOL, atol=1e-9, err_msg=name)
    for name in ref_moving:
        np.testing.assert_allclose(ours_moving[name], ref_moving[name], rtol=MINDCV_RTOL, atol=1e-9, err_msg=name)


# timm name, our name, input sizes checked.
TIMM_CASES = [
    ("resnetv2_18", "preact_resnet18", (224, 97)),
    ("resnetv2_50", "preact_resnet50", (224, 97)),
    ("resnetv2_101", "preact_resnet101", (224,)),
]


@pytest.fixture(scope="module")
def timm_references(tmp_path_factory):
    """timm's state dicts and logits for every case, from one PyTorch process."""
    require_oracles("torch", "timm")
    sizes = sorted({size for _, _, case_sizes in TIMM_CASES for size in case_sizes})
    return run_timm_references([case[0] for case in TIMM_CASES], tmp_path_factory.mktemp("timm"), sizes, SEED)


@pytest.mark.slow
@pytest.mark.parametrize("timm_name, model_name, sizes", TIMM_CASES, ids=_case_id)
def test_paper_layout_matches_timm(timm_name, model_name, sizes, timm_references, tmp_path, graph_mode):
    timm_file, expected = timm_references[timm_name]
    converted = convert_timm_checkpoint(timm_file, str(tmp_path / f"{model_name}.ckpt"), model_name=model_name)

    net = create_model(model_name)
    load_checkpoint(net, converted, strict=True)
    net.set_train(False)
    for size, images in random_inputs(sizes, SEED).items():
        _assert_close(_logits(net, images), expected[str(size)], TIMM_RTOL, f"{model_name} vs timm at {size}x{size}")


@pytest.mark.slow
@pytest.mark.parametrize("timm_name, model_name", [case[:2] for case in TIMM_CASES], ids=_case_id)
def test_feature_levels_match_timm(timm_name, model_name, timm_references):
    """Same levels as timm's feature_info for the same design: stem + 4 stages, channel counts and reductions."""
    reference = timm_references[timm_name][1]
    expected = list(zip(reference["feature_channels"].tolist(), reference["feature_reductions"].tolist()))
    ours = create_model(model_name).feature_info
    assert [(info["num_chs"], info["reduction"]) for info in ours] == expected
    assert [(info["chs"], info["reduction"]) for info in ours] == expected
    if timm_name == "resnetv2_50":  # our MindCV-layout net of timm's very name has the same levels too
        assert [(i["num_chs"], i["reduction"]) for i in create_model("resnetv2_50").feature_info] == expected


def test_mindcv_layout_feature_info_equals_mindcv():
    require_oracles("mindcv")
    import mindcv.models

    keys = ("chs", "reduction", "name")
    ours = create_model("resnetv2_50").feature_info
    reference = mindcv.models.create_model("resnetv2_50").feature_info
    assert [tuple(i[k] for k in keys) for i in ours] == [tuple(i[k] for k in keys) for i in reference]
