"""The timm-family models train (one compiled step on CPU) and export (MINDIR, and ONNX through onnxruntime).

Training: one graph-mode step of the project's TrainStep with SGD momentum on a tiny batch; the loss is finite and
every kind of trainable tensor moves: weight-standardised kernels (the standardisation is in the graph) and each
norm's parameters. The four widest BiT nets (217M-937M parameters) run only with MINDCV_RESNETV2_BIG_ORACLES (their
measured peaks are in docs/measurements.md); resnetv2_152x4_bit is skipped unless the machine has the memory its step needs.

Export: one net of each family (BiT, deep stem, tiered stem, each non-BN norm) and the paper layout, whose padded
max-pool MindSpore 2.8 cannot convert to ONNX: `make_onnx_exportable` switches the pools to their exportable form.
"""
import mindspore as ms
import numpy as np
import pytest
from mindspore import nn
from test_timm_family import BIG, BIG_ORACLES_ENV, FAMILY, big_selected

from mindcv_resnetv2.engine.train_step import LossScaling, NetWithLoss, TrainStep
from mindcv_resnetv2.models import create_model
from mindcv_resnetv2.models.pooling import make_onnx_exportable
from mindcv_resnetv2.optim import create_loss

CLASSES = 3
# One step at 32x32, batch 2, peaks at 4.3-5.9x the float32 weights on MindSpore 2.8 CPU (measured: resnetv2_50x3_bit
# 4.4 GB for 0.81 GB of weights, resnetv2_101x3_bit 7.3 GB for 1.45 GB, resnetv2_152x4_bit 15.2 GB for 3.49 GB);
# the limit leaves resnetv2_152x4_bit about 2 GB of margin.
STEP_MEMORY_GB = {"resnetv2_152x4_bit": 17}


def _available_memory_gb():
    with open("/proc/meminfo") as handle:
        fields = dict(line.split(":", 1) for line in handle)
    return int(fields["MemAvailable"].split()[0]) / 2 ** 20


def _batch(size, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
    return ms.Tensor(images), ms.Tensor(rng.integers(0, CLASSES, batch).astype(np.int32))


# Tensors whose update proves the step reaches them: the first conv kernel, a block norm, the final norm.
WATCHED = ("conv1.weight", "layer1.0.bn1.gamma", "norm.beta", "classifier.weight")


# Deeper siblings: the cells of resnetv2_50d and resnetv2_50x1_bit, whose step runs here, in more blocks (their
# forward matches timm's in test_timm_family.py); their three steps took 46 s of the suite.
DEEPER_SIBLINGS = {"resnetv2_101d", "resnetv2_152d", "resnetv2_101x1_bit"}


@pytest.mark.slow
@pytest.mark.parametrize("name", [name for name in FAMILY if name not in DEEPER_SIBLINGS])
def test_one_training_step(name, graph_mode):
    if name in BIG and name not in big_selected():
        pytest.skip(f"{name} is one of the widest BiT nets: set {BIG_ORACLES_ENV}=1 to train it")
    if name in STEP_MEMORY_GB and _available_memory_gb() < STEP_MEMORY_GB[name]:
        pytest.skip(f"{name}: one training step needs about {STEP_MEMORY_GB[name]} GB; this machine has "
                    f"{_available_memory_gb():.1f} GB available")
    ms.set_seed(0)
    net = create_model(name, num_classes=CLASSES, drop_path_rate=0.1)
    params = {p.name: p for p in net.trainable_params()}
    before = {key: params[key].asnumpy().copy() for key in WATCHED}
    optimizer = nn.Momentum(net.trainable_params(), learning_rate=0.01, momentum=0.9)
    step = TrainStep(NetWithLoss(net, create_loss("CE")), optimizer, LossScaling(1.0))
    step.set_train(True)
    loss = float(step(*_batch(32)).asnumpy())
    assert np.isfinite(loss)
    for key in WATCHED:
        assert not np.array_equal(params[key].asnumpy(), before[key]), f"{name}: {key} did not change"


EXPORT_CASES = ["preact_resnet18", "resnetv2_50x1_bit", "resnetv2_18d", "resnetv2_50t", "resnetv2_50d_gn",
                "resnetv2_50d_evos", "resnetv2_50d_frn"]


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPORT_CASES)
def test_onnx_export_reproduces_the_network(name, tmp_path, graph_mode):
    ort = pytest.importorskip("onnxruntime")
    net = create_model(name, num_classes=CLASSES)
    net.set_train(False)
    images = _batch(65, batch=1)[0]  # odd sizes: every padded pool has work at its far edge
    expected = net(images).asnumpy()
    make_onnx_exportable(net)
    path = str(tmp_path / name)
    ms.export(net, images, file_name=path, file_format="ONNX")
    session = ort.InferenceSession(path + ".onnx", providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: images.asnumpy()})[0]
    np.testing.assert_allclose(outputs, expected, rtol=1e-4, atol=1e-4 * float(np.abs(expected).max()))


@pytest.mark.slow
def test_mindir_export_of_bit(tmp_path, graph_mode):
    net = create_model("resnetv2_50x1_bit", num_classes=CLASSES)
    net.set_train(False)
    images = _batch(64, batch=1)[0]
    path = str(tmp_path / "bit")
    ms.export(net, images, file_name=path, file_format="MINDIR")
    exported = nn.GraphCell(ms.load(path + ".mindir"))(images).asnumpy()
    np.testing.assert_allclose(exported, net(images).asnumpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["resnetv2_50x1_bit", "resnetv2_50t"])
def test_features_only_forward_features_and_head(name, pynative_mode):
    """The API every model has: feature maps as feature_info describes them, features + head = logits."""
    images = _batch(64)[0]
    features = create_model(name, features_only=True)
    features.set_train(False)
    maps = features(images)
    assert len(maps) == len(features.feature_info)
    for level, info in zip(maps, features.feature_info):
        assert level.shape[1:] == (info["num_chs"], 64 // info["reduction"], 64 // info["reduction"]), info
    net = create_model(name, num_classes=CLASSES, drop_path_rate=0.2)
    net.set_train(False)
    pooled = net.forward_head(net.forward_features(images), pre_logits=True)
    assert pooled.shape == (2, net.num_features)
    np.testing.assert_allclose(net.forward_head(net.forward_features(images)).asnumpy(), net(images).asnumpy(),
                               rtol=1e-6)
    rates = [float(getattr(block.drop_path, "drop_prob", 0.0)) for stage in net.stage_names
             for block in getattr(net, stage)]
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.2) and rates == sorted(rates)
