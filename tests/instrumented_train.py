"""train.py's entry (cli.main_train) in a process that records what the run did, for the tests that count it.

`python tests/instrumented_train.py OUT_DIR SEAMS_JSON TRAIN_ARGS...`, alone or as each msrun worker. Each rank
writes OUT_DIR/record_rank{rank}.json and, after a finished run, OUT_DIR/state_rank{rank}.npz: every parameter of
its training step (weights, BN statistics, optimizer slots and step counter, loss scale). The record holds
- datasets: the split of every dataset the run creates;
- compiled: every graph compiled (a compilation, not a cached call): the cell's class, its apply_update (TrainStep:
  False for the accumulation micro-step) and whether the graph all-reduces over the ranks;
- epochs: per trained epoch, each read of the device (DeviceReads.read: how many step losses it fetched, and the
  optimizer step and loss scale it read) and how many times the main thread read a tensor to the host meanwhile;
- data_sink: each ms.data_sink call (the cell, sink_size, jit_level) and how often its function ran.

Seams, the device-only calls replaced (our code runs unchanged):
- sink: builders.SINK_DEVICES includes CPU and mindspore.data_sink is replaced by what it does on Ascend/GPU: it
  refuses a dataset already sunk, sends all epochs through one iterator, and each call of the function it returns
  runs the step on the next sink_size batches and returns the last loss.
- overflow [rank, n]: train_step.gradients_overflow also reports an overflow on rank `rank` at its n-th call (the
  n-th update); the count is a Parameter the compiled step increments.
"""
import json
import os
import sys
import threading

import numpy as np

THIS_FILE = os.path.abspath(__file__)
REPO = os.path.dirname(os.path.dirname(THIS_FILE))


def command(out_dir, argv, sink=False, overflow=None):
    """The arguments after `python` (or msrun's script) of an instrumented run of train.py with `argv`."""
    return [THIS_FILE, str(out_dir), json.dumps({"sink": sink, "overflow": overflow})] + [str(a) for a in argv]


def read_record(out_dir, rank=0):
    with open(os.path.join(out_dir, f"record_rank{rank}.json")) as handle:
        return json.load(handle)


def read_state(out_dir, rank=0):
    with np.load(os.path.join(out_dir, f"state_rank{rank}.npz")) as state:
        return dict(state)


def compiled(record, cell, **attributes):
    """How many graphs of class `cell` (with these recorded attributes) the run compiled."""
    return sum(graph["cell"] == cell and all(graph[k] == v for k, v in attributes.items())
               for graph in record["compiled"])


def read_steps(epoch):
    """The steps of a recorded epoch after which the trainer read the device (each read fetches one loss per step)."""
    return list(np.cumsum([read["losses"] for read in epoch["reads"]]))


# ---------------------------------------------------------------- worker side


# Non-empty while MindSpore compiles a graph: its constant folding reads constants to the host, not the run's tensors.
_COMPILING = []


def _rank():
    return int(os.environ.get("RANK_ID", "0"))


def count_compilations(record):
    """Append to record["compiled"] each graph MindSpore compiles from now on (see the module doc)."""
    from mindspore.common.api import _CellGraphExecutor

    record.setdefault("compiled", [])
    compile_graph = _CellGraphExecutor.compile

    def counting_compile(self, obj, *args, **kwargs):
        _COMPILING.append(obj)
        try:
            phase, is_new = compile_graph(self, obj, *args, **kwargs)
        finally:
            _COMPILING.pop()
        if is_new:
            graph = self._get_func_graph_proto(obj, phase, "anf_ir") or b""
            record["compiled"].append({"cell": type(obj).__name__, "apply_update": getattr(obj, "apply_update", None),
                                       "all_reduce": b"AllReduce" in graph})
        return phase, is_new

    _CellGraphExecutor.compile = counting_compile


def _count_datasets(record):
    from mindcv_resnetv2.engine import builders

    create_dataset = builders.create_dataset

    def counting_create_dataset(*args, **kwargs):
        record["datasets"].append(kwargs["split"])
        return create_dataset(*args, **kwargs)

    builders.create_dataset = counting_create_dataset


def _record_epochs(record):
    """Per epoch: the device reads and the host reads of tensors (asnumpy, and _item behind float/int/bool/item)
    outside graph compilation."""
    from mindspore.common.tensor import Tensor

    from mindcv_resnetv2.engine.device_reads import DeviceReads
    from mindcv_resnetv2.engine.trainer import Trainer

    epochs, inside = record["epochs"], []
    train_epoch, read = Trainer.train_epoch, DeviceReads.read

    def recorded_train_epoch(trainer, epoch):
        epochs.append({"epoch": epoch, "reads": [], "host_reads": 0})
        inside.append(epoch)
        try:
            return train_epoch(trainer, epoch)
        finally:
            inside.pop()

    def recorded_read(reads, losses):
        result = read(reads, losses)
        epochs[-1]["reads"].append({"losses": len(result.losses), "optimizer_step": result.optimizer_step,
                                    "loss_scale": result.loss_scale})
        return result

    def counting(name):
        original = getattr(Tensor, name)

        def host_read(tensor, *args, **kwargs):
            if inside and not _COMPILING and threading.current_thread() is threading.main_thread():
                epochs[-1]["host_reads"] += 1
            return original(tensor, *args, **kwargs)
        return host_read

    Trainer.train_epoch, DeviceReads.read = recorded_train_epoch, recorded_read
    for name in ("asnumpy", "_item"):
        setattr(Tensor, name, counting(name))


def _emulate_sink(record):
    import mindspore as ms

    from mindcv_resnetv2.engine import builders

    builders.SINK_DEVICES = builders.SINK_DEVICES + ("CPU",)

    def data_sink(fn, dataset, sink_size=1, jit_config=None, input_signature=None):
        if hasattr(dataset, "__transfer_dataset__"):
            raise ValueError("The dataset has been used with network.")  # MindSpore's own refusal
        iterator = dataset.create_tuple_iterator(num_epochs=-1)
        setattr(dataset, "__transfer_dataset__", iterator)
        call = {"cell": type(fn).__name__, "sink_size": sink_size, "calls": 0,
                "jit_level": jit_config.jit_config_dict["jit_level"] if jit_config is not None else None}
        record["data_sink"].append(call)

        def next_batch():
            try:
                return next(iterator)
            except StopIteration:  # MindSpore's iterator pauses at each epoch's end; the device queue goes on
                return next(iterator)

        def sink_process():
            call["calls"] += 1
            loss = None
            for _ in range(sink_size):
                loss = fn(*next_batch())
            return loss
        return sink_process

    ms.data_sink = data_sink


def _inject_overflow(rank, at_call):
    import mindspore as ms
    from mindspore import Parameter, Tensor, ops

    from mindcv_resnetv2.engine import train_step

    real_check = train_step.gradients_overflow
    calls = Parameter(Tensor(0, ms.int32), name="injected_overflow_calls", requires_grad=False)
    on_this_rank = _rank() == rank

    def overflow_on_one_rank(grads):
        count = ops.assign_add(calls, ops.ones_like(calls))
        return ops.logical_or(real_check(grads), ops.logical_and(count == at_call, on_this_rank))

    train_step.gradients_overflow = overflow_on_one_rank


def _keep_trainer(trainers):
    from mindcv_resnetv2.engine.trainer import Trainer

    run = Trainer.run

    def kept_run(trainer):
        result = run(trainer)
        trainers.append(trainer)
        return result

    Trainer.run = kept_run


def _instrumented_train(out_dir, seams, argv):
    from mindcv_resnetv2.engine import cli

    record, trainers = {"datasets": [], "compiled": [], "epochs": [], "data_sink": []}, []
    count_compilations(record)
    _count_datasets(record)
    _record_epochs(record)
    _keep_trainer(trainers)
    if seams["sink"]:
        _emulate_sink(record)
    if seams["overflow"]:
        _inject_overflow(*seams["overflow"])
    try:
        cli.main_train(argv)
    finally:
        with open(os.path.join(out_dir, f"record_rank{_rank()}.json"), "w") as handle:
            json.dump(record, handle)
        if trainers:
            np.savez(os.path.join(out_dir, f"state_rank{_rank()}.npz"),
                     **{p.name: p.asnumpy() for p in trainers[0].step.get_parameters()})


if __name__ == "__main__":
    sys.path.insert(0, REPO)
    _instrumented_train(sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:])
