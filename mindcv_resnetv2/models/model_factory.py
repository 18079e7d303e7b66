"""`create_model`: the single entry point that train, validate, infer, the converters and the benchmarks use to
build a registered network, with its initial weights (pretrained.py loads them)."""
from ..unsupported import refuse_unless_default
from .pretrained import load_checkpoint_file, load_pretrained, zero_classifier
from .registry import model_entrypoint


def create_model(
    model_name,
    num_classes=None,
    pretrained=False,
    in_channels=3,
    checkpoint_path="",
    ema=False,
    auto_mapping=False,
    *,
    drop_rate=0.0,
    drop_path_rate=0.0,
    features_only=False,
    zero_init_head=False,
    **kwargs,
):
    """Build a registered model and, if asked, load weights strictly into it; MindCV 0.3.0's parameters and
    defaults, this project's after them (keyword-only), except `num_classes`: None (the default) is the model's
    own default cfg's class count (10 for the CIFAR nets) where MindCV's create_model says 1000 for every model.

    `pretrained` loads the registry's published weights (downloaded on first use); `checkpoint_path` loads a file
    (its EMA weights with `ema`); they are exclusive. Either may have another class count than `num_classes`: the
    classifier is then re-initialised (fine-tuning); or 1 input channel (network N) or 3 (network 1): the first
    convolution is then adapted (checkpoint.adapt_first_conv). `zero_init_head`: a classifier so replaced starts
    at zero (pretrained.zero_classifier). `auto_mapping` must stay False: names are matched exactly.
    The network's `replaced_classifier` lists the loaded weights' classifier entries it dropped (empty when the
    head was loaded or no weights were): train.py's learning-rate advice for a new head reads it.
    """
    refuse_unless_default("create_model", "auto_mapping", auto_mapping, False,
                          "checkpoints load strictly by parameter name here; convert a timm or BiT file with "
                          "python -m mindcv_resnetv2.convert")
    if pretrained and checkpoint_path:
        raise ValueError(f"pretrained=True and checkpoint_path='{checkpoint_path}' are exclusive: pick one")
    if num_classes is not None:  # else the entry point's default
        kwargs["num_classes"] = num_classes
    net = model_entrypoint(model_name)(
        pretrained=False,
        in_channels=in_channels,
        drop_rate=drop_rate,
        drop_path_rate=drop_path_rate,
        features_only=features_only,
        **kwargs,
    )
    replaced = []
    if pretrained:  # what the builder does with pretrained=True, here to learn whether the head was replaced
        replaced = load_pretrained(net, model_name)
    elif checkpoint_path:
        replaced = load_checkpoint_file(net, checkpoint_path, use_ema=ema)
    if zero_init_head and replaced:
        zero_classifier(net)
    net.replaced_classifier = tuple(replaced)
    return net
