"""Command line for the weight converters: `python -m mindcv_resnetv2.convert {timm,bit} IN OUT.ckpt`."""
import argparse
import logging
import sys

from ..config.values import Bool
from .bit_npz import convert_bit_npz
from .timm import convert_timm_checkpoint


def _bool(text):
    try:
        return Bool().parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m mindcv_resnetv2.convert",
        description="Convert pretrained weights from other frameworks to mindcv_resnetv2 MindSpore checkpoints.",
    )
    sources = parser.add_subparsers(dest="source", required=True, metavar="SOURCE")
    timm = sources.add_parser(
        "timm",
        help="timm ResNetV2 weights (safetensors or PyTorch state dict) -> checkpoint of the same model",
        description="Convert weights of any model of timm's ResNetV2 family (safetensors, no PyTorch needed; or "
        ".pth/.pt/.bin with PyTorch) to a MindSpore checkpoint of our model of that architecture, checked strictly "
        "against it. The class count is taken from the file. `python -m mindcv_resnetv2.models` lists the names.",
    )
    timm.add_argument("input", help="timm weights, e.g. model.safetensors from the timm/resnetv2_50d_gn.ah_in1k repository")
    timm.add_argument("output", help="MindSpore checkpoint to write (.ckpt or .safetensors)")
    timm.add_argument(
        "--model",
        default="preact_resnet50",
        help="the architecture, by timm's name (resnetv2_50d, resnetv2_50x1_bit.goog_in21k, ...; timm's resnetv2_50 "
        "is our preact_resnet50) or ours (default: %(default)s)",
    )
    bit = sources.add_parser(
        "bit",
        help="Google's BiT .npz (BiT-M-R50x1.npz ...) -> resnetv2_*_bit checkpoint",
        description="Convert one of Google's original Big Transfer ResNet .npz files; the model (depth, width) is "
        "read from the file.",
    )
    bit.add_argument("input", help="BiT weights, e.g. BiT-M-R50x1.npz")
    bit.add_argument("output", help="MindSpore checkpoint to write (.ckpt or .safetensors)")
    bit.add_argument("--model", default=None, help="optional check: the model the file must hold (e.g. resnetv2_50x1_bit)")
    for command in (timm, bit):
        command.add_argument("--overwrite", type=_bool, default=False, metavar="BOOL",
                             help="replace an existing output file (default: refuse; the input is never replaced)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    convert = convert_timm_checkpoint if args.source == "timm" else convert_bit_npz
    try:
        convert(args.input, args.output, model_name=args.model, overwrite=args.overwrite)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
