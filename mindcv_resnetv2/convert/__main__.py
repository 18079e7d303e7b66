"""Command line for the weight converters: `python -m mindcv_resnetv2.convert timm IN.safetensors OUT.ckpt`."""
import argparse
import logging
import sys

from .timm import convert_timm_checkpoint


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m mindcv_resnetv2.convert",
        description="Convert pretrained weights from other frameworks to mindcv_resnetv2 MindSpore checkpoints.",
    )
    sources = parser.add_subparsers(dest="source", required=True, metavar="SOURCE")
    timm = sources.add_parser(
        "timm",
        help="timm resnetv2 weights (safetensors) -> preact_resnet* checkpoint",
        description="Convert timm's resnetv2_50/101 safetensors weights (no PyTorch needed) to a MindSpore "
        "checkpoint of one of our preact_resnet* models, checked strictly against that model.",
    )
    timm.add_argument("input", help="timm weights, e.g. model.safetensors from the timm/resnetv2_50... repository")
    timm.add_argument("output", help="MindSpore checkpoint to write (.ckpt or .safetensors)")
    timm.add_argument("--model", default="preact_resnet50", help="target model name (default: %(default)s)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        convert_timm_checkpoint(args.input, args.output, model_name=args.model)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
