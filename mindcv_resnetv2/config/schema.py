"""Every recipe key: its type, default, topic and meaning, in one table that the parser, --help and the
markdown reference all read, so they cannot drift apart.

Names, meanings and defaults follow MindCV's train/validate configuration so that MindCV recipes run
unchanged; the deviations are deliberate and stated in the key's help (model, device_target, choices
restricted to what this project implements). Keys this project adds are marked "(new)".
"""
import difflib
from dataclasses import dataclass
from typing import Any

from ..amp import AMP_LEVELS
from ..optim.loss import AUX_FACTOR_REASON, LOSS_NAMES
from ..optim.optimizer import FILTER_BIAS_AND_BN_MEANING, OPTIMIZER_NAMES, OPTIMIZERS_READING, WEIGHT_DECAY_FILTERS
from ..optim.scheduler import SCHEDULER_NAMES
from ..data.constants import IMAGENET_MEAN_255, IMAGENET_STD_255
from ..errors import InvalidInputError
from .values import Bool, ErasingValue, Float, Int, IntChoice, List, Str, is_null


class ConfigError(InvalidInputError):
    """A recipe or command-line problem the user must fix; the message names the key, value and source."""


# Topics in the order --help and the reference list them.
GROUPS = {
    "system": "System",
    "distributed": "Distributed",
    "dataset": "Dataset",
    "augmentation": "Augmentation",
    "model": "Model and initial weights",
    "loss": "Loss",
    "optimizer": "Optimizer",
    "scheduler": "Learning-rate schedule",
    "amp": "Mixed precision and loss scaling",
    "training": "Training loop",
    "checkpoint": "Checkpoints and resume",
    "logging": "Logs and metrics",
    "compatibility": "MindCV keys refused here unless left at their default",
}

# What a key does here: used by the package, an older MindCV spelling of another key, or refused unless left at its
# default (its help says why it cannot mean anything here), so that MindCV recipes that leave it alone still load.
USED, ALIAS, REFUSED = "used", "alias", "refused"
MODELARTS_REASON = ("it needs Huawei's moxing package inside a ModelArts job, which this package does not use; copy "
                    "the data in and the outputs out around train.py")
MODELARTS_URL_REASON = "MindCV reads it only with enable_modelarts, which is refused here"

DATASETS = ("imagenet", "imagefolder", "cifar10", "cifar100", "mnist", "fashion_mnist", "synthetic")


@dataclass(frozen=True)
class Key:
    name: str
    kind: Any
    default: Any
    group: str
    help: str
    nullable: bool = False
    role: str = USED

    def parse(self, value):
        """The canonical value of `value`, or ValueError saying what is accepted."""
        if self.nullable and is_null(value):
            return None
        if value is None:
            raise ValueError(f"a value is required ({self.type_text()})")
        return self.kind.parse(value)

    def type_text(self):
        text = self.kind.name
        choices = getattr(self.kind, "choices", None)
        if choices:
            text = " | ".join(str(choice) for choice in choices)
        elif getattr(self.kind, "range_text", None) and self.kind.range_text():
            text = f"{text} {self.kind.range_text()}"
        return f"{text} | null" if self.nullable else text


_PROB = dict(low=0.0, high=1.0)

KEYS = (
    # system
    Key("mode", IntChoice((0, 1)), 0, "system", "0 = graph mode (compiled, fast), 1 = PyNative (eager, for debugging)."),
    Key("device_target", Str(("auto", "Ascend", "GPU", "CPU")), "auto", "system",
         "Device to run on; auto = the device of the installed MindSpore package. A device that package cannot "
         "use falls back to it with a warning. (MindCV after 0.3.0 defaults to Ascend; 0.3.0 has no such key.)"),
    Key("jit_level", Str(("auto", "O0", "O1", "O2")), "auto", "system",
         "(new) Graph compile level in graph mode; auto = O2 on Ascend (as MindCV's published results), "
         "O0 on CPU and GPU. Resolved when the recipe is read."),
    Key("seed", Int(), 42, "system", "Seed of Python, NumPy, MindSpore and the data pipeline."),
    # distributed
    Key("distribute", Bool(), False, "distributed",
         "Data-parallel training/validation over the devices msrun starts; False for one device."),
    # dataset
    Key("dataset", Str(DATASETS), "imagenet", "dataset",
         "imagenet or imagefolder = an ImageFolder tree data_dir/<split>/<class>/<image> (any images, not only "
         "ImageNet's); synthetic = random images."),
    Key("data_dir", Str(), "./", "dataset", "Root folder of the dataset."),
    Key("train_split", Str(), "train", "dataset", "Sub-folder (split) used for training."),
    Key("val_split", Str(), "val", "dataset", "Sub-folder (split) used for validation."),
    Key("dataset_download", Bool(), False, "dataset",
         "Download CIFAR, MNIST or Fashion-MNIST into data_dir when missing (needs network)."),
    Key("num_parallel_workers", Int(low=1), 8, "dataset", "Worker threads of the data pipeline per device."),
    Key("shuffle", Bool(), True, "dataset", "Shuffle the training data every epoch."),
    Key("eval_shuffle", Bool(), False, "dataset",
        "Shuffle the validation data (MindCV's key, of releases after 0.3.0); the metrics do not depend on the "
        "order."),
    Key("num_samples", Int(low=1), None, "dataset",
         "Use only this many samples of the split being read: the train split in train.py, the val split in "
         "validate.py (as in MindCV). null = all. Validation during training always uses the whole val split.",
         nullable=True),
    Key("batch_size", Int(low=1), 128, "dataset", "Images per device per step (the global batch is this x devices)."),
    Key("drop_remainder", Bool(), True, "dataset", "Drop the last incomplete training batch."),
    Key("aug_repeats", Int(low=0), 0, "dataset",
         "Repeated augmentation (DeiT): each image appears this many times per epoch, on different devices. "
         "0 or 1 = off; 3 is the usual choice."),
    # augmentation
    Key("image_resize", Int(low=1), 224, "augmentation", "Side of the square training/eval crop in pixels."),
    Key("scale", List(Float(low=0.0, low_open=True), length=2), [0.08, 1.0], "augmentation",
         "Area range of the random-resized crop, as fractions of the image."),
    Key("ratio", List(Float(low=0.0, low_open=True), length=2), [0.75, 1.333], "augmentation",
         "Aspect-ratio range of the random-resized crop."),
    Key("crop_padding", Int(low=0), None, "augmentation",
         "(new) Small-image training crop: pad every side by this many pixels, then random-crop image_resize "
         "(the CIFAR papers use 4). null = the dataset's default: pad 4 and crop for CIFAR and MNIST-like data, "
         "random-resized crop (ImageNet style) for image folders.", nullable=True),
    Key("hflip", Float(**_PROB), 0.5, "augmentation", "Probability of a horizontal flip."),
    Key("vflip", Float(**_PROB), 0.0, "augmentation", "Probability of a vertical flip."),
    Key("color_jitter", Float(low=0.0), 0.4, "augmentation",
         "Brightness, contrast and saturation jitter strength; null or 0 = off.", nullable=True),
    Key("interpolation", Str(("bilinear", "bicubic", "nearest", "area", "lanczos")), "bilinear", "augmentation",
         "Resize interpolation."),
    Key("auto_augment", Str(), None, "augmentation",
         "Auto-augment policy string as MindCV/timm write it, e.g. randaug-m9-n2-mstd0.5, autoaug, "
         "trivialaugwide, augmix-m3-w3. null = off.", nullable=True),
    Key("aug_splits", Int(low=0), 0, "augmentation",
         "Augmentation splits (MindCV's, which takes 3): every training image becomes this many views, the clean "
         "one (crop and flips only) and the others also through auto_augment (randaug or augmix from 3 views: "
         "they draw per view); a batch holds "
         "aug_splits x batch_size images, clean views first, labels repeated. Pair with loss: jsd. 0 = off."),
    Key("re_prob", Float(**_PROB), 0.0, "augmentation", "Probability of random erasing."),
    Key("re_scale", List(Float(low=0.0, low_open=True), length=2), [0.02, 0.33], "augmentation",
         "Area range of the erased rectangle, as fractions of the image."),
    Key("re_ratio", List(Float(low=0.0, low_open=True), length=2), [0.3, 3.3], "augmentation",
         "Aspect-ratio range of the erased rectangle."),
    Key("re_value", ErasingValue(), 0, "augmentation",
         "Fill of the erased rectangle: a number, one number per channel, or 'random'."),
    Key("re_max_attempts", Int(low=1), 10, "augmentation",
         "Attempts to place the erased rectangle before giving up on the image."),
    Key("mean", List(Float()), list(IMAGENET_MEAN_255), "augmentation", "Per-channel mean on the 0-255 scale."),
    Key("std", List(Float(low=0.0, low_open=True)), list(IMAGENET_STD_255), "augmentation",
         "Per-channel standard deviation on the 0-255 scale."),
    Key("crop_pct", Float(low=0.0, high=1.0, low_open=True), 0.875, "augmentation",
         "Eval: resize the short side to floor(image_resize / crop_pct), then center-crop image_resize."),
    Key("mixup", Float(low=0.0), 0.0, "augmentation", "MixUp Beta(alpha, alpha) parameter; 0 = off (0.2 is usual)."),
    Key("cutmix", Float(low=0.0), 0.0, "augmentation", "CutMix Beta(alpha, alpha) parameter; 0 = off (1.0 is usual)."),
    Key("cutmix_prob", Float(**_PROB), 1.0, "augmentation",
         "Probability that a batch gets MixUp/CutMix when either is on."),
    # model
    Key("model", Str(), "resnetv2_50", "model",
         "Registered model name, e.g. resnetv2_50, preact_resnet50, preact_resnet164_cifar. "
         "(MindCV's default mobilenet_v2_035_224 is not in this zoo.)"),
    Key("num_classes", Int(low=1), None, "model", "Classes of the classifier; null = read from the dataset.",
         nullable=True),
    Key("in_channels", Int(low=1), 3, "model", "Input image channels (1 keeps MNIST-like data grayscale)."),
    Key("drop_rate", Float(low=0.0, high=1.0), None, "model", "Dropout before the classifier; null = the model's.",
         nullable=True),
    Key("drop_path_rate", Float(low=0.0, high=1.0), None, "model",
         "Stochastic-depth rate of the residual branches; null = the model's.", nullable=True),
    Key("pretrained", Bool(), False, "model", "Start from the registry's published weights for the model: from $MINDCV_RESNETV2_HOME or "
         "~/.mindspore/models, else downloaded there on first use and verified by sha256."),
    Key("ckpt_path", Str(), "", "model",
         "Initialise the model from this checkpoint (fine-tuning to another num_classes works). "
         "validate.py/infer.py/export.py: the weights to evaluate, which must fill every parameter (strict). "
         "A missing file is an error."),
    Key("zero_init_head", Bool(), False, "model",
        "(new) train.py: when the classifier of ckpt_path / pretrained is replaced (another num_classes), start the new one "
        "at zero, weight and bias, as BiT's fine-tuning code does; false = the model's random initialisation."),
    Key("freeze_backbone", Bool(), False, "model",
        "(new) train.py: a linear probe: only the classifier (and its dropout) trains; every other cell keeps its "
        "weights and BatchNorm statistics bit for bit, runs in inference mode (BN on its moving statistics) and "
        "gets no optimizer state or weight decay. MindCV 0.3.0 has no freezing key."),
    Key("freeze_stages", Int(low=0), 0, "model",
        "(new) train.py: freeze the stem and the first N stages as freeze_backbone freezes the backbone (the CIFAR "
        "nets have 3 stages, the ImageNet nets 4); 0 = none. The start-of-run summary names the frozen cells."),
    # loss
    Key("loss", Str(LOSS_NAMES), "CE", "loss",
         "CE = softmax cross-entropy, BCE = binary cross-entropy, jsd = AugMix's loss (needs aug_splits): "
         "cross-entropy of the clean views + 12 x the Jensen-Shannon divergence of each image's views."),
    Key("label_smoothing", Float(low=0.0, high=1.0), 0.0, "loss", "Label smoothing factor."),
    Key("reduction", Str(("mean", "sum")), "mean", "loss", "How per-sample losses are combined."),
    # optimizer
    Key("opt", Str(OPTIMIZER_NAMES), "adam", "optimizer",
        "Optimizer, with MindCV 0.3.0's update rules and defaults (lars is ours). nesterov is momentum SGD, with "
        "Nesterov updates when use_nesterov is true (as in MindCV); they are real Nesterov updates on CPU too."),
    Key("momentum", Float(low=0.0), 0.9, "optimizer", f"Momentum of {'/'.join(OPTIMIZERS_READING['momentum'])}."),
    Key("weight_decay", Float(low=0.0), 1e-6, "optimizer", "L2 weight decay."),
    Key("use_nesterov", Bool(), False, "optimizer",
        f"Nesterov updates for opt {'/'.join(OPTIMIZERS_READING['nesterov'])}."),
    Key("layer_decay", Float(low=0.0, low_open=True), None, "optimizer",
        "Per-stage lr: groups stem (0), stage 1..S, head (S + 1: final norm and classifier); group g gets the "
        "schedule's lr x layer_decay^(S + 1 - g), the head keeps lr; any opt; each group's lr is logged at the "
        "start; null = off. MindCV's key and scaling rule, but MindCV 0.3.0 finds no layers in a ResNet (all "
        "parameters form its head), so there it changes nothing.", nullable=True),
    Key("weight_decay_filter", Str(WEIGHT_DECAY_FILTERS), "disable", "optimizer",
         "Parameters exempt from weight decay: disable = none; auto = normalisation scales and shifts only "
         "(MindCV's auto leaves the choice to MindSpore, which exempts parameters named *gamma*/*beta* and decays "
         "biases); norm_and_bias = normalisation scales and shifts and biases."),
    Key("filter_bias_and_bn", Bool(), None, "optimizer",
         f"Older MindCV spelling: true = weight_decay_filter {FILTER_BIAS_AND_BN_MEANING[True]}, "
         f"false = {FILTER_BIAS_AND_BN_MEANING[False]}.",
         nullable=True, role=ALIAS),
    Key("eps", Float(low=0.0, low_open=True), 1e-10, "optimizer",
        f"Denominator term of {'/'.join(OPTIMIZERS_READING['eps'])}; as in MindCV 0.3.0, the other optimizers "
        f"keep their own (1e-8, lamb 1e-6)."),
    # scheduler
    Key("scheduler", Str(SCHEDULER_NAMES), "cosine_decay", "scheduler",
         "Learning-rate schedule, computed per step; a MindCV recipe gets MindCV 0.3.0's schedule step for step. "
         "warmup_cosine_decay is MindCV's older name of cosine_decay. one_cycle and cyclic (num_cycles triangles "
         "from min_lr up to lr and back) span the epochs after warm-up (MindCV refuses warm-up and lr_epoch_stair "
         "with them)."),
    Key("lr", Float(low=0.0), 0.001, "scheduler", "Peak learning rate (after warm-up)."),
    Key("min_lr", Float(low=0.0), 1e-6, "scheduler",
         "Final learning rate of cosine_decay and one_cycle (and of polynomial_decay when polynomial_power is "
         "set); the low point of cyclic. Step, multi-step, exponential and MindCV's polynomial decay ignore it, as in MindCV."),
    Key("warmup_epochs", Int(low=0), 3, "scheduler", "Warm-up epochs before the schedule starts."),
    Key("warmup_factor", Float(low=0.0, high=1.0), 0.0, "scheduler",
         "Warm-up starts at lr x warmup_factor."),
    Key("warmup_mode", Str(("linear", "constant")), "linear", "scheduler",
         "(new) linear = rise from lr x warmup_factor to lr (MindCV's warm-up); constant = hold lr x "
         "warmup_factor, then jump to lr (the pre-activation paper's 0.01 warm-up for ResNet-110/1001): "
         "changes MindCV's meaning of warmup_factor."),
    Key("decay_epochs", Int(low=1), 100, "scheduler",
         "cosine_decay: epochs of one cosine cycle after warm-up; step_decay: epochs between decays; "
         "polynomial_decay: epochs of decay only when polynomial_power is set. Other schedules ignore it."),
    Key("decay_rate", Float(low=0.0, low_open=True), 0.9, "scheduler",
         "step_decay and multi_step_decay: factor per decay; exponential_decay: factor per epoch; "
         "polynomial_decay without polynomial_power: the power of the decay (MindCV's meaning)."),
    Key("multi_step_decay_milestones", List(Int(low=1), increasing=True), [30, 60, 90], "scheduler",
         "multi_step_decay: lr is multiplied by decay_rate once this many epochs after warm-up are done "
         "(each milestone; counted from the end of warm-up, as in MindCV)."),
    Key("lr_epoch_stair", Bool(), False, "scheduler", "Change lr once per epoch instead of every step."),
    Key("num_cycles", Int(low=1), 1, "scheduler",
         "cosine_decay: number of cosine cycles (restarts); cyclic: number of triangles."),
    Key("cycle_decay", Float(low=0.0, low_open=True), 1.0, "scheduler", "cosine_decay: peak lr factor per cycle."),
    Key("polynomial_power", Float(low=0.0, low_open=True), None, "scheduler",
         "(new) polynomial_decay: null = MindCV's, lr x (1 - t / T)^decay_rate over the T epochs after "
         "warm-up, down to 0. Set = this project's: (lr - min_lr) x (1 - t / decay_epochs)^polynomial_power "
         "+ min_lr, then min_lr (changes MindCV's meaning of decay_rate, decay_epochs and min_lr).",
         nullable=True),
    Key("bit_hyperrule", Bool(), False, "scheduler",
         "(new) train.py: derive the schedule (steps -> epochs, warm-up, x0.1 decays), resolution and MixUp from "
         "the training set's size and image size by BiT's fine-tuning HyperRule; keys given on the command line "
         "keep their value. See configs/resnetv2/bit_finetune.yaml."),
    # amp
    Key("amp_level", Str(AMP_LEVELS), "O0", "amp",
         "Mixed precision of training (mindcv_resnetv2.amp): O0 float32; O1 convolutions and dense layers in "
         "float16; O2 float16 except every normalisation (BatchNorm, GroupNorm, EvoNorm, FRN) and StdConv2d's "
         "weight standardisation, kept float32; O3 all float16. On CPU train.py falls back to O0 with a warning."),
    Key("val_amp_level", Str(AMP_LEVELS), "O0", "amp",
         "Mixed precision of validation during training, validate.py, infer and export (levels as amp_level)."),
    Key("amp_cast_list", Str(), None, "amp",
         "MindCV's cast list, e.g. \"[nn.Conv2d, nn.Dense]\": under O1 the cells run in float16 (default: "
         "convolutions and dense layers); under O2 extra cells kept float32. Names are looked up, never evaluated.",
         nullable=True),
    Key("loss_scale_type", Str(("fixed", "dynamic", "auto")), "fixed", "amp",
         "fixed = loss_scale throughout; dynamic = grows/shrinks on overflow; auto = dynamic where the device "
         "supports it with float16, else fixed."),
    Key("loss_scale", Float(low=0.0, low_open=True), 1.0, "amp", "Loss scale (initial value when dynamic)."),
    Key("drop_overflow_update", Bool(), False, "amp", "Skip the optimizer update of a step whose gradients overflow."),
    Key("dynamic_loss_scale", Bool(), None, "amp",
         "Older MindCV spelling: true = loss_scale_type dynamic, false = fixed.", nullable=True, role=ALIAS),
    # training
    Key("epoch_size", Int(low=1), 90, "training", "Total training epochs (a resumed run stops at the same total)."),
    Key("dataset_sink_mode", Bool(), True, "training", "Feed data to the device in sinks of one epoch (faster)."),
    Key("val_while_train", Bool(), False, "training", "Validate during training (needed for best/top_k checkpoints)."),
    Key("val_interval", Int(low=1), 1, "training", "Validate every this many epochs."),
    Key("ema", Bool(), False, "training",
         "Keep an exponential moving average of the weights; it is validated and saved beside the raw weights."),
    Key("ema_decay", Float(low=0.0, high=1.0, low_open=True), 0.9999, "training", "EMA decay per step."),
    Key("clip_grad", Bool(), False, "training", "Clip gradients by global norm."),
    Key("clip_value", Float(low=0.0, low_open=True), 15.0, "training", "Global-norm limit of clip_grad."),
    Key("gradient_accumulation_steps", Int(low=1), 1, "training", "Accumulate gradients of this many steps per update."),
    Key("nonfinite_patience", Int(low=1), 3, "training",
         "(new) Stop the run after this many consecutive steps with a NaN/Inf loss; the last good checkpoint is kept."),
    # checkpoint
    Key("ckpt_save_dir", Str(), "./ckpt", "checkpoint", "Folder of checkpoints, logs, metrics and the resolved recipe."),
    Key("ckpt_save_interval", Int(low=1), 1, "checkpoint", "Save a checkpoint every this many epochs."),
    Key("ckpt_save_policy", Str(("latest_k", "top_k")), "latest_k", "checkpoint",
         "Which keep_checkpoint_max checkpoints to keep: the latest, or the best by validation accuracy."),
    Key("keep_checkpoint_max", Int(low=1), 10, "checkpoint", "Checkpoints kept (older runs' files in the folder count)."),
    Key("resume", Str(), "", "checkpoint",
         "(new) Continue a run: a checkpoint path, or auto = the latest checkpoint in ckpt_save_dir (a fresh "
         "start when there is none). Restores weights, optimizer, schedule position, loss scale, EMA and RNG."),
    Key("resume_opt", Bool(), False, "checkpoint",
         "MindCV's way to resume: with ckpt_path, the same as resume: <ckpt_path>.", role=ALIAS),
    Key("overwrite", Bool(), False, "checkpoint",
         "(new) Allow a new run into a ckpt_save_dir that holds another run's checkpoints; export.py: replace an "
         "existing output file; validate.py: replace existing files in confusion_matrix_dir."),
    # logging
    Key("log_interval", Int(low=1), 100, "logging", "Log the training loss every this many steps."),
    Key("metrics_file", Str(), "metrics.csv", "logging",
         "(new) Per-epoch metrics table (one row per epoch); relative paths are inside ckpt_save_dir."),
    Key("plot", Bool(), True, "logging",
        "(new) Draw PNGs (needs matplotlib): train.py the loss and accuracy curves and the final validation's "
        "confusion matrix at the end of the run; validate.py the confusion matrix."),
    Key("tensorboard_dir", Str(), "", "logging",
         "(new) Also write TensorBoard event files to this folder (relative paths are inside ckpt_save_dir): the "
         "training loss of every step, the lr at every log point and each epoch's metrics.csv row; view them with "
         "tensorboard --logdir. Needs the tensorboard extra (pip install -e \".[tensorboard]\"). '' = don't."),
    Key("metrics_json", Str(), "", "logging",
         "(new) validate.py: also write top-1, top-5, loss, the image count and each class's correct/images/accuracy "
         "(per_class) to this JSON file. '' = don't."),
    Key("confusion_matrix_dir", Str(), "", "logging",
        "(new) validate.py: write confusion_matrix.csv (counts; rows = true class, columns = predicted, headed by "
        "the class names), per_class_accuracy.csv and confusion_matrix.png into this folder; an existing file there "
        "is replaced only in a training run folder (holding recipe.yaml) or with --overwrite True. '' = the "
        "checkpoint's folder when it is a training run folder this process may write (replacing the files the run "
        "wrote at its end), else none. train.py with val_while_train writes them into ckpt_save_dir after its last "
        "validation."),
    # compatibility
    Key("aux_factor", Float(low=0.0), 0.0, "compatibility",
        f"Auxiliary-head loss weight. Refused unless 0.0: {AUX_FACTOR_REASON}.", role=REFUSED),
    Key("enable_modelarts", Bool(), False, "compatibility",
        f"Huawei ModelArts integration. Refused unless false: {MODELARTS_REASON}.", role=REFUSED),
    Key("data_url", Str(), "/cache/data/", "compatibility",
        f"ModelArts dataset URL. Refused when set: {MODELARTS_URL_REASON}; give data_dir.", role=REFUSED),
    Key("multi_data_url", Str(), "/cache/data/", "compatibility",
        f"ModelArts multi-dataset URL. Refused when set: {MODELARTS_URL_REASON}; give data_dir.", role=REFUSED),
    Key("ckpt_url", Str(), "/cache/output/", "compatibility",
        f"ModelArts pretrained-model URL. Refused when set: {MODELARTS_URL_REASON}; give ckpt_path.", role=REFUSED),
    Key("train_url", Str(), "/cache/output/", "compatibility",
        f"ModelArts output URL. Refused when set: {MODELARTS_URL_REASON}; give ckpt_save_dir.", role=REFUSED),
)

KEY_BY_NAME = {key.name: key for key in KEYS}
assert len(KEY_BY_NAME) == len(KEYS), "duplicate key in the schema"
assert all(key.group in GROUPS for key in KEYS), "key with an unknown group"

# `config` is the recipe path itself: accepted (and ignored) inside a recipe, as MindCV's saved recipes carry it.
CONFIG_PATH_KEY = "config"


def defaults():
    """Every key with its default value (lists copied, so callers may change them)."""
    return {key.name: list(key.default) if isinstance(key.default, list) else key.default for key in KEYS}


# Names other frameworks use for a key of ours: spelling alone would not lead from one to the other.
SYNONYMS = {
    "learning_rate": "lr", "base_lr": "lr", "epochs": "epoch_size", "num_epochs": "epoch_size",
    "optimizer": "opt", "lr_scheduler": "scheduler", "sched": "scheduler", "data_path": "data_dir",
    "output_dir": "ckpt_save_dir", "checkpoint": "ckpt_path", "smoothing": "label_smoothing",
    "drop_path": "drop_path_rate", "drop": "drop_rate", "workers": "num_parallel_workers",
    "input_size": "image_resize", "img_size": "image_resize", "model_ema": "ema", "clip_grad_norm": "clip_value",
    "summary_dir": "tensorboard_dir",
}


def closest_keys(name, limit=3):
    """Valid keys spelled most like `name` (or its usual synonym first), for 'did you mean' hints."""
    close = difflib.get_close_matches(name, list(KEY_BY_NAME), n=limit, cutoff=0.6)
    synonym = SYNONYMS.get(name)
    return [synonym] + [key for key in close if key != synonym][: limit - 1] if synonym else close


def unknown_key_message(name, where):
    """The error text for a key that does not exist, with the nearest valid keys; `where` reads like
    "on the command line" or "in recipe x.yaml"."""
    hints = closest_keys(name)
    hint = f"; did you mean {' or '.join(repr(h) for h in hints)}?" if hints else \
        "; run with --help (or python -m mindcv_resnetv2.config --markdown) for the list of keys"
    return f"unknown key {name!r} {where}{hint}"

