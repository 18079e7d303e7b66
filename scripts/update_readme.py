"""Regenerate the parts of README.md that are produced by code, so they cannot drift from it.

    python scripts/update_readme.py            # rewrite README.md in place
    python scripts/update_readme.py --check    # exit 1 if README.md is out of date

A generated part sits between `<!-- generated: NAME -->` and `<!-- end generated: NAME -->`. A development
tool of the source checkout, not part of the installed package: it reads and writes this checkout's README,
from this checkout's code.
"""
import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
if ROOT not in sys.path:  # the package of this checkout, not whichever copy is installed
    sys.path.insert(0, ROOT)


def _models():
    from mindcv_resnetv2.models.summary import model_table

    return "Produced by `python -m mindcv_resnetv2.models` (FLOPs: 1 multiply-add = 2 FLOPs, batch 1).\n\n" + \
        model_table()


def _keys():
    from mindcv_resnetv2.config.reference import keys_markdown

    return "Produced by `python -m mindcv_resnetv2.config --markdown`.\n\n" + keys_markdown().strip()


GENERATORS = {"models": _models, "keys": _keys}


def _pattern(name):
    return re.compile(rf"(<!-- generated: {name} -->\n)(.*?)(<!-- end generated: {name} -->)", re.S)


def render(text, names=None):
    """README text with the named generated parts (default: all) replaced by fresh output."""
    for name in names or GENERATORS:
        pattern = _pattern(name)
        if not pattern.search(text):
            raise ValueError(f"README has no '<!-- generated: {name} -->' ... '<!-- end generated: {name} -->' block")
        body = GENERATORS[name]().rstrip("\n") + "\n"
        text = pattern.sub(lambda m: m.group(1) + body + m.group(3), text)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python scripts/update_readme.py", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether README.md is up to date")
    parser.add_argument("--only", nargs="+", choices=sorted(GENERATORS), help="parts to regenerate (default: all)")
    args = parser.parse_args(argv)
    with open(README) as handle:
        current = handle.read()
    fresh = render(current, args.only)
    if args.check:
        if fresh != current:
            print("README.md is out of date: run python scripts/update_readme.py", file=sys.stderr)
            sys.exit(1)
        return
    with open(README, "w") as handle:
        handle.write(fresh)


if __name__ == "__main__":
    main()
