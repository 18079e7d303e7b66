"""infer.py and export.py: the tool's own options, then the recipe keys (-c recipe.yaml --key value ...).

The tool options are parsed here and the remaining arguments go to the recipe parser unchanged, so every recipe
key works as in train.py/validate.py. --help shows the tool options first, then the recipe keys by topic.
"""
import argparse
import sys

from ..config import build_argument_parser
from ..engine.cli import run_entry
from .export import EXPORT_FORMATS, export_model
from .infer import run_infer


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def add_infer_options(group):
    group.add_argument("--input", required=True, metavar="IMAGE_OR_FOLDER",
                       help="An image file, or a folder whose images (searched recursively) are all predicted.")
    group.add_argument("--top_k", type=_positive_int, default=5, metavar="K",
                       help="Classes shown per image, most probable first (default: 5).")
    group.add_argument("--class_names", default=None, metavar="FILE",
                       help="Text file with one class name per line, line i = label i (default: class_names.txt "
                            "beside the checkpoint, else the recipe's dataset, else the class indices).")
    group.add_argument("--json", default=None, metavar="FILE", help="Also write the predictions to this JSON file.")


def add_export_options(group):
    group.add_argument("--file_format", type=str.upper, choices=list(EXPORT_FORMATS), default="MINDIR",
                       help="MINDIR (any device), ONNX (fixed batch), AIR (Ascend only) (default: MINDIR).")
    group.add_argument("--output", default="", metavar="PATH",
                       help="Exported file; the format's extension is added when missing "
                            "(default: beside the checkpoint, with its name).")
    group.add_argument("--batch", type=_positive_int, default=None, metavar="N",
                       help="Fixed batch size of the exported input (default: dynamic for MINDIR, 1 for ONNX/AIR).")


_TOOLS = {
    "infer": ("infer.py options", add_infer_options,
              "infer.py -c RECIPE.yaml --ckpt_path CKPT --input IMAGE_OR_FOLDER [--top_k K] [--class_names FILE] "
              "[--json FILE] [--key VALUE ...]"),
    "export": ("export.py options", add_export_options,
               "export.py -c RECIPE.yaml --ckpt_path CKPT [--file_format {MINDIR,ONNX,AIR}] [--output PATH] "
               "[--batch N] [--key VALUE ...]"),
}


def help_parser(entry):
    """The recipe parser of `entry` with the tool's options as its first group: what --help prints."""
    title, add_options, usage = _TOOLS[entry]
    parser = build_argument_parser(entry)
    parser.usage = usage
    add_options(parser.add_argument_group(title))
    groups = parser._action_groups  # argparse lists groups in creation order; show the tool's first
    groups.insert(2, groups.pop())
    return parser


def split_arguments(entry, argv):
    """(tool options, remaining recipe arguments); --help prints the full help and exits."""
    if any(arg in ("-h", "--help") for arg in argv):
        help_parser(entry).print_help()
        sys.exit(0)
    _, add_options, usage = _TOOLS[entry]
    tool = argparse.ArgumentParser(prog=f"{entry}.py", usage=usage, add_help=False, allow_abbrev=False)
    add_options(tool)
    return tool.parse_known_args(argv)


def main_infer(argv=None):
    """python infer.py -c recipe.yaml --ckpt_path model.ckpt --input IMAGE_OR_FOLDER [--top_k 5]"""
    options, rest = split_arguments("infer", sys.argv[1:] if argv is None else list(argv))
    return run_entry("infer", lambda cfg: run_infer(cfg, options.input, options.top_k, options.class_names, options.json),
                rest)


def main_export(argv=None):
    """python export.py -c recipe.yaml --ckpt_path model.ckpt [--file_format MINDIR|ONNX|AIR] [--output path]"""
    options, rest = split_arguments("export", sys.argv[1:] if argv is None else list(argv))

    def export_and_report(cfg):
        result = export_model(cfg, options.file_format, options.output, options.batch)
        print(result.summary())
        return result

    return run_entry("export", export_and_report, rest)

