"""ResNetV2: the pre-activation residual network of He et al., "Identity Mappings in Deep Residual Networks" (2016).

One network class covers every variant; presets choose the depth, the block, the stem and the details below.

Two layouts share the same parameter naming (`conv1`, `layerN.i.bnK/convK`, `down_sample`, `classifier`):

* MindCV layout (`resnetv2_50`, `resnetv2_101`): the stem is conv-BN-ReLU followed by a 3x3/2 max-pool with
  MindSpore's `pad_mode="same"` (which pads bottom/right only); the projection shortcut is 1x1 conv + BN; there is
  no final BN-ReLU before pooling. These match MindCV's published checkpoints name for name.
* Paper layout (`preact_resnet*`): stem conv (no norm) and a 3x3/2 max-pool with padding 1; every block is
  BN-ReLU-conv; the projection is a bare 1x1 conv; a final BN-ReLU precedes pooling. Equal to timm's resnetv2.

In both, a block pre-activates its input once and feeds that tensor to the projection shortcut too.

timm's other ResNetV2 variants are presets of the same class with the paper layout and these options:

* BiT (`resnetv2_50x1_bit` ... `resnetv2_152x4_bit`, Kolesnikov et al., "Big Transfer", 2020): weight-standardised
  convolutions, GroupNorm (32 groups) + ReLU, stage and stem widths times a width factor, and the "fixed" stem:
  7x7/2 conv, zero padding of 1, 3x3/2 max-pool without padding.
* "d" nets (`resnetv2_18d` ... `resnetv2_152d`): a deep stem of three 3x3 convs (32, 32, 64 channels, norm-act
  between them) and average-down shortcuts (2x2/2 average pool, ceil mode, before a stride-1 1x1 conv);
  `resnetv2_50t` has the tiered stem (24, 32, 64). `resnetv2_50d_gn` / `_evos` / `_frn` swap BatchNorm + ReLU
  for GroupNorm + ReLU, EvoNorm-S0 or FRN + TLU everywhere.

Parameter names stay the same across norms: `bnK` is a block's K-th norm-act cell, whatever its kind.

MindCV's own BiT networks (`BiT_resnet50`, `BiT_resnet50x3`, `BiT_resnet101`) are the BiT preset under MindCV's
names (`gnK`, final `gn`, a 1x1-convolution classifier) and StdConv eps, so MindCV's checkpoints load unchanged; the
timm-named BiT nets read those checkpoints too (`ResNetV2.checkpoint_entries`).
"""
import functools
import logging
import re

import numpy as np
from mindspore import Tensor, nn, ops
from mindspore.common import initializer as init

from ..data.constants import CIFAR10_MEAN_255, CIFAR10_STD_255, IMAGENET_MEAN_255, IMAGENET_STD_255
from ..errors import InvalidInputError
from .layers import DropPath, symmetric_padding
from .norm_act import BatchNormAct2d, norm_act_layer
from .pooling import AvgPool2x2Ceil, MaxPool3x3Pad1, ZeroPadMaxPool3x3
from .std_conv import BIT_EPS, StdConv2d
from .pretrained import load_pretrained
from .registry import register_model

_logger = logging.getLogger(__name__)

BLOCK_TYPES = ("basic", "bottleneck")
STEM_TYPES = ("mindcv", "paper", "cifar", "bit", "deep", "tiered")
# Channels of the three 3x3 convolutions of the deep stems, as fractions of the stem width (timm's 'D' and 'T').
DEEP_STEM_FRACTIONS = {"deep": (1 / 2, 1 / 2), "tiered": (3 / 8, 1 / 2)}


def _conv(in_channels, out_channels, kernel_size, stride=1):
    """A bias-free convolution with symmetric zero padding of kernel_size // 2 (so 1x1 convs are unpadded)."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, has_bias=False,
                     **symmetric_padding(kernel_size))


class PreActBlock(nn.Cell):
    """Pre-activation residual unit: (BN-ReLU-conv) x 2 for "basic", x 3 for "bottleneck" (1x1, 3x3, 1x1).

    The stride sits on the 3x3 convolution. When the shape changes, the shortcut is a 1x1 projection of the
    pre-activated input (followed by BN in the MindCV layout; preceded by a 2x2 average pool that takes the
    stride with `avg_down`); otherwise it is the untouched input. `norm_layer` builds the norm-act cells
    (bnK), `conv_layer` the convolutions.
    """

    def __init__(self, block_type, in_channels, width, stride, shortcut_norm, drop_path_rate,
                 norm_layer=BatchNormAct2d, conv_layer=None, avg_down=False, norm_prefix="bn"):
        super().__init__()
        conv_layer = conv_layer or _conv
        self.is_bottleneck = block_type == "bottleneck"
        out_channels = width * 4 if self.is_bottleneck else width
        # Norm-act cells named <norm_prefix>1, 2 (, 3), registered between the convolutions in the order used.
        self.norm_names = tuple(f"{norm_prefix}{k}" for k in range(1, 4 if self.is_bottleneck else 3))
        setattr(self, self.norm_names[0], norm_layer(in_channels))
        if self.is_bottleneck:
            self.conv1 = conv_layer(in_channels, width, 1)
            setattr(self, self.norm_names[1], norm_layer(width))
            self.conv2 = conv_layer(width, width, 3, stride)
            setattr(self, self.norm_names[2], norm_layer(width))
            self.conv3 = conv_layer(width, out_channels, 1)
        else:
            self.conv1 = conv_layer(in_channels, width, 3, stride)
            setattr(self, self.norm_names[1], norm_layer(width))
            self.conv2 = conv_layer(width, width, 3)
        self.down_sample = None
        self.down_pool = None
        if stride != 1 or in_channels != out_channels:
            if avg_down and stride != 1:
                self.down_pool = AvgPool2x2Ceil()
            projection = [conv_layer(in_channels, out_channels, 1, 1 if avg_down else stride)]
            if shortcut_norm:
                projection.append(nn.BatchNorm2d(out_channels))
            self.down_sample = nn.SequentialCell(projection)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.out_channels = out_channels

    def construct(self, x):
        preact = getattr(self, self.norm_names[0])(x)
        shortcut = x
        if self.down_sample is not None:
            projected = preact
            if self.down_pool is not None:
                projected = self.down_pool(preact)
            shortcut = self.down_sample(projected)
        out = self.conv1(preact)
        out = self.conv2(getattr(self, self.norm_names[1])(out))
        if self.is_bottleneck:
            out = self.conv3(getattr(self, self.norm_names[2])(out))
        return self.drop_path(out) + shortcut


def _feature_level(channels, reduction, name):
    """One feature_info entry, with MindCV's keys (chs, reduction, name) and timm's (num_chs, reduction, module)."""
    return dict(chs=channels, num_chs=channels, reduction=reduction, name=name, module=name)


def _check_out_indices(out_indices, num_levels):
    """out_indices as a sorted tuple of 0-based levels (default all); duplicates or levels out of range refused."""
    if out_indices is None:
        return tuple(range(num_levels))
    indices = tuple(out_indices)
    bad = [i for i in indices if not isinstance(i, int) or not 0 <= i < num_levels]
    if bad or len(set(indices)) != len(indices):
        raise ValueError(
            f"out_indices {list(indices)} must be distinct feature levels in 0..{num_levels - 1} "
            f"(0 is the stem, 1..{num_levels - 1} the stages)"
        )
    return tuple(sorted(indices))


class ResNetV2(nn.Cell):
    """The pre-activation ResNet, configured by its preset (see the module docstring for the two layouts).

    Args:
        layers: blocks per stage, e.g. (3, 4, 6, 3).
        block: "basic" or "bottleneck".
        widths: base width of each stage (bottleneck outputs are 4x this).
        stem: "mindcv" (conv-BN-ReLU, "same" max-pool), "paper" (conv, max-pool padding 1), "cifar" (3x3 conv),
            "bit" (conv, zero padding, max-pool), "deep" / "tiered" (three 3x3 convs, max-pool padding 1).
        shortcut_norm: BN after the projection conv (MindCV layout).
        final_norm: norm-act after the last stage (paper layout).
        norm: the norm-act kind of the blocks, deep stems and final norm: "batchnorm" (+ ReLU), "groupnorm"
            (+ ReLU), "evonorm_s0" or "frn" (+ TLU).
        std_conv: weight-standardised convolutions (BiT), with std_eps added to the kernel variance.
        avg_down: average-pool shortcuts ('d' nets).
        norm_prefix, final_norm_name: the names of the blocks' norm-act cells (prefix + 1, 2, 3) and of the final
            norm; conv_head: the classifier as a 1x1 convolution with bias (weight (classes, features, 1, 1)).
            MindCV's BiT_resnet* use "gn", "gn" and a conv head; every other preset "bn", "norm" and a Dense.
        width_factor: multiplies the stem and stage widths (BiT's x1 ... x4).
        drop_rate: dropout before the classifier. drop_path_rate: stochastic depth, rising linearly to this
            value over the blocks. features_only: construct returns feature maps instead of logits.
        out_indices: which feature levels (0-based) features_only returns, in level order; default all.

    Feature levels, as MindCV's ResNet and timm's ResNetV2 define them: level 0 is the stem before its max-pool
    (reduction 2; 1 for the CIFAR stem), then one level per stage, the stage's raw output (the paper layout's
    final BN-ReLU belongs to the head, as in timm). `feature_info` lists every level with MindCV's keys (`chs`,
    `reduction`, `name`) and timm's (`num_chs`, `reduction`, `module`); `name` and `module` are the same cell name
    of this network. Top-level cells are registered in the order construct uses them, with no cell used twice,
    so MindCV's `FeatureExtractWrapper` can rebuild the network up to any level from those names.
    """

    def __init__(
        self,
        layers,
        block="bottleneck",
        widths=(64, 128, 256, 512),
        stem="paper",
        shortcut_norm=False,
        final_norm=True,
        norm="batchnorm",
        std_conv=False,
        std_eps=BIT_EPS,
        avg_down=False,
        norm_prefix="bn",
        final_norm_name="norm",
        conv_head=False,
        width_factor=1,
        num_classes=1000,
        in_channels=3,
        stem_channels=64,
        drop_rate=0.0,
        drop_path_rate=0.0,
        features_only=False,
        out_indices=None,
    ):
        super().__init__()
        if block not in BLOCK_TYPES:
            raise ValueError(f"block must be one of {BLOCK_TYPES}, got {block!r}")
        if stem not in STEM_TYPES:
            raise ValueError(f"stem must be one of {STEM_TYPES}, got {stem!r}")
        if len(layers) != len(widths):
            raise ValueError(f"layers {tuple(layers)} and widths {tuple(widths)} must have the same length")
        num_stages = len(layers)
        self.frozen_cells = ()  # see freeze()
        self.features_only = features_only
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        norm_layer = norm_act_layer(norm)
        conv_layer = functools.partial(StdConv2d, eps=std_eps) if std_conv else _conv
        stem_channels *= width_factor
        widths = tuple(w * width_factor for w in widths)

        # Stem, its cells registered in the order construct uses them; norms include their activation.
        self.stem_norm = stem == "mindcv"
        self.deep_stem = stem in DEEP_STEM_FRACTIONS
        if stem == "cifar":
            self.conv1 = conv_layer(in_channels, stem_channels, 3)
            self.max_pool = None
            stem_level = dict(reduction=1, name="conv1")
        elif self.deep_stem:
            mid1, mid2 = (int(stem_channels * f) for f in DEEP_STEM_FRACTIONS[stem])
            self.conv1 = conv_layer(in_channels, mid1, 3, stride=2)
            self.stem_bn1 = norm_layer(mid1)
            self.stem_conv2 = conv_layer(mid1, mid2, 3)
            self.stem_bn2 = norm_layer(mid2)
            self.stem_conv3 = conv_layer(mid2, stem_channels, 3)
            self.max_pool = MaxPool3x3Pad1()
            stem_level = dict(reduction=2, name="stem_conv3")
        else:
            self.conv1 = conv_layer(in_channels, stem_channels, 7, stride=2)
            stem_level = dict(reduction=2, name="conv1")
            if self.stem_norm:  # BN and ReLU as two cells, named as in MindCV's network and feature_info
                self.bn1 = nn.BatchNorm2d(stem_channels)
                self.relu = nn.ReLU()
                self.max_pool = nn.MaxPool2d(kernel_size=3, stride=2, pad_mode="same")
                stem_level["name"] = "relu"
            elif stem == "bit":
                self.max_pool = ZeroPadMaxPool3x3()
            else:
                self.max_pool = MaxPool3x3Pad1()
        self.feature_info = [_feature_level(stem_channels, **stem_level)]

        total_blocks = sum(layers)
        block_index = 0
        in_ch = stem_channels
        reduction = 4 if self.max_pool is not None else 1
        stages = []
        for stage_index, (depth, width) in enumerate(zip(layers, widths)):
            stride = 1 if stage_index == 0 else 2
            reduction *= stride
            blocks = []
            for i in range(depth):
                rate = drop_path_rate * block_index / max(total_blocks - 1, 1)
                unit = PreActBlock(block, in_ch, width, stride if i == 0 else 1, shortcut_norm, rate,
                                   norm_layer=norm_layer, conv_layer=conv_layer, avg_down=avg_down,
                                   norm_prefix=norm_prefix)
                in_ch = unit.out_channels
                blocks.append(unit)
                block_index += 1
            stages.append(nn.SequentialCell(blocks))
            self.feature_info.append(_feature_level(in_ch, reduction, f"layer{stage_index + 1}"))
        # Stages as layer1..layerN attributes: the parameter names MindCV's checkpoints use.
        self.stage_names = tuple(f"layer{i + 1}" for i in range(num_stages))
        for name, stage in zip(self.stage_names, stages):
            setattr(self, name, stage)
        self.num_features = in_ch

        self.out_indices = _check_out_indices(out_indices, len(self.feature_info))
        if features_only:
            self.out_channels = [self.feature_info[i]["chs"] for i in self.out_indices]

        self.final_norm_name = final_norm_name if final_norm else None
        if final_norm:
            setattr(self, final_norm_name, norm_layer(in_ch))
        self.dropout = nn.Dropout(p=drop_rate) if drop_rate > 0 else nn.Identity()
        self.conv_head = conv_head
        if num_classes <= 0:
            self.classifier = nn.Identity()
        elif conv_head:
            self.classifier = nn.Conv2d(in_ch, num_classes, 1, has_bias=True)
        else:
            self.classifier = nn.Dense(in_ch, num_classes)
        self._init_weights()

    def _init_weights(self):
        """He-normal (fan_out) convolutions, BN 1/0; classifier He-uniform (fan_in, gain 1) with zero bias, as MindCV."""
        for _, cell in self.cells_and_names():
            if isinstance(cell, nn.Conv2d):
                cell.weight.set_data(
                    init.initializer(init.HeNormal(mode="fan_out", nonlinearity="relu"), cell.weight.shape, cell.weight.dtype)
                )
                if cell.has_bias:  # the conv head
                    cell.bias.set_data(init.initializer("zeros", cell.bias.shape, cell.bias.dtype))
            elif isinstance(cell, nn.BatchNorm2d):
                cell.gamma.set_data(init.initializer("ones", cell.gamma.shape, cell.gamma.dtype))
                cell.beta.set_data(init.initializer("zeros", cell.beta.shape, cell.beta.dtype))
            elif isinstance(cell, nn.Dense):
                weight_init = init.HeUniform(mode="fan_in", nonlinearity="sigmoid")
                cell.weight.set_data(init.initializer(weight_init, cell.weight.shape, cell.weight.dtype))
                cell.bias.set_data(init.initializer("zeros", cell.bias.shape, cell.bias.dtype))

    def depth_group(self, cell_name):
        """The group of top-level cell `cell_name` by depth, which layer_decay and freezing share: "stem" (every
        cell before the first stage), a stage name, or "head" (the final norm-act, dropout and classifier)."""
        if cell_name in self.stage_names:
            return cell_name
        head_cells = {"dropout", "classifier"} | ({self.final_norm_name} if self.final_norm_name else set())
        return "head" if cell_name in head_cells else "stem"

    def lr_groups(self):
        """The trainable parameters by depth_group, for layer-wise lr decay: [("stem", [...]), ("layer1", [...]),
        ..., ("head", [...])]."""
        groups = {name: [] for name in ("stem",) + self.stage_names + ("head",)}
        for param in self.trainable_params():
            groups[self.depth_group(param.name.split(".", 1)[0])].append(param)
        return list(groups.items())

    def freeze(self, num_stages=0, backbone=False):
        """Fix part of the network for fine-tuning: the stem and the first `num_stages` stages (0: nothing), or,
        with `backbone`, every cell but the dropout and classifier (a linear probe). Their parameters stop being
        trainable (so an optimizer built afterwards holds no state for them) and they run in inference mode, BN on
        its moving statistics, which stay as they are, and drop-path off, also under set_train(True) (see
        add_flags_recursive). Returns the frozen cells' names."""
        stages = len(self.stage_names)
        if not 0 <= num_stages <= stages:
            raise InvalidInputError(f"freeze_stages {num_stages}: this network has {stages} stages "
                                    f"({', '.join(self.stage_names)}); give 0 to {stages}")
        frozen_groups = ("stem",) + self.stage_names[:num_stages] if num_stages else ()
        self.frozen_cells = tuple(
            name for name in self.name_cells()
            if (name not in ("dropout", "classifier") if backbone else self.depth_group(name) in frozen_groups))
        for param in self.frozen_parameters():
            param.requires_grad = False
        for name in self.frozen_cells:
            getattr(self, name).set_train(False)
        return self.frozen_cells

    def frozen_parameters(self):
        """Every parameter of the frozen cells (weights and BN statistics), none when nothing is frozen."""
        return [param for name in self.frozen_cells for param in getattr(self, name).get_parameters()]

    def add_flags_recursive(self, **flags):
        """Cell's, then the frozen cells back in inference mode: set_train(True) on this network or on any cell
        holding it (the training step, the loss wrapper) passes through here, so freezing survives it."""
        super().add_flags_recursive(**flags)
        if flags.get("training"):
            for name in self.frozen_cells:
                getattr(self, name).add_flags_recursive(training=False)
        return self

    def checkpoint_entries(self, entries, source):
        """`entries` of a checkpoint under this network's names (pretrained.checkpoint_entries calls it before loading).

        A BiT network with timm's names reads the checkpoints of MindCV's BiT_resnet* (see _from_mindcv_bit_names);
        any other file is returned as it is, for the strict load to judge.
        """
        if self.conv_head or self.final_norm_name != "norm" or not _is_mindcv_bit_checkpoint(entries):
            return entries
        return _from_mindcv_bit_names(entries, source)

    def forward_stem(self, x):
        """The stem up to its max-pool: feature level 0."""
        x = self.conv1(x)
        if self.stem_norm:
            x = self.relu(self.bn1(x))
        if self.deep_stem:
            x = self.stem_conv3(self.stem_bn2(self.stem_conv2(self.stem_bn1(x))))
        return x

    def forward_features(self, x):
        """Stem and stages (and the final BN-ReLU of the paper layout): the unpooled feature map."""
        x = self.forward_stem(x)
        if self.max_pool is not None:
            x = self.max_pool(x)
        for name in self.stage_names:
            x = getattr(self, name)(x)
        if self.final_norm_name is not None:
            x = getattr(self, self.final_norm_name)(x)
        return x

    def forward_levels(self, x):
        """The feature maps of the levels in out_indices, in level order (see the class docstring)."""
        x = self.forward_stem(x)
        levels = (x,)
        if self.max_pool is not None:
            x = self.max_pool(x)
        for name in self.stage_names:
            x = getattr(self, name)(x)
            levels += (x,)
        return tuple(levels[i] for i in self.out_indices)

    def forward_head(self, x, pre_logits=False):
        """Global average pooling, dropout and the classifier; `pre_logits` stops before the classifier."""
        x = ops.mean(x, (2, 3))
        if pre_logits:
            return x
        x = self.dropout(x)
        if self.conv_head:
            return self.classifier(x.reshape(x.shape + (1, 1))).reshape(x.shape[0], -1)
        return self.classifier(x)

    def construct(self, x):
        if self.features_only:
            return self.forward_levels(x)
        return self.forward_head(self.forward_features(x))


def cifar_layers(depth, block):
    """Blocks per stage of the paper's 3-stage CIFAR net: depth 6n+2 (basic) or 9n+2 (bottleneck)."""
    per_block = 3 if block == "bottleneck" else 2
    if depth < 3 * per_block + 2 or (depth - 2) % (3 * per_block):
        raise ValueError(
            f"depth {depth} is not valid for a {block} CIFAR ResNetV2: it must be {3 * per_block}n+2 with n >= 1 "
            f"(e.g. {3 * per_block + 2}, {6 * per_block + 2}, ...)"
        )
    n = (depth - 2) // (3 * per_block)
    return (n, n, n)


def dummy_input(net, batch_size=1, image_size=None):
    """A zero batch of the model's default input size, for shape checks and FLOP counting."""
    size = image_size or net.default_cfg["input_size"][1:]
    channels = net.conv1.in_channels
    return Tensor(np.zeros((batch_size, channels, size[0], size[1]), np.float32))


def _cfg(url="", **overrides):
    """Default configuration of an ImageNet model; mean/std on the 0-255 scale, as MindCV recipes write them."""
    cfg = dict(
        url=url,
        sha256=None,
        num_classes=1000,
        input_size=(3, 224, 224),
        crop_pct=0.875,
        interpolation="bilinear",
        mean=IMAGENET_MEAN_255,
        std=IMAGENET_STD_255,
        first_conv="conv1",
        classifier="classifier",
    )
    cfg.update(overrides)
    return cfg


def _cifar_cfg(**overrides):
    return _cfg(num_classes=10, input_size=(3, 32, 32), crop_pct=1.0, mean=CIFAR10_MEAN_255, std=CIFAR10_STD_255, **overrides)


MINDCV_DOWNLOADS = "https://download.mindspore.cn/toolkits/mindcv/resnetv2/"
TIMM_NOTE = "convert timm's weights with: python -m mindcv_resnetv2.convert timm model.safetensors out.ckpt --model {}"

default_cfgs = {
    # MindCV's published checkpoints; the 8 hex digits in each name are the start of the file's sha256.
    "resnetv2_50": _cfg(url=MINDCV_DOWNLOADS + "resnetv2_50-3c2f143b.ckpt"),
    "resnetv2_101": _cfg(url=MINDCV_DOWNLOADS + "resnetv2_101-5d4c49a1.ckpt"),
    **{f"preact_resnet{d}": _cfg() for d in (18, 34, 152, 200)},
    # timm publishes weights of the same design (timm/resnetv2_50.a1h_in1k, timm/resnetv2_101.a1h_in1k).
    "preact_resnet50": _cfg(source="timm/resnetv2_50.a1h_in1k", note=TIMM_NOTE.format("preact_resnet50")),
    "preact_resnet101": _cfg(source="timm/resnetv2_101.a1h_in1k", note=TIMM_NOTE.format("preact_resnet101")),
    **{f"preact_resnet{d}_cifar": _cifar_cfg() for d in (20, 29, 56, 110, 164, 1001)},
}

MINDCV_LAYOUT = dict(stem="mindcv", shortcut_norm=True, final_norm=False)
PAPER_LAYOUT = dict(stem="paper", shortcut_norm=False, final_norm=True)
IMAGENET_DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
    200: ("bottleneck", (3, 24, 36, 3)),
}


def _build(name, depth, layout, pretrained, num_classes, in_channels, **kwargs):
    """An ImageNet preset with its default config, and the registry's published weights when `pretrained`."""
    block, layers = IMAGENET_DEPTHS[depth]
    net = ResNetV2(layers, block=block, **layout, num_classes=num_classes, in_channels=in_channels, **kwargs)
    net.default_cfg = default_cfgs[name]
    if pretrained:
        load_pretrained(net, name)
    return net


def _build_cifar(depth, pretrained, num_classes, in_channels, **kwargs):
    """A registered CIFAR preset; `pretrained` asks the registry (no CIFAR weights are published: a clear error)."""
    net = preact_resnet_cifar(depth, num_classes=num_classes, in_channels=in_channels, **kwargs)
    if pretrained:
        load_pretrained(net, f"preact_resnet{depth}_cifar")
    return net


def preact_resnet_cifar(depth, block=None, **kwargs):
    """The paper's CIFAR ResNetV2 of any valid depth: 3 stages of widths 16/32/64, 3x3 stem, 32x32 input.

    `block` defaults to the paper's choice: basic units below depth 164 when 6n+2 allows it, bottleneck otherwise.
    """
    if block is None:
        block = "basic" if (depth - 2) % 6 == 0 and depth < 164 else "bottleneck"
    net = ResNetV2(
        cifar_layers(depth, block),
        block=block,
        widths=(16, 32, 64),
        stem="cifar",
        stem_channels=16,
        shortcut_norm=False,
        final_norm=True,
        **kwargs,
    )
    net.default_cfg = default_cfgs.get(f"preact_resnet{depth}_cifar", _cifar_cfg())
    return net


# The registered entry points, each written out with MindCV's and timm's signature, num_classes defaulting to
# the model's default cfg. register_model reads the function's name and this module's default_cfgs (MindCV's
# register_model does too), so a model's cfg is defined before its function.
@register_model
def resnetv2_50(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """ResNetV2-50 in MindCV's layout: loads MindCV's published checkpoints (25,553,064 trainable parameters)."""
    return _build("resnetv2_50", 50, MINDCV_LAYOUT, pretrained, num_classes, in_channels, **kwargs)


@register_model
def resnetv2_101(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """ResNetV2-101 in MindCV's layout (44,545,192 trainable parameters)."""
    return _build("resnetv2_101", 101, MINDCV_LAYOUT, pretrained, num_classes, in_channels, **kwargs)


@register_model
def preact_resnet18(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """Pre-activation ResNet-18 as in the paper (basic units)."""
    return _build("preact_resnet18", 18, PAPER_LAYOUT, pretrained, num_classes, in_channels, **kwargs)


@register_model
def preact_resnet34(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """Pre-activation ResNet-34 as in the paper (basic units)."""
    return _build("preact_resnet34", 34, PAPER_LAYOUT, pretrained, num_classes, in_channels, **kwargs)


@register_model
def preact_resnet50(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """Pre-activation ResNet-50 as in the paper; numerically equal to timm's resnetv2_50."""
    return _build("preact_resnet50", 50, PAPER_LAYOUT, pretrained, num_classes, in_channels, **kwargs)


@register_model
def preact_resnet101(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """Pre-activation ResNet-101 as in the paper; numerically equal to timm's resnetv2_101."""
    return _build("preact_resnet101", 101, PAPER_LAYOUT, pretrained, num_classes, in_channels, **kwargs)


@register_model
def preact_resnet152(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """Pre-activation ResNet-152 as in the paper."""
    return _build("preact_resnet152", 152, PAPER_LAYOUT, pretrained, num_classes, in_channels, **kwargs)


@register_model
def preact_resnet200(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """Pre-activation ResNet-200 as in the paper (its ImageNet experiments, Table 5)."""
    return _build("preact_resnet200", 200, PAPER_LAYOUT, pretrained, num_classes, in_channels, **kwargs)


@register_model
def preact_resnet20_cifar(pretrained=False, num_classes=10, in_channels=3, **kwargs):
    """Small CIFAR ResNetV2 (basic units, n=3) for quick runs."""
    return _build_cifar(20, pretrained, num_classes, in_channels, **kwargs)


@register_model
def preact_resnet29_cifar(pretrained=False, num_classes=10, in_channels=3, **kwargs):
    """Small CIFAR ResNetV2 (bottleneck units, n=3) for quick runs."""
    return _build_cifar(29, pretrained, num_classes, in_channels, **kwargs)


@register_model
def preact_resnet56_cifar(pretrained=False, num_classes=10, in_channels=3, **kwargs):
    """CIFAR ResNetV2-56 (basic units, n=9)."""
    return _build_cifar(56, pretrained, num_classes, in_channels, **kwargs)


@register_model
def preact_resnet110_cifar(pretrained=False, num_classes=10, in_channels=3, **kwargs):
    """The paper's CIFAR ResNet-110 (basic units, n=18): 6.37% CIFAR-10 error."""
    return _build_cifar(110, pretrained, num_classes, in_channels, **kwargs)


@register_model
def preact_resnet164_cifar(pretrained=False, num_classes=10, in_channels=3, **kwargs):
    """The paper's CIFAR ResNet-164 (bottleneck units, n=18): 5.46% CIFAR-10 error."""
    return _build_cifar(164, pretrained, num_classes, in_channels, **kwargs)


@register_model
def preact_resnet1001_cifar(pretrained=False, num_classes=10, in_channels=3, **kwargs):
    """The paper's CIFAR ResNet-1001 (bottleneck units, n=111): 4.92% CIFAR-10 error."""
    return _build_cifar(1001, pretrained, num_classes, in_channels, **kwargs)


# timm's other ResNetV2 variants (see the module docstring), under timm's names. timm trains and evaluates them
# with Inception-style normalisation: mean and std 0.5 on the 0-1 scale.
INCEPTION_MEAN = INCEPTION_STD = (0.5 * 255,) * 3
BIT_LAYOUT = dict(PAPER_LAYOUT, stem="bit", norm="groupnorm", std_conv=True)
D_LAYOUT = dict(PAPER_LAYOUT, stem="deep", avg_down=True)
TIERED_LAYOUT = dict(PAPER_LAYOUT, stem="tiered", avg_down=True)
BIT_NOTE = (
    "timm/{0}.goog_in21k (ImageNet-21k, 21843 classes) or Google's BiT-M-R{1}.npz; convert with: python -m "
    "mindcv_resnetv2.convert timm model.safetensors out.ckpt --model {0} (or: convert bit BiT-M-R{1}.npz out.ckpt)"
)


def _timm_cfg(layout, source="", **overrides):
    note = TIMM_NOTE.format(source.split("/")[1].split(".")[0]) if source else ""
    return _cfg(mean=INCEPTION_MEAN, std=INCEPTION_STD, layout=layout, source=source, note=note, **overrides)


def _bit_cfg(name):
    depth_width = name.split("_")[1].upper()  # "50X1" -> BiT's "R50x1"
    npz_name = depth_width.replace("X", "x")
    return _cfg(mean=INCEPTION_MEAN, std=INCEPTION_STD, layout="BiT", source=f"timm/{name}.goog_in21k",
                note=BIT_NOTE.format(name, npz_name))


default_cfgs.update({name: _bit_cfg(name) for name in (
    "resnetv2_50x1_bit", "resnetv2_50x3_bit", "resnetv2_101x1_bit",
    "resnetv2_101x3_bit", "resnetv2_152x2_bit", "resnetv2_152x4_bit")})
default_cfgs.update({
    "resnetv2_18d": _timm_cfg("paper, deep stem", "timm/resnetv2_18d.ra4_e3600_r224_in1k", interpolation="bicubic", crop_pct=0.9),
    "resnetv2_34d": _timm_cfg("paper, deep stem", "timm/resnetv2_34d.ra4_e3600_r224_in1k", interpolation="bicubic", crop_pct=0.9),
    **{name: _timm_cfg("paper, deep stem", interpolation="bicubic") for name in ("resnetv2_50d", "resnetv2_101d", "resnetv2_152d")},
    "resnetv2_50t": _timm_cfg("paper, tiered stem", interpolation="bicubic"),
    "resnetv2_50d_gn": _timm_cfg("paper, deep stem, GroupNorm", "timm/resnetv2_50d_gn.ah_in1k", interpolation="bicubic", crop_pct=0.95),
    "resnetv2_50d_evos": _timm_cfg("paper, deep stem, EvoNorm-S0", "timm/resnetv2_50d_evos.ah_in1k", interpolation="bicubic", crop_pct=0.95),
    "resnetv2_50d_frn": _timm_cfg("paper, deep stem, FRN", interpolation="bicubic"),
})


@register_model
def resnetv2_50x1_bit(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """BiT-R50x1, as timm's resnetv2_50x1_bit."""
    return _build("resnetv2_50x1_bit", 50, dict(BIT_LAYOUT, width_factor=1), pretrained, num_classes, in_channels,
                  **kwargs)


@register_model
def resnetv2_50x3_bit(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """BiT-R50x3 (3x wider), as timm's resnetv2_50x3_bit."""
    return _build("resnetv2_50x3_bit", 50, dict(BIT_LAYOUT, width_factor=3), pretrained, num_classes, in_channels,
                  **kwargs)


@register_model
def resnetv2_101x1_bit(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """BiT-R101x1, as timm's resnetv2_101x1_bit."""
    return _build("resnetv2_101x1_bit", 101, dict(BIT_LAYOUT, width_factor=1), pretrained, num_classes, in_channels,
                  **kwargs)


@register_model
def resnetv2_101x3_bit(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """BiT-R101x3 (3x wider), as timm's resnetv2_101x3_bit."""
    return _build("resnetv2_101x3_bit", 101, dict(BIT_LAYOUT, width_factor=3), pretrained, num_classes, in_channels,
                  **kwargs)


@register_model
def resnetv2_152x2_bit(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """BiT-R152x2 (2x wider), as timm's resnetv2_152x2_bit."""
    return _build("resnetv2_152x2_bit", 152, dict(BIT_LAYOUT, width_factor=2), pretrained, num_classes, in_channels,
                  **kwargs)


@register_model
def resnetv2_152x4_bit(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """BiT-R152x4 (4x wider), as timm's resnetv2_152x4_bit."""
    return _build("resnetv2_152x4_bit", 152, dict(BIT_LAYOUT, width_factor=4), pretrained, num_classes, in_channels,
                  **kwargs)


@register_model
def resnetv2_18d(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """ResNetV2-18 with deep stem and average-down shortcuts, as timm's resnetv2_18d."""
    return _build("resnetv2_18d", 18, D_LAYOUT, pretrained, num_classes, in_channels, **kwargs)


@register_model
def resnetv2_34d(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """ResNetV2-34 with deep stem and average-down shortcuts, as timm's resnetv2_34d."""
    return _build("resnetv2_34d", 34, D_LAYOUT, pretrained, num_classes, in_channels, **kwargs)


@register_model
def resnetv2_50d(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """ResNetV2-50 with deep stem and average-down shortcuts, as timm's resnetv2_50d."""
    return _build("resnetv2_50d", 50, D_LAYOUT, pretrained, num_classes, in_channels, **kwargs)


@register_model
def resnetv2_101d(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """ResNetV2-101 with deep stem and average-down shortcuts, as timm's resnetv2_101d."""
    return _build("resnetv2_101d", 101, D_LAYOUT, pretrained, num_classes, in_channels, **kwargs)


@register_model
def resnetv2_152d(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """ResNetV2-152 with deep stem and average-down shortcuts, as timm's resnetv2_152d."""
    return _build("resnetv2_152d", 152, D_LAYOUT, pretrained, num_classes, in_channels, **kwargs)


@register_model
def resnetv2_50t(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """ResNetV2-50 with tiered stem (24, 32, 64) and average-down shortcuts, as timm's resnetv2_50t."""
    return _build("resnetv2_50t", 50, TIERED_LAYOUT, pretrained, num_classes, in_channels, **kwargs)


@register_model
def resnetv2_50d_gn(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """ResNetV2-50d with GroupNorm (32 groups) + ReLU, as timm's resnetv2_50d_gn."""
    return _build("resnetv2_50d_gn", 50, dict(D_LAYOUT, norm="groupnorm"), pretrained, num_classes, in_channels,
                  **kwargs)


@register_model
def resnetv2_50d_evos(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """ResNetV2-50d with EvoNorm-S0, as timm's resnetv2_50d_evos."""
    return _build("resnetv2_50d_evos", 50, dict(D_LAYOUT, norm="evonorm_s0"), pretrained, num_classes, in_channels,
                  **kwargs)


@register_model
def resnetv2_50d_frn(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """ResNetV2-50d with filter response norm + TLU, as timm's resnetv2_50d_frn."""
    return _build("resnetv2_50d_frn", 50, dict(D_LAYOUT, norm="frn"), pretrained, num_classes, in_channels, **kwargs)


# MindCV 0.3.0's BiT networks (mindcv/models/bit.py) under its names, parameter for parameter: BiT's layout with
# its names (block norms gn1..gn3, final norm gn), its classifier (a 1x1 convolution with bias) and the epsilon
# its StdConv2d adds to the kernel variance, so MindCV's checkpoints load unchanged and give MindCV's outputs.
MINDCV_BIT_EPS = 1e-10
MINDCV_BIT_LAYOUT = dict(BIT_LAYOUT, norm_prefix="gn", final_norm_name="gn", conv_head=True, std_eps=MINDCV_BIT_EPS)
MINDCV_BIT_DOWNLOADS = "https://download.mindspore.cn/toolkits/mindcv/bit/"
default_cfgs.update({
    name: _cfg(url=f"{MINDCV_BIT_DOWNLOADS}{name}-{digest}.ckpt", layout="BiT, MindCV's names")
    for name, digest in (("BiT_resnet50", "1e4795a4"), ("BiT_resnet50x3", "a960f91f"), ("BiT_resnet101", "2efa9106"))
})


@register_model
def BiT_resnet50(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """BiT-R50x1, as MindCV's BiT_resnet50 (its names)."""
    return _build("BiT_resnet50", 50, dict(MINDCV_BIT_LAYOUT, width_factor=1), pretrained, num_classes, in_channels,
                  **kwargs)


@register_model
def BiT_resnet50x3(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """BiT-R50x3 (3x wider), as MindCV's BiT_resnet50x3 (its names)."""
    return _build("BiT_resnet50x3", 50, dict(MINDCV_BIT_LAYOUT, width_factor=3), pretrained, num_classes, in_channels,
                  **kwargs)


@register_model
def BiT_resnet101(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """BiT-R101x1, as MindCV's BiT_resnet101 (its names)."""
    return _build("BiT_resnet101", 101, dict(MINDCV_BIT_LAYOUT, width_factor=1), pretrained, num_classes, in_channels,
                  **kwargs)


# MindCV's BiT names -> timm's (ours): block norms gnK -> bnK, final norm gn -> norm; also under a prefix (ema.,
# optimizer slots).
_MINDCV_BIT_RENAMES = (
    (re.compile(r"(^|\.)(layer\d+\.\d+\.)gn([123])\."), r"\1\2bn\3."),
    (re.compile(r"(^|\.)gn\.(gamma|beta)$"), r"\1norm.\2"),
)


def _is_mindcv_bit_checkpoint(entries):
    """A checkpoint of MindCV's BiT_resnet* (final GroupNorm `gn`, raw or EMA)."""
    return "gn.gamma" in entries or "ema.gn.gamma" in entries


def _from_mindcv_bit_names(entries, source):
    """MindCV BiT_resnet* entries under the names of our timm-named BiT nets (resnetv2_50x1_bit ...): norms renamed,
    the 1x1-convolution classifier (C, F, 1, 1) as a Dense weight (C, F); logged, with the one difference left:
    these nets standardise kernels with timm's eps (1e-8), MindCV's with 1e-10."""
    renamed = {}
    for name, value in entries.items():
        for pattern, replacement in _MINDCV_BIT_RENAMES:
            name = pattern.sub(replacement, name)
        if name.endswith("classifier.weight") and np.ndim(value) == 4 and np.shape(value)[2:] == (1, 1):
            value = np.reshape(value, np.shape(value)[:2])
        renamed[name] = value
    _logger.warning(
        "'%s' holds MindCV's BiT names: loaded under timm's (gnK -> bnK, gn -> norm, 1x1-conv classifier -> Dense). "
        "This network standardises kernels with timm's eps %g where MindCV's uses %g, so logits differ slightly "
        "(about 1e-5 relative); the models BiT_resnet50/50x3/101 give MindCV's exactly.", source, BIT_EPS,
        MINDCV_BIT_EPS)
    return renamed
