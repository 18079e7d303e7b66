"""Launching msrun from tests, and the worker-side programs the distributed tests launch.

Launcher side (imported by tests): `run_msrun` picks a free port, runs msrun with a hard timeout and, whatever
happens, kills every process it started (msrun puts each worker in its own session, so they are found by a tag in
their environment, not by process group).

Worker side (`python tests/msrun_utils.py <command> ...`, run by msrun or plainly):
- `train-probe OUT_DIR TRAIN_ARGS...`: train.py's Trainer, recording which samples each loader of this rank reads,
  the graphs it compiles and, at the end, this rank's weights (rank 0 alone writes checkpoints, so the other ranks'
  weights are not on disk).
- `dp-step OUT_DIR RECIPE PART...`: two training steps of a BN-free toy network through the engine's build_training
  on a part of a fixed global batch: rank (under msrun: the rank's half), all, 0 or 1 (a half).
"""
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import numpy as np

from instrumented_train import count_compilations

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THIS_FILE = os.path.abspath(__file__)
_TAG_VARIABLE = "MINDCV_RESNETV2_TEST_PROCESS_TAG"
# Launcher variables a test process may have inherited; a child must start clean.
_LAUNCH_ENVIRONMENT = ("MS_ROLE", "MS_WORKER_NUM", "MS_SCHED_HOST", "MS_SCHED_PORT", "MS_NODE_ID", "RANK_ID",
                       "RANK_SIZE", "DEVICE_ID")


def free_port():
    """A TCP port nobody listens on right now (msrun's scheduler binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_environment(tag):
    env = {k: v for k, v in os.environ.items() if k not in _LAUNCH_ENVIRONMENT}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO, env.get("PYTHONPATH")]))
    # msrun starts workers as `python script.py`: make that `python` this interpreter
    env["PATH"] = os.pathsep.join(filter(None, [os.path.dirname(sys.executable), env.get("PATH")]))
    env[_TAG_VARIABLE] = tag
    env["GLOG_v"] = "3"  # MindSpore's C++ log: errors only, so the worker logs show our output
    return env


def _tagged_processes(tag):
    marker = f"{_TAG_VARIABLE}={tag}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if marker in handle.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:  # exited meanwhile, or not ours
            continue
    return found


def kill_tagged(tag):
    """SIGKILL every process carrying `tag` in its environment (only processes this test started carry it)."""
    for _ in range(3):
        pids = _tagged_processes(tag)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)


@dataclasses.dataclass
class ProcessResult:
    returncode: int
    timed_out: bool
    output: str
    log_dir: str = ""
    left_running: int = 0  # processes this run started still alive when it ended (before the clean-up kill)

    def log(self, name):
        """Text of `name` (e.g. worker_1.log) in msrun's log directory, '' when missing."""
        path = os.path.join(self.log_dir, name)
        if not os.path.isfile(path):
            return ""
        with open(path, errors="replace") as handle:
            return handle.read()

    def report(self):
        """Everything needed to understand a failure: exit status, launcher output, the end of each worker log."""
        parts = [f"exit status {self.returncode}{' (timed out)' if self.timed_out else ''}",
                 "--- output ---", self.output[-3000:]]
        if self.log_dir and os.path.isdir(self.log_dir):
            for name in sorted(os.listdir(self.log_dir)):
                parts += [f"--- {name} ---", self.log(name)[-3000:]]
        return "\n".join(parts)


def run_processes(commands, timeout, cwd=REPO, during=None):
    """Run `commands` [(cmd, output_file, env_extra)] at once, each in a new session, with one timeout for all.

    `during(processes, tag)`, if given, runs while they do (e.g. to kill one of their children). Whatever happens,
    everything they started is killed at the end. Returns one ProcessResult per command.
    """
    tag = uuid.uuid4().hex
    timed_out, processes, outputs = False, [], []
    deadline = time.monotonic() + timeout
    try:
        for cmd, output_file, env_extra in commands:
            env = clean_environment(tag)
            env.update(env_extra or {})
            outputs.append(output_file or os.path.join("/tmp", f"mindcv_resnetv2_test_{uuid.uuid4().hex}.out"))
            with open(outputs[-1], "w") as out:
                processes.append(subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                                  start_new_session=True))
        if during:
            during(processes, tag)
        for proc in processes:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        left_running = len(_tagged_processes(tag))
        kill_tagged(tag)
        for proc in processes:
            proc.wait()
    results = []
    for proc, output_file in zip(processes, outputs):
        with open(output_file, errors="replace") as handle:
            results.append(ProcessResult(proc.returncode, timed_out, handle.read(), left_running=left_running))
    return results


def run_process(cmd, timeout, cwd=REPO, output_file=None, env_extra=None, during=None):
    """Run `cmd` in a new session with a timeout; kill it and everything it started, even on failure."""
    return run_processes([(cmd, output_file, env_extra)], timeout, cwd=cwd, during=during)[0]


def run_msrun(script_args, log_dir, workers=2, timeout=240, env_extra=None):
    """`msrun --worker_num W --local_worker_num W` on `python <script_args>`, from the repository root.

    The workers run this interpreter: msrun starts `python <script>`, and this interpreter's folder leads PATH.
    """
    os.makedirs(log_dir, exist_ok=True)
    cmd = [sys.executable, "-m", "mindspore.parallel.cluster.run", "--worker_num", str(workers),
           "--local_worker_num", str(workers), "--master_port", str(free_port()), "--log_dir", log_dir,
           "--join", "True", "--cluster_time_out", "60", *map(str, script_args)]
    result = run_process(cmd, timeout, output_file=os.path.join(log_dir, "msrun.out"), env_extra=env_extra)
    result.log_dir = log_dir
    return result


def _launch_environment(workers, log_dir, port):
    """What scripts/run_*.sh read: WORKERS workers on `port`, core binding off (CI machines vary)."""
    return {"WORKERS": str(workers), "MASTER_PORT": str(port), "LOG_DIR": str(log_dir), "BIND_CORE": "False"}


def _launch_command(script, script_args):
    return ["bash", os.path.join(REPO, "scripts", script), *map(str, script_args)]


def run_launch_script(script, script_args, log_dir, workers=2, timeout=240, during=None):
    """One of scripts/run_*.sh with WORKERS workers on a free port."""
    os.makedirs(log_dir, exist_ok=True)
    result = run_process(_launch_command(script, script_args), timeout, during=during,
                         output_file=os.path.join(log_dir, "launcher.out"),
                         env_extra=_launch_environment(workers, log_dir, free_port()))
    result.log_dir = str(log_dir)
    return result


# msrun starts the scheduler on a node whose interfaces (`ip -j addr`) hold master_addr; on one machine, node 1
# sees this `ip` first on PATH and, as a second machine would, finds no such address.
NO_ADDRESS_IP = "#!/bin/sh\n# an `ip -j addr` that lists no interface: this node does not hold master_addr\necho '[]'\n"


def run_two_nodes(script_args, log_root, timeout=240):
    """scripts/run_multinode_train.sh as node 0 and node 1 of 2 on this machine (one worker each, 127.0.0.1).

    Returns the two nodes' ProcessResults (msrun logs in log_root/node0, log_root/node1).
    """
    fake_ip = os.path.join(log_root, "no_address_bin")
    os.makedirs(fake_ip, exist_ok=True)
    with open(os.path.join(fake_ip, "ip"), "w") as handle:
        handle.write(NO_ADDRESS_IP)
    os.chmod(os.path.join(fake_ip, "ip"), 0o755)
    port, commands = free_port(), []
    for node in (0, 1):
        log_dir = os.path.join(log_root, f"node{node}")
        os.makedirs(log_dir, exist_ok=True)
        env = {**_launch_environment(1, log_dir, port), "NODES": "2", "CARDS_PER_NODE": "1"}
        if node == 1:
            env["PATH"] = os.pathsep.join([fake_ip, os.path.dirname(sys.executable), os.environ.get("PATH", "")])
        commands.append((_launch_command("run_multinode_train.sh", ["127.0.0.1", node, *script_args]),
                         os.path.join(log_dir, "launcher.out"), env))
    results = run_processes(commands, timeout)
    for node, result in enumerate(results):
        result.log_dir = os.path.join(log_root, f"node{node}")
    return results


def _is_python(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        return os.path.basename(handle.read().split(b"\0")[0]).startswith(b"python")


def msrun_worker_pids(tag, rank):
    """The Python processes msrun started as worker `rank` (msrun exports RANK_ID to them, and to its `tail`)."""
    found = []
    for pid in _tagged_processes(tag):
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                variables = handle.read().split(b"\0")
            if f"RANK_ID={rank}".encode() in variables and b"MS_ROLE=MS_WORKER" in variables and _is_python(pid):
                found.append(pid)
        except OSError:  # exited meanwhile
            continue
    return found


def run_python(script_args, timeout=180, env_extra=None):
    """`python <script_args>` in a clean environment (no launcher variables), from the repository root."""
    return run_process([sys.executable, *map(str, script_args)], timeout, env_extra=env_extra)


# ---------------------------------------------------------------- worker side


def _root_dataset(dataset):
    while dataset.children:
        dataset = dataset.children[0]
    return dataset


def _train_probe(out_dir, train_args):
    """Run the Trainer as train.py does, recording what each loader iterator reads and this rank's final weights."""
    from mindcv_resnetv2.config import parse_args
    from mindcv_resnetv2.data.loader import Loader
    from mindcv_resnetv2.engine.trainer import Trainer

    reads, graphs = [], {}
    count_compilations(graphs)
    create_iterator = Loader.create_tuple_iterator

    def recording_create_iterator(loader, *args, **kwargs):
        info = _root_dataset(loader.dataset).shard_info
        reads.append({"training": info.is_training, "epoch": loader.epoch, "shard_id": info.shard_id,
                      "num_shards": info.num_shards, "pipeline_seed": int(loader.seed),
                      "indices": [int(i) for i in loader.sampler.indices()]})
        return create_iterator(loader, *args, **kwargs)

    Loader.create_tuple_iterator = recording_create_iterator  # every epoch and validation is read through it
    trainer = Trainer(parse_args(train_args, entry="train"))
    trainer.run()
    rank = trainer.runtime.rank
    np.savez(os.path.join(out_dir, f"weights_rank{rank}.npz"),
             **{p.name: p.asnumpy() for p in trainer.net.get_parameters()})
    with open(os.path.join(out_dir, f"reads_rank{rank}.json"), "w") as handle:
        json.dump({"rank": rank, "group_size": trainer.runtime.group_size, "reads": reads, **graphs}, handle)


DP_GLOBAL_BATCH = 8


def dp_batch():
    """The fixed global batch of the data-parallel test: 8 images 3x8x8 and labels of 4 classes."""
    rng = np.random.default_rng(2024)
    images = rng.standard_normal((DP_GLOBAL_BATCH, 3, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 4, DP_GLOBAL_BATCH).astype(np.int32)
    return images, labels


def _dp_step(out_dir, recipe, *parts):
    """Per part: a fresh BN-free toy net, two steps through build_training's TrainStep, weights before and after.

    part = rank (under msrun: this rank's half of the global batch) | all (the whole batch) | 0 | 1 (one half).
    The first net is built right after seeding, as train.py builds its network; later parts in the same process
    start from the first one's weights (re-seeding one process does not repeat MindSpore's initializers).
    """
    from mindspore import Tensor, nn

    from mindcv_resnetv2.config import parse_args
    from mindcv_resnetv2.engine.runtime import setup_runtime
    from mindcv_resnetv2.engine.builders import build_training

    cfg = parse_args(["-c", recipe, "--distribute", str(parts == ("rank",))], entry="train")
    runtime = setup_runtime(cfg)
    first = None
    for part in parts:
        net = nn.SequentialCell([nn.Conv2d(3, 4, 3, has_bias=True), nn.ReLU(), nn.Flatten(),
                                 nn.Dense(4 * 8 * 8, 4)])
        first = first or [p.asnumpy().copy() for p in net.get_parameters()]
        for param, value in zip(net.get_parameters(), first):
            param.set_data(Tensor(value))
        initial = {"initial." + p.name: p.asnumpy().copy() for p in net.get_parameters()}
        step = build_training(cfg, net, updates_per_epoch=2, runtime=runtime).step
        images, labels = dp_batch()
        half = runtime.rank if part == "rank" else (None if part == "all" else int(part))
        if half is not None:
            rows = slice(half * DP_GLOBAL_BATCH // 2, (half + 1) * DP_GLOBAL_BATCH // 2)
            images, labels = images[rows], labels[rows]
        losses = [float(step(Tensor(images), Tensor(labels)).asnumpy()) for _ in range(2)]
        name = f"rank{runtime.rank}" if part == "rank" else part
        np.savez(os.path.join(out_dir, f"{name}.npz"), losses=np.array(losses), **initial,
                 **{p.name: p.asnumpy() for p in net.get_parameters()})


def main(argv):
    command, rest = argv[0], argv[1:]
    if command == "train-probe":
        _train_probe(rest[0], rest[1:])
    elif command == "dp-step":
        _dp_step(*rest)
    else:
        raise SystemExit(f"unknown command {command!r}; expected train-probe or dp-step")


if __name__ == "__main__":
    main(sys.argv[1:])
