"""Validate a checkpoint with MindCV's public API, as MindCV's validate.py does: eval transforms and loader,
create_model(checkpoint_path=...), then mindspore Model.eval with MindCV's loss and ValCallback. Prints the result
as JSON, and how many network parameters equal the checkpoint's (MindCV skips a missing file silently)."""
import json

import mindspore as ms
from mindcv.data import create_dataset, create_loader, create_transforms
from mindcv.loss import create_loss
from mindcv.models import create_model
from mindcv.utils import ValCallback
from mindspore import nn

from config import parse_args  # isort: skip


def main():
    args = parse_args()
    ms.set_context(mode=args.mode)
    dataset = create_dataset(name="", root=args.data_dir, split="val", shuffle=False, num_parallel_workers=1)
    transforms = create_transforms(dataset_name="", is_training=False, image_resize=args.image_resize)
    loader = create_loader(dataset=dataset, batch_size=args.batch_size, drop_remainder=False, is_training=False,
                           transform=transforms, num_parallel_workers=1)
    network = create_model(model_name=args.model, num_classes=dataset.num_classes(), checkpoint_path=args.ckpt_path)
    network.set_train(False)
    saved = ms.load_checkpoint(args.ckpt_path)
    params = list(network.get_parameters())
    loaded = sum(1 for p in params if p.name in saved and (p.asnumpy() == saved[p.name].asnumpy()).all())
    metrics = {"Top_1_Accuracy": nn.Top1CategoricalAccuracy(), "loss": nn.metrics.Loss()}
    model = ms.Model(network, loss_fn=create_loss(name="CE"), metrics=metrics)
    result = model.eval(loader, dataset_sink_mode=False, callbacks=[ValCallback(1)])
    print("RESULT " + json.dumps(dict(result, parameters=len(params), loaded=loaded)))


if __name__ == "__main__":
    main()
