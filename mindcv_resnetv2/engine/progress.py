"""What a training epoch shows while it runs: a progress bar on a terminal, periodic log lines elsewhere."""
import logging
import sys
import time

_logger = logging.getLogger("mindcv_resnetv2")


class Progress:
    """tqdm bar on a terminal (rank 0, no sink); plain log lines otherwise. The trainer reports at its reads of
    the device (every log_interval steps and at the epoch's end), so the bar moves in steps of log_interval."""

    def __init__(self, enabled, total, epoch, epochs, batch_size):
        self.total, self.epoch, self.epochs = total, epoch, epochs
        self.batch_size = batch_size
        self.bar = None
        self.shown = 0  # the last step reported
        self.start = time.time()
        if enabled and sys.stdout.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=f"epoch {epoch + 1}/{epochs}", leave=False, dynamic_ncols=True)
        self.enabled = enabled

    def update(self, step, loss, lr):
        if not self.enabled:
            return
        rate = step * self.batch_size / max(time.time() - self.start, 1e-9)
        if self.bar is not None:
            self.bar.update(step - self.shown)
            self.bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.3g}", img_s=f"{rate:.1f}")
        else:
            _logger.info("epoch %d/%d step %d/%d loss %.4f lr %.4g %.1f img/s", self.epoch + 1, self.epochs, step,
                         self.total, loss, lr, rate)
        self.shown = step

    def close(self):
        if self.bar is not None:
            self.bar.close()
