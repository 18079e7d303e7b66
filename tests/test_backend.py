"""The one-time warning about MindSpore >= 2.9 on CPU (slow reference convolutions)."""
import logging
import subprocess
import sys

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


def test_runtime_set_up_after_a_kernel_already_ran_on_that_device():
    """A library user who ran a network before calling train/validate: MindSpore refuses set_device then."""
    script = (
        "import mindspore as ms, numpy as np\n"
        "ms.ops.add(ms.Tensor(np.ones(2)), ms.Tensor(np.ones(2)))\n"
        "from mindcv_resnetv2.config import parse_args\n"
        "from mindcv_resnetv2.engine.runtime import setup_runtime\n"
        "print('device', setup_runtime(parse_args(['--device_target', 'CPU'], entry='validate')).device)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "device CPU" in done.stdout
