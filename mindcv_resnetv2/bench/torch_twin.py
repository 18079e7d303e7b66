"""The PyTorch twin of one of our networks, and its training step: what `op_profile ops` times our whole step
against. Imports torch, so only that subcommand imports this module."""
import numpy as np
import torch
import torch.nn.functional as F

from ..models.resnetv2 import PreActBlock


class TorchPreActBlock(torch.nn.Module):
    def __init__(self, block, in_ch, width, stride, shortcut_norm):
        super().__init__()
        bottleneck = block == "bottleneck"
        out_ch = width * 4 if bottleneck else width
        self.bn1 = torch.nn.BatchNorm2d(in_ch)
        if bottleneck:
            convs = [(in_ch, width, 1, 1), (width, width, 3, stride), (width, out_ch, 1, 1)]
        else:
            convs = [(in_ch, width, 3, stride), (width, width, 3, 1)]
        self.convs = torch.nn.ModuleList(torch.nn.Conv2d(i, o, k, s, k // 2, bias=False) for i, o, k, s in convs)
        self.bns = torch.nn.ModuleList(torch.nn.BatchNorm2d(o) for _, o, _, _ in convs[:-1])
        self.down = None
        if stride != 1 or in_ch != out_ch:
            layers = [torch.nn.Conv2d(in_ch, out_ch, 1, stride, bias=False)]
            if shortcut_norm:
                layers.append(torch.nn.BatchNorm2d(out_ch))
            self.down = torch.nn.Sequential(*layers)
        self.out_ch = out_ch

    def forward(self, x):
        pre = F.relu(self.bn1(x))
        shortcut = self.down(pre) if self.down is not None else x
        out = self.convs[0](pre)
        for bn, conv in zip(self.bns, self.convs[1:]):
            out = conv(F.relu(bn(out)))
        return out + shortcut


class TorchPreActResNet(torch.nn.Module):
    """The same layout as our ResNetV2 presets: stem "cifar" (3x3 conv), "mindcv" (7x7/2 conv-BN-ReLU, 3x3/2 max
    pool) or "paper" (7x7/2 conv, 3x3/2 max pool); pre-activation blocks; optional final BN-ReLU."""

    def __init__(self, stem, block, layers, widths, stem_channels, shortcut_norm, final_norm, in_ch, classes):
        super().__init__()
        if stem == "cifar":
            self.stem = torch.nn.Conv2d(in_ch, stem_channels, 3, 1, 1, bias=False)
        else:
            parts = [torch.nn.Conv2d(in_ch, stem_channels, 7, 2, 3, bias=False)]
            if stem == "mindcv":
                parts += [torch.nn.BatchNorm2d(stem_channels), torch.nn.ReLU()]
            parts.append(torch.nn.MaxPool2d(3, 2, 1))
            self.stem = torch.nn.Sequential(*parts)
        blocks, ch = [], stem_channels
        for index, (depth, width) in enumerate(zip(layers, widths)):
            for i in range(depth):
                blocks.append(TorchPreActBlock(block, ch, width, 2 if index and not i else 1, shortcut_norm))
                ch = blocks[-1].out_ch
        self.blocks = torch.nn.Sequential(*blocks)
        self.norm = torch.nn.BatchNorm2d(ch) if final_norm else None
        self.fc = torch.nn.Linear(ch, classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        if self.norm is not None:
            x = F.relu(self.norm(x))
        return self.fc(x.mean((2, 3)))


def torch_twin(net, in_channels, num_classes):
    """The PyTorch network of `net`'s layout, read from our network's own structure; parameter counts must agree."""
    stages = [getattr(net, name) for name in net.stage_names]
    first = [stage[0] for stage in stages]
    block = "bottleneck" if first[0].is_bottleneck else "basic"
    widths = [unit.conv1.out_channels for unit in first]
    layers = [sum(1 for cell in stage.cells() if isinstance(cell, PreActBlock)) for stage in stages]
    stem = "cifar" if net.max_pool is None else ("mindcv" if net.stem_norm else "paper")
    shortcut_norm = any(len(unit.down_sample) > 1 for unit in first if unit.down_sample is not None)
    twin = TorchPreActResNet(stem, block, layers, widths, net.conv1.out_channels, shortcut_norm,
                             net.norm is not None, in_channels, num_classes)
    ours = sum(int(p.size) for p in net.trainable_params())
    theirs = sum(p.numel() for p in twin.parameters())
    if ours != theirs:
        raise RuntimeError(f"the PyTorch twin has {theirs:,} parameters, ours {ours:,}: layouts differ")
    return twin


def torch_step(twin, cfg, images, labels):
    optimizer = torch.optim.SGD(twin.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                                nesterov=bool(cfg.use_nesterov))
    x, y = torch.from_numpy(images.asnumpy()), torch.from_numpy(labels.asnumpy().astype(np.int64))
    twin.train()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(twin(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()
    return step
