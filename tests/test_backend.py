"""The one-time warning about MindSpore >= 2.9 on CPU (slow reference convolutions)."""
import logging

from mindcv_resnetv2.utils import backend


def _warnings(caplog):
    return [r for r in caplog.records if r.levelno == logging.WARNING and "oneDNN" in r.getMessage()]


def test_slow_release_on_cpu_warns_once_with_the_fix(monkeypatch, caplog):
    monkeypatch.setattr(backend, "_warned", set())
    monkeypatch.setattr(backend.ms, "__version__", "2.10.0")
    monkeypatch.setattr(backend, "device_target", lambda: "CPU")
    caplog.set_level(logging.WARNING, logger="mindcv_resnetv2")
    backend.check_cpu_convolution_speed()
    backend.check_cpu_convolution_speed()
    found = _warnings(caplog)
    assert len(found) == 1
    assert "mindspore==2.8.0" in found[0].getMessage() and "2.10.0" in found[0].getMessage()


def test_fast_release_or_other_device_is_silent(monkeypatch, caplog):
    caplog.set_level(logging.WARNING, logger="mindcv_resnetv2")
    for version, device in (("2.8.0", "CPU"), ("2.10.0", "Ascend"), ("2.7.2", "CPU")):
        monkeypatch.setattr(backend, "_warned", set())
        monkeypatch.setattr(backend.ms, "__version__", version)
        monkeypatch.setattr(backend, "device_target", lambda d=device: d)
        backend.check_cpu_convolution_speed()
    assert _warnings(caplog) == []


def test_version_parsing_ignores_suffixes(monkeypatch):
    monkeypatch.setattr(backend.ms, "__version__", "2.9.0rc1")
    assert backend.mindspore_version() == (2, 9, 0)
