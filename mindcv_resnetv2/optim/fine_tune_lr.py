"""Whether a fine-tune's learning rate looks like a from-scratch recipe's: the rule train.py warns by when it starts
a new classifier on pretrained weights (a suggestion; the run goes ahead).

SGD-type optimizers follow the linear scaling rule (lr in proportion to the images per update): from-scratch
ImageNet recipes use 0.1 per 256 images, BiT's fine-tuning HyperRule 0.003 per 512 (0.0015 per 256). Adaptive
optimizers' lr hardly scales with the batch: from-scratch recipes use about 1e-3, fine-tuning 1e-5 to 1e-4.
"""
SGD_TYPE = ("sgd", "momentum", "nesterov", "lars")
SGD_LARGE_LR_PER_256 = 0.02
ADAPTIVE_LARGE_LR = 5e-4


def large_fine_tune_lr_warning(opt, lr, images_per_update, layer_decay=None):
    """The warning for a new head trained at `lr` when that is large by the rule above; None when it is not, or
    when layer_decay is set (the backbone's lr is then already chosen apart from the head's)."""
    if layer_decay is not None:
        return None
    if opt in SGD_TYPE:
        per_256 = lr * 256 / images_per_update
        if per_256 <= SGD_LARGE_LR_PER_256:
            return None
        rule = (f"{per_256:.3g} per 256 images (lr x 256 / {images_per_update} images per update), above the "
                f"{SGD_LARGE_LR_PER_256} per 256 warned at for {opt}: from-scratch ImageNet recipes use 0.1 per 256, "
                f"BiT's fine-tuning 0.0015")
    else:
        if lr <= ADAPTIVE_LARGE_LR:
            return None
        rule = (f"above the {ADAPTIVE_LARGE_LR} warned at for the adaptive optimizer {opt} whatever the batch: "
                f"from-scratch recipes use about 1e-3, fine-tuning 1e-5 to 1e-4")
    return (f"fine-tuning a new classifier at lr {lr:g}, {rule}. A from-scratch rate can wash out the pretrained "
            f"features while the new head is still random: try --lr {lr / 10:.3g} (or lower), or --layer_decay 0.7 "
            f"so the backbone moves less than the head. (A suggestion: the run goes ahead.)")
