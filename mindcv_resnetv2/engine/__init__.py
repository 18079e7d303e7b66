"""Training and evaluation engine: runtime set-up, the compiled train step, checkpoints, metrics, the runs."""
from .trainer import Trainer, train
from .validate import validate

__all__ = ["Trainer", "train", "validate"]
