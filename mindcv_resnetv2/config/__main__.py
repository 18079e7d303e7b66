"""`python -m mindcv_resnetv2.config --markdown` prints the keys reference;
`python -m mindcv_resnetv2.config -c RECIPE.yaml [--key value ...]` checks a recipe and prints it resolved."""
import sys

from .parser import format_config, parse_args
from .reference import keys_markdown


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv == ["--markdown"]:
        sys.stdout.write(keys_markdown())
        return
    sys.stdout.write(format_config(parse_args(argv, exit_on_error=True)))


if __name__ == "__main__":
    main()
