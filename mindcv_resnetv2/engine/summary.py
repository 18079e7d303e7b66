"""TensorBoard event files of a run (recipe key tensorboard_dir), for `tensorboard --logdir` while it trains.

Written with the event-file writer of the `tensorboard` package (the optional extra of the same name, which also
brings the viewer); it needs neither TensorFlow nor PyTorch, and tensorboardX would import PyTorch into the
training process wherever PyTorch is installed. Two TensorBoard runs, one sub-folder each:

- `step`: `train/loss` at every training step and `train/lr` at every log point (the steps whose losses the
  trainer reads from the device, see device_reads), x = the run's global step, counted from 1;
- `epoch`: every value of the epoch's metrics.csv row as `epoch/<column>`, x = the epoch, counted from 1.

Each opening first writes TensorBoard's restart marker (SessionLog START) at the run's first step and epoch, which
hides whatever an earlier writer left there from that point on: a resumed run continues the interrupted run's
curves without the steps it trains again, and a new run in the folder shows only its own.
"""
import os
import time

from ..errors import UserError

STEP_RUN, EPOCH_RUN = "step", "epoch"


class TensorBoardMissing(UserError, ImportError):
    """tensorboard_dir is set but the tensorboard package cannot be imported."""


def load_tensorboard():
    """The tensorboard pieces the log writes with: (EventFileWriter, event_pb2, summary_pb2)."""
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError as exc:
        raise TensorBoardMissing(
            f"tensorboard_dir is set but the tensorboard package cannot be imported ({exc}): install it with "
            f"pip install -e \".[tensorboard]\" (or pip install tensorboard), or leave tensorboard_dir empty"
        ) from None
    return EventFileWriter, event_pb2, summary_pb2


class TensorBoardLog:
    """The event writers of one run in `directory`; with directory None (the key empty, or not rank 0) every
    method does nothing. The tensorboard import is checked on construction, before anything is trained."""

    def __init__(self, directory):
        self.directory = directory
        self.tensorboard = load_tensorboard() if directory else None
        self.writers = {}

    def open(self, first_step, first_epoch):
        """Start writing at global step `first_step` and epoch `first_epoch` (both 1-based)."""
        if not self.directory:
            return
        writer_class, event_pb2, _ = self.tensorboard
        for run, first in ((STEP_RUN, first_step), (EPOCH_RUN, first_epoch)):
            self.writers[run] = writer_class(os.path.join(self.directory, run))
            restart = event_pb2.SessionLog(status=event_pb2.SessionLog.START)
            self.writers[run].add_event(event_pb2.Event(wall_time=time.time(), step=first, session_log=restart))

    def scalar(self, run, tag, value, step):
        _, event_pb2, summary_pb2 = self.tensorboard
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=float(value))])
        self.writers[run].add_event(event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

    def steps(self, last_step, losses, lr):
        """The losses of the steps that end at global step `last_step`, in order, and the lr at that step."""
        if not self.writers:
            return
        for step, loss in enumerate(losses, last_step - len(losses) + 1):
            self.scalar(STEP_RUN, "train/loss", loss, step)
        self.scalar(STEP_RUN, "train/lr", lr, last_step)

    def epoch(self, epoch, row):
        """Epoch `epoch`'s metrics (None = not measured), on disk when this returns, so that the checkpoint saved
        after it never lacks its curves."""
        if not self.writers:
            return
        for key, value in row.items():
            if value is not None:
                self.scalar(EPOCH_RUN, f"epoch/{key}", value, epoch)
        for writer in self.writers.values():
            writer.flush()

    def close(self):
        """Flush and close (at the end of the run, on error and on interrupt alike)."""
        for writer in self.writers.values():
            writer.close()
        self.writers = {}
