"""Shared fixtures: execution-mode switches that restore the previous mode, so tests do not leak context."""
import mindspore as ms
import pytest


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
