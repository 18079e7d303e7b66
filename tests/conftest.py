"""Shared fixtures: execution-mode switches that restore the previous mode, so tests do not leak context."""
import os
import tempfile

import mindspore as ms
import pytest

# The image-check cache (data.file_check) of this session, in a folder of its own rather than the user's ~/.cache.
os.environ.setdefault("MINDCV_RESNETV2_CACHE", tempfile.mkdtemp(prefix="mindcv_resnetv2_test_cache_"))

from mindcv_resnetv2.engine.runtime import logging_restored  # noqa: E402 (after the cache folder is set)


def _mode_fixture(mode):
    previous = ms.get_context("mode")
    ms.set_context(mode=mode)
    yield mode
    ms.set_context(mode=previous)


@pytest.fixture
def graph_mode():
    yield from _mode_fixture(ms.GRAPH_MODE)


@pytest.fixture
def pynative_mode():
    yield from _mode_fixture(ms.PYNATIVE_MODE)


@pytest.fixture(params=["graph", "pynative"])
def any_mode(request):
    yield from _mode_fixture(ms.GRAPH_MODE if request.param == "graph" else ms.PYNATIVE_MODE)



@pytest.fixture(autouse=True)
def _package_logger_restored():
    """A Trainer run in-process sets our logger up for its run: later tests reading warnings with caplog get it back."""
    with logging_restored():
        yield
