"""`python -m mindcv_resnetv2.mindcv SCRIPT [ARGS...]`: register our models with MindCV, then run SCRIPT as Python
would run it directly (sys.argv = [SCRIPT, ARGS...], the script's folder first on sys.path, run as __main__).

The script's own exit status and tracebacks pass through unchanged. The launcher's own errors (no script given, the
script missing, MindCV not importable) exit with status 2, as Python does for a script it cannot open.
"""
import os
import runpy
import sys

from .registry import register_with_mindcv

USAGE = (
    "usage: python -m mindcv_resnetv2.mindcv SCRIPT [ARGS...]\n"
    "Runs a MindCV script (e.g. path/to/mindcv/train.py) with mindcv_resnetv2's models registered in MindCV's\n"
    "registry; ARGS go to the script unchanged. Example:\n"
    "  python -m mindcv_resnetv2.mindcv mindcv/train.py --config configs/resnetv2/resnetv2_50_ascend.yaml "
    "--model preact_resnet50\n"
)


def _fail(message):
    sys.stderr.write(f"mindcv_resnetv2.mindcv: error: {message}\n")
    return 2


def main(argv=None):
    """Run the script named by argv[0] with argv[1:]; returns the launcher's own error status, if any."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        sys.stderr.write(USAGE)
        return 2
    if argv[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0
    script = argv[0]
    if not os.path.isfile(script):
        reason = "is a directory" if os.path.isdir(script) else "does not exist"
        return _fail(f"script '{script}' {reason} (cwd {os.getcwd()}); give the path of a MindCV script, "
                     "e.g. path/to/mindcv/train.py")
    try:
        register_with_mindcv()
    except ImportError as exc:
        return _fail(f"MindCV cannot be imported ({exc.__cause__ or exc}); install it with: pip install mindcv")
    sys.argv = argv
    sys.path[0] = os.path.dirname(os.path.realpath(script))  # replaces the cwd that `python -m` put there
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
