"""The cells the benchmark times: our training step (from build_training, exactly as train.py builds it), the
plain MindSpore step it is compared with, and the evaluation step, plus the fixed batch they all run on."""
import numpy as np
from mindspore import Tensor, nn

from ..engine.builders import build_training
from ..engine.evaluation import EvalStep

# The schedule is built for this many updates; the benchmark never gets near its end.
SCHEDULE_UPDATES_PER_EPOCH = 1000


def fixed_batch(batch_size, in_channels, image_size, num_classes, seed=0):
    """(images, labels): a standard-normal float32 NCHW batch and int32 labels in [0, num_classes)."""
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((batch_size, in_channels, image_size, image_size), dtype=np.float32)
    labels = rng.integers(0, num_classes, batch_size).astype(np.int32)
    return Tensor(images), Tensor(labels)


def our_train_step(cfg, net, runtime):
    """The compiled TrainStep train.py runs for this recipe."""
    return build_training(cfg, net, SCHEDULE_UPDATES_PER_EPOCH, runtime).step


def plain_train_step(net, lr, momentum, weight_decay):
    """The textbook MindSpore step over the same network: TrainOneStepCell(WithLossCell(net, CE), Momentum)."""
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    optimizer = nn.Momentum(net.trainable_params(), learning_rate=lr, momentum=momentum, weight_decay=weight_decay)
    return nn.TrainOneStepCell(nn.WithLossCell(net, loss), optimizer)


def eval_step(net, num_classes):
    """The step the Evaluator runs per batch (forward, summed loss, top-1/top-k hits)."""
    return EvalStep(net, top_k=min(5, num_classes))
