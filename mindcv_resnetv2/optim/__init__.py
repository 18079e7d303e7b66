"""Losses, optimizers and learning-rate schedules built from a recipe's keys."""
from .loss import create_loss
from .optimizer import create_optimizer
from .scheduler import create_scheduler

__all__ = ["create_loss", "create_optimizer", "create_scheduler"]
