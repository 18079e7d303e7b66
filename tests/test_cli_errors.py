"""Which errors the entry points shorten to one line: only the user's mistakes (errors.UserError); a bug or a
framework failure keeps its traceback, and --debug / MINDCV_RESNETV2_DEBUG=1 shows the traceback of the
one-liners too."""
import subprocess
import sys

import pytest

from engine_fixtures import REPO
from mindcv_resnetv2.engine import cli

# distribute without msrun fails in the run's first step (setup_runtime), before MindSpore is initialised.
LAUNCH_MISTAKE = ["--distribute", "True", "--dataset", "synthetic"]


@pytest.fixture(autouse=True)
def no_debug_variable(monkeypatch):
    monkeypatch.delenv(cli.DEBUG_VARIABLE, raising=False)


def _exit_status(capsys, main, argv):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    return stopped.value.code, capsys.readouterr().err


def test_a_user_error_is_one_line(capsys, tmp_path):
    status, err = _exit_status(capsys, cli.main_train, LAUNCH_MISTAKE + ["--ckpt_save_dir", str(tmp_path / "run")])
    assert status == 1
    assert err.startswith("train.py: error: distribute is True") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_debug_flag_shows_the_traceback_of_a_user_error(capsys, tmp_path):
    status, err = _exit_status(capsys, cli.main_train,
                               LAUNCH_MISTAKE + ["--ckpt_save_dir", str(tmp_path / "run"), "--debug"])
    assert status == 1
    assert "Traceback" in err and "LaunchError" in err and "runtime.py" in err
    assert err.strip().splitlines()[-1].startswith("train.py: error: distribute is True")


def test_debug_variable_shows_the_traceback_of_a_recipe_error(capsys, monkeypatch):
    monkeypatch.setenv(cli.DEBUG_VARIABLE, "1")
    status, err = _exit_status(capsys, cli.main_train, ["--learning_rate", "0.1"])
    assert status == 2
    assert "Traceback" in err and "ConfigError" in err
    assert "unknown key 'learning_rate'" in err.strip().splitlines()[-1]


def test_a_bug_deep_inside_keeps_its_traceback():
    """A ValueError that is not a user error (here a simulated bug inside validate()) is not shortened."""
    code = ("import importlib\n"
            "v = importlib.import_module('mindcv_resnetv2.engine.validate')\n"
            "def bug(cfg):\n"
            "    raise ValueError('simulated bug')\n"
            "v.setup_runtime = bug\n"
            "from mindcv_resnetv2.engine.cli import main_validate\n"
            "main_validate(['--dataset', 'synthetic'])\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "validate.py" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "ValueError: simulated bug"
