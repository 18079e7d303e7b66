"""``python -m mindcv_resnetv2.bench``: benchmark options here, every recipe key passed on to the recipe parser."""
import argparse
import logging

import mindspore as ms

from ..config import parse_args
from ..utils.files import WriteError, check_writable_target
from .report import format_table, write_json
from .runner import BenchOptions, run_benchmark

# Without a recipe (-c), the benchmark trains like the ResNetV2 recipes: SGD momentum on 1000 classes.
DEFAULT_RECIPE_ARGS = ["--opt", "momentum", "--lr", "0.1", "--momentum", "0.9", "--weight_decay", "1e-4",
                       "--num_classes", "1000", "--dataset", "synthetic", "--warmup_epochs", "0",
                       "--decay_epochs", "90"]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m mindcv_resnetv2.bench",
        description="Training and evaluation speed of the training step train.py builds, with the achieved "
                    "GFLOP/s against this machine's float32 matmul peak.",
        epilog="Every recipe key is accepted as --key value (e.g. --model, --batch_size, --mode, --jit_level, "
               "--amp_level) or through -c RECIPE.yaml; without -c the recipe is SGD momentum 0.9, lr 0.1, "
               "weight decay 1e-4, 1000 classes. See `python -m mindcv_resnetv2.config --markdown`.",
    )
    parser.add_argument("--image_size", type=int, help="square input side (sets the recipe's image_resize)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps; figures are medians (default: 5)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps, the first compiles (default: 2)")
    parser.add_argument("--baseline", action="store_true",
                        help="also time a plain nn.TrainOneStepCell + nn.Momentum step over the same network")
    parser.add_argument("--pipeline", action="store_true",
                        help="also time the step fed by the data pipeline from a generated JPEG ImageFolder")
    parser.add_argument("--profile", action="store_true",
                        help="also profile our step per MindSpore op type (CPU): where the time goes, and the "
                             "GFLOP/s of the convolution and matmul kernels alone")
    parser.add_argument("--train_loop", type=int, default=0, metavar="EPOCHS",
                        help="also time EPOCHS epochs of train.py's loop (the Trainer on the recipe's data: the "
                             "figure train.py logs as img/s), each followed by as many fixed-batch steps of the "
                             "same step; the first, compiling epoch is not timed (default: 0 = off)")
    parser.add_argument("--pipeline_workers", type=int, default=2, help="pipeline workers (default: 2)")
    parser.add_argument("--matmul_size", type=int, default=2048, help="side of the peak matmul (default: 2048)")
    parser.add_argument("--threads", type=int,
                        help="MindSpore's runtime_num_threads (default: MindSpore's own choice)")
    parser.add_argument("--inter_op_parallel_num", type=int,
                        help="ms.set_context(inter_op_parallel_num=N): how many ops may run at once (default: "
                             "MindSpore's 0 = its own choice)")
    parser.add_argument("--dispatch_threads", type=int,
                        help="ms.runtime.dispatch_threads_num(N), the runtime's own threads (MindSpore 2.8's "
                             "replacement API for inter_op_parallel_num; default: MindSpore's 5)")
    parser.add_argument("--json", metavar="PATH", help="also write every figure to this JSON file")
    return parser


def parse(argv=None):
    """(recipe cfg, BenchOptions, bench arguments) from the command line."""
    parser = build_parser()
    args, recipe_args = parser.parse_known_args(argv)
    if not any(arg in ("-c", "--config") or arg.startswith("--config=") for arg in recipe_args):
        recipe_args = DEFAULT_RECIPE_ARGS + recipe_args
    if args.image_size is not None:
        recipe_args = recipe_args + ["--image_resize", str(args.image_size)]
    cfg = parse_args(recipe_args, entry="bench", exit_on_error=True)
    try:
        options = BenchOptions(steps=args.steps, warmup=args.warmup, baseline=args.baseline, pipeline=args.pipeline,
                               profile=args.profile, pipeline_workers=args.pipeline_workers,
                               matmul_size=args.matmul_size, train_loop=args.train_loop)
    except ValueError as err:
        parser.error(str(err))
    for name in ("threads", "inter_op_parallel_num", "dispatch_threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.json:
        try:
            check_writable_target(args.json)  # before the benchmark, not after it
        except WriteError as err:
            parser.exit(2, f"{parser.prog}: error: {err}\n")
    return cfg, options, args


def main(argv=None):
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    cfg, options, args = parse(argv)
    if args.threads:
        ms.set_context(runtime_num_threads=args.threads)
    if args.inter_op_parallel_num:
        ms.set_context(inter_op_parallel_num=args.inter_op_parallel_num)
    if args.dispatch_threads:
        ms.runtime.dispatch_threads_num(args.dispatch_threads)
    result = run_benchmark(cfg, options)
    print(format_table(result))
    if args.json:
        write_json(result, args.json)
    return result
