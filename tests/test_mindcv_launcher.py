"""`python -m mindcv_resnetv2.mindcv SCRIPT ARGS`: MindCV-style scripts run with our models registered (MindCV 0.3.0).

The end-to-end test runs tests/mindcv_scripts/train.py and validate.py, written the way MindCV's own train.py and
validate.py use MindCV's public API, through the launcher: one epoch on a tiny ImageFolder, then MindCV's
validation path on the checkpoint that MindCV's StateMonitor saved.
"""
import glob
import json
import os
import subprocess
import sys

import pytest
from data_fixtures import make_image_folder
from reference_nets import require_oracles

from mindcv_resnetv2.mindcv.__main__ import main

TESTS = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(TESTS, "mindcv_scripts")
PROBE = """
import json, sys
import helper  # beside this script: importable only with the script's folder on sys.path
from mindcv.models import is_model
print(json.dumps(dict(argv=sys.argv, path0=sys.path[0], name=__name__, registered=is_model("preact_resnet50"))))
sys.exit(int(sys.argv[-1]))
"""


def _launch(args, cwd):
    paths = [os.path.dirname(TESTS), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p))  # this checkout's package
    return subprocess.run([sys.executable, "-m", "mindcv_resnetv2.mindcv", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


def test_script_gets_its_arguments_folder_and_registry_and_its_exit_status_is_kept(tmp_path):
    require_oracles("mindcv")
    folder = tmp_path / "mindcv checkout"
    folder.mkdir()
    (folder / "helper.py").write_text("")
    (folder / "probe.py").write_text(PROBE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    args = ["../mindcv checkout/probe.py", "--model", "preact_resnet50", "--name", "a b", "--flag=", "3"]
    done = _launch(args, cwd=elsewhere)
    assert done.returncode == 3, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == dict(argv=args, path0=str(folder), name="__main__", registered=True)


def test_script_exceptions_and_exits_pass_through(tmp_path, monkeypatch):
    require_oracles("mindcv")
    script = tmp_path / "fails.py"
    script.write_text("raise RuntimeError('from the script')\n")
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(RuntimeError, match="from the script"):
        main([str(script)])
    script.write_text("import sys\nsys.exit(5)\n")
    with pytest.raises(SystemExit) as code:
        main([str(script), "--x"])
    assert code.value.code == 5 and sys.argv == [str(script), "--x"]


def test_launcher_errors_are_clear(tmp_path, monkeypatch, capsys):
    assert main([]) == 2 and "usage: python -m mindcv_resnetv2.mindcv SCRIPT" in capsys.readouterr().err
    assert main(["--help"]) == 0 and "ARGS go to the script unchanged" in capsys.readouterr().out
    assert main([str(tmp_path / "train.py"), "--model", "x"]) == 2
    assert f"script '{tmp_path / 'train.py'}' does not exist" in capsys.readouterr().err
    script = tmp_path / "train.py"
    script.write_text("raise AssertionError('must not run without MindCV')\n")
    monkeypatch.setitem(sys.modules, "mindcv", None)  # what an environment without MindCV looks like to import
    monkeypatch.setitem(sys.modules, "mindcv.models", None)
    assert main([str(script)]) == 2
    assert "MindCV cannot be imported" in capsys.readouterr().err


@pytest.mark.slow
def test_mindcv_style_train_then_validate_through_the_launcher(tmp_path):
    require_oracles("mindcv")
    data = str(tmp_path / "data")
    make_image_folder(data, "train", per_class=4, size=(40, 40))
    make_image_folder(data, "val", per_class=2, size=(40, 40), seed=1)
    common = ["--mode", "1", "--data_dir", data, "--model", "preact_resnet18", "--image_resize", "32"]
    ckpt_dir = str(tmp_path / "ckpt")
    train = _launch([os.path.join(SCRIPTS, "train.py"), *common, "--ckpt_save_dir", ckpt_dir], cwd=tmp_path)
    assert train.returncode == 0, train.stderr[-3000:]
    assert "network: mindcv_resnetv2.models.resnetv2.ResNetV2" in train.stdout
    (checkpoint,) = glob.glob(os.path.join(ckpt_dir, "preact_resnet18-1_2.ckpt"))  # 8 images, batch 4: 2 steps

    val = _launch([os.path.join(SCRIPTS, "validate.py"), *common, "--ckpt_path", checkpoint], cwd=tmp_path)
    assert val.returncode == 0, val.stderr[-3000:]
    result = json.loads(val.stdout.split("RESULT ", 1)[1])
    assert result["loaded"] == result["parameters"] == 90  # every parameter came from MindCV's checkpoint
    assert 0.0 <= result["Top_1_Accuracy"] <= 1.0 and 0.0 < result["loss"] < 10.0
