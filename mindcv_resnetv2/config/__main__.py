"""`python -m mindcv_resnetv2.config --markdown` prints the keys reference;
`python -m mindcv_resnetv2.config -c RECIPE.yaml [--key value ...]` checks a recipe and prints it resolved;
`python -m mindcv_resnetv2.config --mindcv-compatible RECIPE.yaml` says whether MindCV 0.3.0's own train.py and
validate.py can read the recipe: exit 0 if so, 1 listing the keys and values that are ours, 2 for a bad recipe."""
import sys

from ..mindcv.recipes import MINDCV_VERSION, mindcv_incompatibilities
from .parser import format_config, load_recipe, parse_args
from .reference import keys_markdown
from .schema import ConfigError


def check_mindcv_compatible(path):
    """Print the verdict on recipe `path`; returns the exit status (0 compatible, 1 not, 2 unreadable recipe)."""
    try:
        problems = mindcv_incompatibilities(load_recipe(path))
    except ConfigError as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    if not problems:
        sys.stdout.write(f"{path}: compatible with MindCV {MINDCV_VERSION}'s train.py and validate.py "
                         "(run them with python -m mindcv_resnetv2.mindcv to use this zoo's models)\n")
        return 0
    lines = [f"{path}: not compatible with MindCV {MINDCV_VERSION}'s train.py and validate.py (it would "
             "reject or misread the entries below); run it with this project's train.py and validate.py:"]
    lines += [f"  {name}: {reason}" for name, reason in problems]
    sys.stdout.write("\n".join(lines) + "\n")
    return 1


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv == ["--markdown"]:
        sys.stdout.write(keys_markdown())
        return 0
    if argv[:1] == ["--mindcv-compatible"]:
        if len(argv) != 2:
            sys.stderr.write("usage: python -m mindcv_resnetv2.config --mindcv-compatible RECIPE.yaml\n")
            return 2
        return check_mindcv_compatible(argv[1])
    sys.stdout.write(format_config(parse_args(argv, exit_on_error=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
