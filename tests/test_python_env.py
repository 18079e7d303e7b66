"""The install scripts leave the user's Python alone (scripts/python_env.sh) and the quick start leaves git clean.

`bash scripts/quickstart.sh` and `bash scripts/run_tests.sh` install into the interpreter python_env.sh picks:
$PYTHON as given, else the active virtual env, else the project's .venv (created on first use). The folder of
that interpreter leads PATH, so msrun and the tests' subprocesses run it too.
"""
import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV_SCRIPT = os.path.join(REPO, "scripts", "python_env.sh")


def _choose(cwd, **env):
    """(PYTHON, first PATH entry, stdout) after sourcing python_env.sh in `cwd` with `env` (None unsets a name)."""
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "VIRTUAL_ENV")}
    environment.update({k: v for k, v in env.items() if v is not None})
    completed = subprocess.run(["bash", "-c", f'set -eu; source "{ENV_SCRIPT}"; echo "$PYTHON"; echo "${{PATH%%:*}}"'],
                               cwd=cwd, env=environment, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.strip().splitlines()
    return lines[-2], lines[-1], completed.stdout


def test_an_explicit_python_is_used_as_given(tmp_path):
    python, first_on_path, _ = _choose(tmp_path, PYTHON="/opt/some/bin/python3")
    assert python == "/opt/some/bin/python3" and first_on_path == "/opt/some/bin"
    assert not (tmp_path / ".venv").exists()


def test_an_active_virtual_env_is_used(tmp_path):
    python, first_on_path, _ = _choose(tmp_path, VIRTUAL_ENV="/home/u/env")
    assert python == "/home/u/env/bin/python" and first_on_path == "/home/u/env/bin"
    assert not (tmp_path / ".venv").exists()


def test_otherwise_the_project_venv_is_created_once_and_reused(tmp_path):
    python, first_on_path, out = _choose(tmp_path)
    assert python == str(tmp_path / ".venv" / "bin" / "python") and first_on_path == str(tmp_path / ".venv" / "bin")
    assert "creating the project's virtual environment .venv" in out
    assert os.access(python, os.X_OK)
    assert subprocess.run([python, "-c", "import sys; assert sys.prefix != sys.base_prefix"]).returncode == 0
    again, _, out = _choose(tmp_path)
    assert again == python and "creating" not in out


def test_the_quick_start_and_test_outputs_are_ignored_by_git(tmp_path):
    paths = [".venv/bin/python", "ckpt/preact_resnet_fashion_mnist_cpu/recipe.yaml", "msrun_log/worker_0.log",
             "data/digits/train/0/00000.png"]
    completed = subprocess.run(["git", "check-ignore", "--no-index"] + paths, cwd=REPO, capture_output=True,
                               text=True)
    assert sorted(completed.stdout.split()) == sorted(paths)
