"""`train(cfg)`: the whole training run of a recipe, on one device or data-parallel under msrun.

A run builds its training and validation pipelines once. Before each epoch the training loader is moved to it
(`Loader.set_epoch`) and the epoch's iterator is created under that epoch's dataset seed, so sample order (the
sampler's `epoch_indices`), MindSpore's C++ augmentation, the keyed Python ops (random erasing) and MixUp/CutMix are
functions of (seed, epoch, rank) alone: a resumed run starts the loader at its resume epoch and sees exactly the
batches the uninterrupted run saw; with the optimizer state, loss scale and EMA restored from the checkpoint, it
ends with the same weights. Rank 0 alone writes checkpoints, the resolved recipe, metrics, the plots and, after the
last validation, the per-class accuracy and confusion matrix (engine.per_class); every rank logs to its own file in
ckpt_save_dir. What the run folder and its checkpoints hold, and where a resumed run starts, is engine.run_state's.

Dataset sink mode (Ascend/GPU): one `ms.data_sink` per run, created at the first epoch the run trains and under
that epoch's seed; each call trains one whole epoch (sink_size = batches per epoch). Inside the sink MindSpore runs
one iterator over all epochs: the sampler moves to each epoch's order and the mixer keys each batch by its epoch, so
order and mixing stay exact, but C++ augmentation (and random erasing's key) continue one random stream from the
sink's first epoch and cannot be re-seeded per epoch: a resumed sink run reads the same samples in the same order,
augmented differently from the uninterrupted run (statistically, not bitwise, the same).
"""
import contextlib
import logging
import math
import os
import time

import mindspore as ms

from ..config import save_config
from ..errors import UserError
from ..models.summary import count_parameters
from ..optim.optimizer import uses_nesterov
from ..utils.files import WriteError, check_writable_target, write_text_atomic
from .builders import build_run, resolve_training_classes
from .device_reads import DeviceReads
from . import per_class
from .evaluation import average_statistics_over_ranks, copy_weights
from .metrics import STEP_FIELDS, STEP_LOSS_FILE, MetricsFile, finite_mean, interval_rows, plot_metrics
from .progress import Progress
from .run_state import (RECIPE_FILE, CheckpointKeeper, RunFolderLock, StartPoint, check_fresh_directory,
                        check_resume_matches, epoch_train_state, interrupted_message, resolve_resume, resume_from,
                        save_epoch_checkpoints)
from .runtime import ctrl_c_as_keyboard_interrupt, log_to_files, setup_logging, setup_runtime
from .summary import TensorBoardLog

_logger = logging.getLogger("mindcv_resnetv2")


class TrainingDiverged(RuntimeError, UserError):
    """The loss stayed NaN/Inf for nonfinite_patience consecutive steps."""


class TrainingInterrupted(RuntimeError):
    """Ctrl-C: the message says which checkpoint the run can continue from."""


def train(cfg):
    """Train as the recipe says; returns the last epoch's metrics."""
    try:
        with ctrl_c_as_keyboard_interrupt():
            trainer = Trainer(cfg)
    except KeyboardInterrupt:
        raise TrainingInterrupted("interrupted while the run was being set up; nothing was trained") from None
    return trainer.run()


def _first_missing_folder(directory):
    """The outermost folder of `directory` that does not exist yet (None if it exists): what a run would create."""
    directory, missing = os.path.abspath(directory), None
    while not os.path.exists(directory):
        directory, missing = os.path.dirname(directory), directory
    return missing


def _discard_log(log_file, created, main):
    """Close and delete this rank's log, then the folders the run created, up to `created`, if they are empty."""
    setup_logging(console=main)
    with contextlib.suppress(OSError):
        os.remove(log_file)
    folder = os.path.dirname(os.path.abspath(log_file))
    while True:
        try:
            os.rmdir(folder)
        except OSError:
            return
        if folder == created:
            return
        folder = os.path.dirname(folder)


class Trainer:
    """Holds everything a run needs, and reads in the run's order: set up (`__init__`: run folder, inputs, network
    and loaders, start point), the epochs (`run`), one epoch's steps (`train_epoch`), finish (`release`)."""

    # Set up
    def __init__(self, cfg):
        self.cfg = cfg
        self.runtime = setup_runtime(cfg)
        self.directory = cfg.ckpt_save_dir
        self.main = self.runtime.is_main
        log_file = os.path.join(self.directory, f"train_rank{self.runtime.rank}.log")
        created = _first_missing_folder(self.directory)
        try:
            check_writable_target(log_file)
            self.lock = RunFolderLock(self.directory) if self.main else None  # before any file of the run
            setup_logging(log_file, console=self.main)
        except OSError as exc:
            raise WriteError(exc.errno, f"cannot use ckpt_save_dir '{self.directory}': {exc}") from exc
        try:
            self._check_inputs()
            self._build()
            self._restore_start_point()
        except BaseException:
            self.release()
            if created:  # a run that failed before its work leaves no empty run folder behind
                _discard_log(log_file, created, self.main)
            raise

    def _check_inputs(self):
        """Everything the run will read, checked before the first step: resume file, data splits, classes."""
        cfg = self.cfg
        self.tensorboard = TensorBoardLog(os.path.join(self.directory, cfg.tensorboard_dir)
                                          if self.main and cfg.tensorboard_dir else None)
        self.resume_path = resolve_resume(cfg.resume, self.directory)
        if self.resume_path is None:
            check_fresh_directory(self.directory, cfg.overwrite)
        self.class_names, self.num_classes = resolve_training_classes(cfg)
        if self.resume_path:
            check_resume_matches(self.resume_path, self.directory, cfg.model, self.num_classes)
        self.global_batch = cfg.batch_size * self.runtime.group_size

    def _build(self):
        """The network, its step cells, optimizer, EMA and evaluator, and the loaders (`builders.build_run`)."""
        parts = build_run(self.cfg, self.runtime, self.num_classes,
                          initial_weights=None if self.resume_path else self.cfg.ckpt_path)
        self.steps_per_epoch, self.updates_per_epoch = parts.steps_per_epoch, parts.updates_per_epoch
        self.accumulate, self.sink = parts.accumulate, parts.sink
        self.net, self.eval_net, self.evaluator = parts.net, parts.eval_net, parts.evaluator
        built = parts.training
        self.lr, self.optimizer, self.scaling, self.ema = built.lr, built.optimizer, built.scaling, built.ema
        self.step, self.accumulate_step = built.step, built.accumulate_step
        self.train_loader, self.val_loader, self.sink_step = parts.train_loader, parts.val_loader, None
        self.device_reads = DeviceReads(self.optimizer, self.scaling, self.net)
        self.last_read = None

    def _restore_start_point(self):
        """Start at epoch 0, or where the resume checkpoint left off (weights, optimizer, loss scale, EMA)."""
        cfg = self.cfg
        start = StartPoint()
        if self.resume_path:
            settings = (f"batch_size {cfg.batch_size} x {self.runtime.group_size} device(s), "
                        f"gradient_accumulation_steps {self.accumulate}, num_samples {cfg.num_samples}")
            start = resume_from(self.resume_path, self.net, self.step, self.ema, self.updates_per_epoch, settings)
            _logger.info("Resuming from %s at epoch %d of %d", self.resume_path, start.epoch, cfg.epoch_size)
        self.start_epoch, self.global_step, self.best_top1 = start.epoch, start.step, start.best_top1
        self.resumed_row = start.metrics_row

    def summary(self):
        """The run as set up, one line per part, for the log's start-of-training summary."""
        cfg, rt = self.cfg, self.runtime
        lines = [
            f"device {rt.device}, mode {'graph' if cfg.mode == 0 else 'pynative'}"
            f"{', jit_level ' + cfg.jit_level if cfg.mode == 0 and cfg.jit_level else ''}, devices {rt.group_size}",
            f"data {cfg.dataset} at {cfg.data_dir}: {self.steps_per_epoch * cfg.batch_size * rt.group_size} train "
            f"samples per epoch, {self.num_classes} classes, {self.steps_per_epoch} batches per epoch per device, "
            f"batch {cfg.batch_size} x {rt.group_size} devices",
            f"model {cfg.model}: {count_parameters(self.net):,} trainable parameters "
            f"({count_parameters(self.net, trainable_only=False):,} with BN statistics)",
            f"optimizer {cfg.opt} (momentum {cfg.momentum}{', Nesterov' if uses_nesterov(cfg) else ''}, weight decay "
            f"{cfg.weight_decay}, filter "
            f"{cfg.weight_decay_filter}), loss {cfg.loss} (label smoothing {cfg.label_smoothing})",
            f"schedule {cfg.scheduler}: lr {cfg.lr} -> {self.lr[-1]:.4g}, warm-up {cfg.warmup_epochs} epochs, "
            f"{cfg.epoch_size} epochs, {self.updates_per_epoch} updates per epoch",
            f"amp {cfg.amp_level}, loss scale {cfg.loss_scale} ({'dynamic' if self.scaling.dynamic else 'fixed'}), "
            f"EMA {'on, decay ' + str(cfg.ema_decay) if cfg.ema else 'off'}, sink {'on' if self.sink else 'off'}",
        ]
        frozen = getattr(self.net, "frozen_cells", ())
        if frozen:
            how = "freeze_backbone" if cfg.freeze_backbone else f"freeze_stages {cfg.freeze_stages}"
            fixed = sum(int(p.size) for p in self.net.frozen_parameters())
            lines.append(f"frozen by {how}: {', '.join(frozen)}, in inference mode; their {fixed:,} parameters (BN "
                         f"statistics included) stay fixed, {count_parameters(self.net):,} are trained")
        if self.resume_path:
            lines.append(f"resume from {self.resume_path} at epoch {self.start_epoch}")
        return "\n".join("  " + line for line in lines)

    # The epochs
    def run(self):
        """Train from the start point to epoch_size; the last epoch's metrics. However the run ends, the run folder
        is freed; after Ctrl-C the error says which checkpoint to continue from."""
        try:
            with ctrl_c_as_keyboard_interrupt():
                return self._train_epochs()
        except KeyboardInterrupt:
            raise TrainingInterrupted(interrupted_message(self.directory)) from None
        except Exception as exc:
            log_to_files("train.py: error: %s", exc)  # a late failure belongs in the run's log too
            raise
        finally:
            self.tensorboard.close()
            self.release()

    def _train_epochs(self):
        """Every epoch from the start point to epoch_size, then the run's reports; the last epoch's metrics."""
        metrics_file = MetricsFile(os.path.join(self.directory, self.cfg.metrics_file))
        step_file = MetricsFile(os.path.join(self.directory, STEP_LOSS_FILE), STEP_FIELDS)
        if self.main:
            self._open_run_folder(metrics_file, step_file)
        run_start, last = time.time(), {}
        for epoch in range(self.start_epoch, self.cfg.epoch_size):
            last = self._train_validate_save(epoch, run_start, metrics_file, step_file)
        if self.main:
            self._write_reports(last, metrics_file, step_file)
        return last

    def _open_run_folder(self, metrics_file, step_file):
        """Rank 0, before the first epoch: the resolved recipe and class names, metrics.csv and the step losses cut
        back to the start point (a resume drops the rows of epochs it trains again), TensorBoard, the summary."""
        cfg = self.cfg
        os.makedirs(self.directory, exist_ok=True)
        save_config(cfg, os.path.join(self.directory, RECIPE_FILE))
        write_text_atomic(os.path.join(self.directory, "class_names.txt"), "\n".join(self.class_names) + "\n",
                          what="class names")
        resumed = dict(self.resumed_row, epoch=self.start_epoch) if self.resumed_row else None
        metrics_file.resume_at(self.start_epoch, resumed)
        step_file.resume_at(self.start_epoch)
        self.tensorboard.open(self.start_epoch * self.steps_per_epoch + 1, self.start_epoch + 1)
        if self.start_epoch < cfg.epoch_size:
            _logger.info("Training %s\n%s", cfg.model, self.summary())
        else:
            _logger.info("nothing to train: %s holds all %d epochs of this recipe (%s); give a larger epoch_size "
                         "to train on", self.directory, cfg.epoch_size, self.resume_path)

    def _train_validate_save(self, epoch, run_start, metrics_file, step_file):
        """Epoch `epoch`: train it, validate when due, log it, and (rank 0) record it; its metrics."""
        cfg = self.cfg
        start = time.time()
        losses = self.train_epoch(epoch)
        epoch_time = time.time() - start
        train_loss = finite_mean(losses)
        # Every rank: BN running statistics are per rank; validate and save their mean (a collective).
        average_statistics_over_ranks(self.net, self.runtime)
        metrics = None
        is_last = epoch + 1 == cfg.epoch_size
        if self.evaluator is not None and ((epoch + 1) % cfg.val_interval == 0 or is_last):
            metrics = self._validate()
            self.best_top1 = max(self.best_top1, metrics["top1"])
        throughput = self.steps_per_epoch * self.global_batch / epoch_time
        done = epoch + 1 - self.start_epoch
        eta = (time.time() - run_start) / done * (cfg.epoch_size - epoch - 1)
        message = f"epoch {epoch + 1}/{cfg.epoch_size}: train loss {train_loss:.4f}"
        if metrics:
            message += (f", val top-1 {metrics['top1']:.2f}% top-5 {metrics['top5']:.2f}% loss "
                        f"{metrics['loss']:.4f} ({metrics['num_samples']} images)")
        _logger.info("%s, %.1f s, %.1f img/s, ETA %.0f s", message, epoch_time, throughput, eta)
        row = dict(train_loss=train_loss, lr=self.lr_at(self.last_read.optimizer_step), epoch_time_s=epoch_time,
                   img_per_s=throughput,
                   val_loss=metrics and metrics["loss"], val_top1=metrics and metrics["top1"],
                   val_top5=metrics and metrics["top5"])
        if self.main:
            # Before the checkpoint: a resume from the previous one drops these rows and trains them again.
            step_file.extend(interval_rows(losses, epoch + 1, self.steps_per_epoch, cfg.log_interval))
            self.tensorboard.epoch(epoch + 1, row)
            # The checkpoint lands first: metrics.csv never lists an epoch whose checkpoint failed to save.
            if (epoch + 1) % cfg.ckpt_save_interval == 0 or is_last:
                self._save_checkpoints(epoch, metrics, row)
            metrics_file.append(epoch=epoch + 1, **row)
        return dict(metrics or {}, train_loss=train_loss, epoch=epoch + 1)

    def _validate(self):
        """The validation metrics of the EMA weights when the run keeps an EMA, else of the trained weights."""
        if self.ema is not None:
            copy_weights(self.ema, self.eval_net)
            # The EMA's BN statistics are per rank too (the trained network's were averaged after the epoch).
            average_statistics_over_ranks(self.eval_net, self.runtime)
        elif self.eval_net is not self.net:  # another val_amp_level: same weights, other precision
            copy_weights(self.net.get_parameters(), self.eval_net)
        result = self.evaluator(self.val_loader, self.runtime)
        self.net.set_train(True)
        return result

    def _save_checkpoints(self, epoch, metrics, row):
        """Write epoch `epoch`'s checkpoint (and the best one); `row`, its metrics.csv row, travels inside it."""
        cfg = self.cfg
        state = epoch_train_state(epoch + 1, step=self.global_step, loss_scale=self.last_read.loss_scale,
                                  best_top1=self.best_top1, seed=cfg.seed, num_classes=self.num_classes,
                                  val_top1=metrics["top1"] if metrics else None, metrics_row=row)
        path = save_epoch_checkpoints(self.directory, cfg.model, self.steps_per_epoch, self.net, self.step, self.ema,
                                      state, best=bool(metrics) and metrics["top1"] >= self.best_top1)
        CheckpointKeeper(self.directory, cfg.ckpt_save_policy, cfg.keep_checkpoint_max).prune()
        return path

    # One epoch's steps
    def train_epoch(self, epoch):
        """Train one epoch; its losses, one per step (one per epoch in sink mode). Its duration is the epoch's
        "img/s" in the log and metrics.csv (the benchmark's --train_loop times it too).

        The steps run without waiting for the device: their losses stay on it until the next read (every
        log_interval steps and at the epoch's end), which fetches them, the optimizer's step, the loss scale and
        the weights' finiteness in one transfer. The NaN/Inf watch acts on those reads.
        """
        cfg = self.cfg
        self.net.set_train(True)
        progress = Progress(self.main and not self.sink, self.steps_per_epoch, epoch, cfg.epoch_size,
                            self.global_batch)
        losses, bad_streak = [], 0
        if self.sink:
            read = self.device_reads.read([self._sink(epoch)()])
            losses, bad_streak = read.losses, 0 if math.isfinite(read.losses[0]) else cfg.nonfinite_patience
            self.tensorboard.steps((epoch + 1) * self.steps_per_epoch, losses, self.lr_at(read.optimizer_step))
            self._check_weights(read, epoch)
        else:
            self.train_loader.set_epoch(epoch)
            pending = []
            for index, (images, labels) in enumerate(self.train_loader.create_tuple_iterator(), 1):
                apply = index % self.accumulate == 0
                pending.append((self.step if apply else self.accumulate_step)(images, labels))
                if index % cfg.log_interval and index != self.steps_per_epoch:
                    continue
                read = self.device_reads.read(pending)
                pending = []
                for loss in read.losses:
                    bad_streak = 0 if math.isfinite(loss) else bad_streak + 1
                losses.extend(read.losses)
                self.tensorboard.steps(epoch * self.steps_per_epoch + index, read.losses,
                                       self.lr_at(read.optimizer_step))
                self._check_weights(read, epoch)
                if bad_streak >= cfg.nonfinite_patience:
                    break
                progress.update(index, read.losses[-1], self.lr_at(read.optimizer_step))
                if index == self.steps_per_epoch:
                    break
            if len(losses) < self.steps_per_epoch and bad_streak < cfg.nonfinite_patience:
                raise RuntimeError(f"the training loader ended after {len(losses) + len(pending)} of "
                                   f"{self.steps_per_epoch} batches of epoch {epoch + 1}")
        progress.close()
        if bad_streak >= cfg.nonfinite_patience:
            raise TrainingDiverged(
                f"the loss was NaN/Inf for {bad_streak} consecutive step(s) in epoch {epoch + 1}; stopping "
                f"(nonfinite_patience {cfg.nonfinite_patience}). The checkpoints in {self.directory} from before "
                f"this epoch are kept. Lower lr, enable clip_grad, use a warm-up, or check the data."
            )
        self.global_step += self.updates_per_epoch
        self.last_read = read
        return losses

    def _sink(self, epoch):
        """The run's one dataset sink, created at its first epoch with the run's jit level; each call trains the
        next whole epoch on the device (sink mode has no gradient accumulation, so the steps of an epoch are all its
        batches; see the module doc)."""
        if self.sink_step is None:
            self.train_loader.set_epoch(epoch)
            jit_config = ms.JitConfig(jit_level=self.runtime.jit_level) if self.cfg.mode == 0 else None
            with self.train_loader.seeded():
                self.sink_step = ms.data_sink(self.step, self.train_loader.dataset, sink_size=self.steps_per_epoch,
                                              jit_config=jit_config)
        return self.sink_step

    def _check_weights(self, read, epoch):
        """Stop when a device read finds NaN/Inf in the weights, before any checkpoint of them is written."""
        if not read.weights_finite:
            raise TrainingDiverged(
                f"the network's weights became NaN/Inf in epoch {epoch + 1} while the loss was "
                f"{read.losses[-1]:.4g}; stopping. The checkpoints in {self.directory} from before this epoch are "
                f"kept (none with non-finite weights is written). Lower lr, enable clip_grad, use a warm-up, or "
                f"check the data."
            )

    def lr_at(self, optimizer_step):
        """The learning rate the optimizer applies at its step `optimizer_step` (skipped updates do not count)."""
        return self.lr[min(int(optimizer_step), len(self.lr) - 1)]

    # Finish
    def _write_reports(self, last, metrics_file, step_file):
        """Rank 0, after the last epoch: its per-class accuracy and confusion matrix, and the learning curves."""
        cfg = self.cfg
        if "top1" in last:  # the last epoch always validates (with val_while_train)
            per_class.report(last, self.class_names, self.directory, f"{cfg.model} after epoch {last['epoch']} on "
                             f"{cfg.val_split}{' (EMA)' if self.ema is not None else ''}", plot=cfg.plot)
        if cfg.plot and os.path.isfile(metrics_file.path):
            png = plot_metrics(metrics_file.path, os.path.join(self.directory, "learning_curves.png"), cfg.model,
                               step_file.path)
            if png:
                _logger.info("Learning curves: %s", png)

    def release(self):
        """Give the run folder free (run() does so when it ends; a caller driving train_epoch itself must)."""
        if self.lock is not None:
            self.lock.release()
