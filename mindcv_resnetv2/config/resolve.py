"""Turn what the user wrote into what the run uses: older MindCV spellings into their current keys, and
`auto` device settings into the concrete device and compile level, so the saved recipe states them."""
import logging

from ..optim.optimizer import FILTER_BIAS_AND_BN_MEANING
from ..utils.backend import device_target as installed_device
from .schema import KEY_BY_NAME, ConfigError

_logger = logging.getLogger(__name__)

# Alias value -> the value of the current key it stands for.
_ALIASES = {
    "filter_bias_and_bn": ("weight_decay_filter", FILTER_BIAS_AND_BN_MEANING),
    "dynamic_loss_scale": ("loss_scale_type", {True: "dynamic", False: "fixed"}),
}


def resolve(cfg):
    """Rewrite aliases and `auto` values in place; raise ConfigError when an alias contradicts its key."""
    _resolve_value_aliases(cfg)
    _resolve_resume_opt(cfg)
    _resolve_device(cfg)
    return cfg


def _resolve_value_aliases(cfg):
    for alias, (target, meaning) in _ALIASES.items():
        value = getattr(cfg, alias)
        if value is None:
            continue
        wanted, current = meaning[value], getattr(cfg, target)
        if current not in (wanted, KEY_BY_NAME[target].default):
            raise ConfigError(
                f"{alias}: {value} means {target}: {wanted}, but {target} is {current}; keep only {target}"
            )
        setattr(cfg, target, wanted)
        setattr(cfg, alias, None)


def _resolve_resume_opt(cfg):
    """MindCV resumed with `ckpt_path: X` + `resume_opt: True`; here that is `resume: X`."""
    if not cfg.resume_opt:
        return
    if not cfg.ckpt_path:
        raise ConfigError(
            "resume_opt: True needs ckpt_path (MindCV style); to continue a run use --resume PATH or --resume auto"
        )
    if cfg.resume and cfg.resume != cfg.ckpt_path:
        raise ConfigError(
            f"resume_opt with ckpt_path {cfg.ckpt_path!r} contradicts resume {cfg.resume!r}; keep only resume"
        )
    _logger.info("resume_opt with ckpt_path %s: resuming from it (the same as --resume %s)", cfg.ckpt_path, cfg.ckpt_path)
    cfg.resume, cfg.ckpt_path, cfg.resume_opt = cfg.ckpt_path, "", False


def _resolve_device(cfg):
    detected = installed_device()
    if cfg.device_target == "auto":
        cfg.device_target = detected
    elif cfg.device_target not in (detected, "CPU"):
        _logger.warning(
            "device_target %s is not available with this MindSpore package; running on %s instead "
            "(set device_target: auto to silence this)", cfg.device_target, detected
        )
        cfg.device_target = detected
    if cfg.jit_level == "auto":
        cfg.jit_level = "O2" if cfg.device_target == "Ascend" else "O0"
