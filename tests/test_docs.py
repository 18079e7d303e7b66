"""README's generated parts match the code that produces them, so the documentation cannot drift."""
import importlib.util
import os

import pytest
from test_timm_family import BIG

from mindcv_resnetv2.models import list_models
from mindcv_resnetv2.models.summary import model_table

_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "update_readme.py")
_spec = importlib.util.spec_from_file_location("update_readme", _SCRIPT)
docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docs)


def _readme():
    with open(docs.README) as handle:
        return handle.read()


def test_configuration_keys_in_readme_are_current():
    text = _readme()
    assert docs.render(text, ["keys"]) == text, "run: python scripts/update_readme.py"


def _table_rows(text, block):
    start, end = f"<!-- generated: {block} -->", f"<!-- end generated: {block} -->"
    inside = text[text.index(start) + len(start):text.index(end)]
    return [line for line in inside.splitlines() if line.startswith("| ")]


@pytest.mark.slow
def test_model_table_in_readme_is_current():
    """Every row as `python -m mindcv_resnetv2.models` prints it. The four widest BiT nets are compared without
    their GFLOPs (40 s of forward passes here); the same counting gives the GFLOPs of their narrower siblings."""
    rows = _table_rows(_readme(), "models")
    assert [row.split(" | ")[0][2:] for row in rows] == ["model"] + list_models(), \
        "run: python scripts/update_readme.py"
    for row, name in zip(rows[1:], list_models()):
        expected = model_table(name, flops=name not in BIG).splitlines()[-1]
        if name in BIG:
            row = row[:row.rstrip(" |").rindex("| ")] + "| - |"
        assert row == expected, "run: python scripts/update_readme.py"


def test_a_missing_block_is_an_error():
    with pytest.raises(ValueError, match="generated: keys"):
        docs.render("no markers here", ["keys"])
