"""Reproduce a MindSpore dataset hang: an error raised while a pipeline is still starting its threads.

MindSpore (2.8.0 here) starts a pipeline's threads at its first batch, op after op, while the ops started first
already read. When an op fails that early, the op still starting its workers can wait forever for a worker that
was refused registration (seen with gdb: ``ExecutionTree::Launch`` or ``MapOp::operator()`` blocked in
``TaskManager::CreateAsyncTask`` -> ``WaitPost::Wait``), and the next use of that iterator, or its clean-up, hangs.
A user meets it when one of the first images a pipeline reads is damaged: the clear error may never come.

This script uses MindSpore alone: an ImageFolder of one image, a Python op that raises, then MindSpore's decode,
a label cast and a batch, as a data pipeline of this project has them. It builds and fails such pipelines in a child
process and reports how many it failed before one hung (no output for ``--stall`` seconds). Rare: load the machine
(e.g. a training run) to see it within minutes.

    python scripts/mindspore_startup_hang.py --seconds 900
"""
import argparse
import os
import select
import subprocess
import sys
import tempfile
import time

CHILD = """
import sys
import mindspore.dataset as ds
from mindspore import dtype
from mindspore.dataset import transforms, vision

def refuse(data):
    raise ValueError("refused")

failed = 0
while True:
    pipeline = ds.ImageFolderDataset(sys.argv[1], decode=False, shuffle=False)
    pipeline = pipeline.map(operations=refuse, input_columns="image", num_parallel_workers=1)
    pipeline = pipeline.map(operations=[vision.Decode(), vision.Resize(8)], input_columns="image",
                            num_parallel_workers=1)
    pipeline = pipeline.map(operations=transforms.TypeCast(dtype.int32), input_columns="label")
    try:
        for _ in pipeline.batch(1).create_tuple_iterator(output_numpy=True):
            pass
    except RuntimeError:
        failed += 1
    if failed % 200 == 0:
        print(failed, flush=True)
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=600, help="stop after this long")
    parser.add_argument("--stall", type=float, default=60, help="seconds without progress that count as a hang")
    args = parser.parse_args(argv)
    root = tempfile.mkdtemp(prefix="startup_hang")
    os.makedirs(os.path.join(root, "c"))
    with open(os.path.join(root, "c", "image.jpg"), "wb") as handle:
        handle.write(b"\xff\xd8\xff\xd9")
    start, failed_total, hangs = time.time(), 0, 0
    while time.time() - start < args.seconds:
        child = subprocess.Popen([sys.executable, "-c", CHILD, root], stdout=subprocess.PIPE, text=True)
        failed = 0
        while time.time() - start < args.seconds:
            if not select.select([child.stdout], [], [], args.stall)[0]:
                hangs += 1
                print(f"hang after {failed} failed pipelines in process {child.pid} "
                      f"(inspect: py-spy dump --native --pid {child.pid}; killed in 30 s)", flush=True)
                time.sleep(30)
                break
            line = child.stdout.readline()
            if not line:
                break
            failed = int(line)
        child.kill()
        child.wait()
        failed_total += failed
    print(f"{failed_total} pipelines failed at their first row, {hangs} hung, in {time.time() - start:.0f} s")
    return 1 if hangs else 0


if __name__ == "__main__":
    sys.exit(main())
