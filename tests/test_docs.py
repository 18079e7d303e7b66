"""README's generated parts match the code that produces them, so the documentation cannot drift."""
import importlib.util
import os

import pytest

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


@pytest.mark.slow
def test_model_table_in_readme_is_current():
    text = _readme()
    assert docs.render(text, ["models"]) == text, "run: python scripts/update_readme.py"


def test_a_missing_block_is_an_error():
    with pytest.raises(ValueError, match="generated: keys"):
        docs.render("no markers here", ["keys"])
