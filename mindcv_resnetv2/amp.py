"""Mixed precision: MindCV's `auto_mixed_precision(network, amp_level, amp_cast_list)`, safe for every ResNetV2.

The levels mean what they mean in MindCV: O0 leaves the network alone; O1 runs the convolutions and dense layers
in float16 (their outputs cast back to float32); O2 runs the network in float16 except a list of cells kept in
float32 (their outputs cast to float16 for the next layer); O3 runs everything in float16.

Where this differs from MindCV (and from MindSpore's own O2 list, which keeps only BatchNorm): under O1 and O2
every normalisation of the family stays in float32 -- BatchNorm, GroupNorm, LayerNorm, EvoNorm-S0 and FRN with its
TLU -- and so does the weight standardisation of StdConv2d, whose convolution still runs in float16. In float16
the group variance of a BiT layer and StdConv2d's eps (1e-8) underflow, and resnetv2_50x1_bit's logits collapse to
one value for every class. `amp_cast_list` replaces the float16 list of O1, as in MindCV; under O2 it adds cells to
the float32 list, which never loses the normalisations. The loss and the evaluation metrics compute in float32
whatever the network's output dtype (optim.loss, engine.evaluation).

The network is changed in place (MindCV's contract) and also returned (MindSpore's), so both call styles work.
Parameter names do not change: the cast wrappers add no name prefix, so checkpoints load either way.
"""
import logging

from mindspore import dtype as mstype
from mindspore import nn, ops

from .errors import InvalidInputError
from .models.norm_act import EvoNormS0, FilterResponseNormTLU, GroupNormAct
from .models.std_conv import StdConv2d

_logger = logging.getLogger("mindcv_resnetv2")

AMP_LEVELS = ("O0", "O1", "O2", "O3")

# O1: cells that run in float16 (MindCV's white list).
FLOAT16_CELLS = (nn.Dense, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Conv1dTranspose, nn.Conv2dTranspose,
                 nn.Conv3dTranspose)
# O1 and O2: cells that always compute in float32 (BatchNormAct2d is a BatchNorm2d).
FLOAT32_CELLS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm, GroupNormAct,
                 EvoNormS0, FilterResponseNormTLU)


class _CastOutput(nn.Cell):
    """`cell`, with its output cast to `dtype`; no name prefix, so the wrapped cell's parameters keep their names."""

    def __init__(self, cell, dtype):
        super().__init__(auto_prefix=False)
        self.cell = cell
        self.dtype = dtype

    def construct(self, x):
        return ops.cast(self.cell(x), self.dtype)


def _replace_children(network, replace):
    """Depth first: every descendant cell c for which replace(c) returns a cell is swapped for it in its parent."""
    changed = False
    for name, child in list(network.name_cells().items()):
        if child is network or isinstance(child, _CastOutput):
            continue
        new = replace(child)
        if new is None:
            _replace_children(child, replace)
        else:
            network._cells[name] = new  # pylint: disable=protected-access
            changed = True
    if changed and isinstance(network, nn.SequentialCell):
        network.cell_list = list(network.cells())


def _float16_convolution(cell):
    """StdConv2d: standardise the kernel in float32 (the cell's inputs and weight stay float32), convolve in float16."""
    cell.to_float(mstype.float32)
    cell.compute_dtype = mstype.float16
    return cell


def _apply_o1(network, float16_cells):
    def replace(cell):
        if isinstance(cell, StdConv2d) and issubclass(StdConv2d, float16_cells):
            return _CastOutput(_float16_convolution(cell), mstype.float32)
        if isinstance(cell, float16_cells):
            return _CastOutput(cell.to_float(mstype.float16), mstype.float32)
        return None

    _replace_children(network, replace)


def _apply_o2(network, float32_cells):
    network.to_float(mstype.float16)

    def replace(cell):
        if isinstance(cell, float32_cells):
            return _CastOutput(cell.to_float(mstype.float32), mstype.float16)
        if isinstance(cell, StdConv2d):
            return _float16_convolution(cell)  # its output is already float16
        return None

    _replace_children(network, replace)


def parse_cast_list(amp_cast_list):
    """MindCV's amp_cast_list: a string such as "[nn.Conv2d, nn.Dense]" (MindCV eval()s it; here each name is
    looked up in mindspore.nn or among this package's cells, nothing is evaluated), or a list/tuple of Cell
    classes or such names. Returns a tuple of Cell classes, or None for None."""
    if amp_cast_list is None:
        return None
    if isinstance(amp_cast_list, str):
        names = [name.strip() for name in amp_cast_list.strip().strip("[]()").split(",") if name.strip()]
    else:
        names = list(amp_cast_list)
    classes = []
    own = {cls.__name__: cls for cls in (StdConv2d, GroupNormAct, EvoNormS0, FilterResponseNormTLU)}
    for name in names:
        if isinstance(name, type) and issubclass(name, nn.Cell):
            classes.append(name)
            continue
        short = str(name)
        for prefix in ("mindspore.nn.", "mindspore.", "nn."):
            if short.startswith(prefix):
                short = short[len(prefix):]
                break
        cls = own.get(short) or getattr(nn, short, None)
        if not (isinstance(cls, type) and issubclass(cls, nn.Cell)):
            raise InvalidInputError(
                f"amp_cast_list: {name!r} is not a cell class of mindspore.nn or of this package; give names such "
                f"as \"[nn.Conv2d, nn.Dense]\" (MindCV's form) or StdConv2d, GroupNormAct, EvoNormS0, "
                f"FilterResponseNormTLU"
            )
        classes.append(cls)
    return tuple(classes)


def auto_mixed_precision(network, amp_level="O0", amp_cast_list=None):
    """Apply mixed-precision level `amp_level` to `network` in place and return it (see the module doc).

    amp_cast_list: O1, the cells to run in float16 (default: convolutions and dense layers); O2, cells to keep
    in float32 besides the normalisations. MindCV's string form "[nn.Conv2d, nn.Dense]" is accepted.
    """
    if amp_level not in AMP_LEVELS:
        raise InvalidInputError(f"amp_level must be one of {', '.join(AMP_LEVELS)}, got {amp_level!r}")
    cast_list = parse_cast_list(amp_cast_list)
    if cast_list is not None and amp_level in ("O0", "O3"):
        _logger.warning("amp_cast_list is read by amp_level O1 and O2 only; amp_level %s ignores it.", amp_level)
    if amp_level == "O1":
        _apply_o1(network, cast_list if cast_list is not None else FLOAT16_CELLS)
    elif amp_level == "O2":
        _apply_o2(network, FLOAT32_CELLS + (cast_list or ()))
    elif amp_level == "O3":
        _logger.warning("amp_level O3 runs every layer in float16, normalisations included; networks with GroupNorm, "
                        "EvoNorm, FRN or weight standardisation (BiT) lose accuracy or collapse. O2 keeps those in "
                        "float32.")
        network.to_float(mstype.float16)
    return network
