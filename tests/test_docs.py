"""README's generated parts match the code that produces them, so the documentation cannot drift."""
import pytest

from mindcv_resnetv2 import docs


def _readme():
    with open(docs.README) as handle:
        return handle.read()


def test_configuration_keys_in_readme_are_current():
    text = _readme()
    assert docs.render(text, ["keys"]) == text, "run: python -m mindcv_resnetv2.docs"


@pytest.mark.slow
def test_model_table_in_readme_is_current():
    text = _readme()
    assert docs.render(text, ["models"]) == text, "run: python -m mindcv_resnetv2.docs"


def test_a_missing_block_is_an_error():
    with pytest.raises(ValueError, match="generated: keys"):
        docs.render("no markers here", ["keys"])
