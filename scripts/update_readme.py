"""Regenerate the parts of the documentation that are produced by code, so they cannot drift from it.

    python scripts/update_readme.py            # rewrite README.md, docs/models.md, docs/configuration.md in place
    python scripts/update_readme.py --check    # exit 1 if any of them is out of date

A generated part sits between `<!-- generated: NAME -->` and `<!-- end generated: NAME -->`: README.md has the
short model table (`models_short`), docs/models.md the full one (`models`), docs/configuration.md the keys
reference (`keys`). A development tool of the source checkout, not part of the installed package: it reads and
writes this checkout's documentation, from this checkout's code.
"""
import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
if ROOT not in sys.path:  # the package of this checkout, not whichever copy is installed
    sys.path.insert(0, ROOT)

# One model per family for the README; docs/models.md lists every registered model.
SHORT_MODELS = ("resnetv2_50", "resnetv2_101", "preact_resnet50", "preact_resnet20_cifar", "preact_resnet164_cifar",
                "resnetv2_50x1_bit", "resnetv2_50d", "resnetv2_50d_gn")
_FLOPS_NOTE = "(FLOPs: 1 multiply-add = 2 FLOPs, batch 1)"


def short_table(flops=True):
    """The model table's header and the rows of SHORT_MODELS, in that order."""
    from mindcv_resnetv2.models.summary import model_table

    rows = model_table(SHORT_MODELS[0], flops=flops).splitlines()
    rows += [model_table(name, flops=flops).splitlines()[-1] for name in SHORT_MODELS[1:]]
    return "\n".join(rows)


def _models_short():
    return (f"One model per family, as `python -m mindcv_resnetv2.models` prints it {_FLOPS_NOTE}; every model: "
            "[docs/models.md](docs/models.md#all-models).\n\n" + short_table())


def _models():
    from mindcv_resnetv2.models.summary import model_table

    return f"Produced by `python -m mindcv_resnetv2.models` {_FLOPS_NOTE}.\n\n" + model_table()


def _keys():
    from mindcv_resnetv2.config.reference import keys_markdown

    return "Produced by `python -m mindcv_resnetv2.config --markdown`.\n\n" + keys_markdown().strip()


GENERATORS = {"models_short": _models_short, "models": _models, "keys": _keys}
# The file that holds each generated part.
FILES = {
    "models_short": README,
    "models": os.path.join(ROOT, "docs", "models.md"),
    "keys": os.path.join(ROOT, "docs", "configuration.md"),
}


def block_pattern(name):
    """The generated part `name` of a file: (its start marker, its body, its end marker)."""
    return re.compile(rf"(<!-- generated: {name} -->\n)(.*?)(<!-- end generated: {name} -->)", re.S)


def render(text, names):
    """`text` with the named generated parts replaced by fresh output."""
    for name in names:
        pattern = block_pattern(name)
        if not pattern.search(text):
            raise ValueError(f"no '<!-- generated: {name} -->' ... '<!-- end generated: {name} -->' block")
        body = GENERATORS[name]().rstrip("\n") + "\n"
        text = pattern.sub(lambda m: m.group(1) + body + m.group(3), text)
    return text


def read(name):
    """The current text of the file that holds generated part `name`."""
    with open(FILES[name]) as handle:
        return handle.read()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python scripts/update_readme.py", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the generated parts are current")
    parser.add_argument("--only", nargs="+", choices=sorted(GENERATORS), help="parts to regenerate (default: all)")
    args = parser.parse_args(argv)
    stale = []
    for path in dict.fromkeys(FILES[name] for name in args.only or GENERATORS):
        names = [name for name in args.only or GENERATORS if FILES[name] == path]
        with open(path) as handle:
            current = handle.read()
        fresh = render(current, names)
        if args.check:
            if fresh != current:
                stale.append(os.path.relpath(path, ROOT))
        elif fresh != current:
            with open(path, "w") as handle:
                handle.write(fresh)
    if stale:
        print(f"out of date: {', '.join(stale)}: run python scripts/update_readme.py", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
