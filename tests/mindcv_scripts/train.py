"""Train with MindCV's public API only, in the order MindCV's train.py calls it: dataset, transforms, loader,
model, loss, scheduler, optimizer, metrics, trainer (mindcv.utils.create_trainer) and StateMonitor, which saves
`<ckpt_save_dir>/<model>-<epoch>_<step>.ckpt`."""
import os

import mindspore as ms
from mindcv.data import create_dataset, create_loader, create_transforms
from mindcv.loss import create_loss
from mindcv.models import create_model
from mindcv.optim import create_optimizer
from mindcv.scheduler import create_scheduler
from mindcv.utils import StateMonitor, create_trainer, get_metrics, set_seed

from config import parse_args  # isort: skip


def main():
    args = parse_args()
    ms.set_context(mode=args.mode)
    set_seed(0)
    dataset = create_dataset(name="", root=args.data_dir, split="train", shuffle=True, num_parallel_workers=1)
    num_classes = dataset.num_classes()
    transforms = create_transforms(dataset_name="", is_training=True, image_resize=args.image_resize)
    loader = create_loader(dataset=dataset, batch_size=args.batch_size, drop_remainder=True, is_training=True,
                           num_classes=num_classes, transform=transforms, num_parallel_workers=1)
    network = create_model(model_name=args.model, num_classes=num_classes, in_channels=3)
    loss = create_loss(name="CE", label_smoothing=0.1)
    lr = create_scheduler(loader.get_dataset_size(), scheduler="cosine_decay", lr=args.lr, min_lr=0.0,
                          warmup_epochs=0, decay_epochs=args.epoch_size, num_epochs=args.epoch_size)
    optimizer = create_optimizer(network, opt="momentum", lr=lr, momentum=0.9, weight_decay=1e-4)
    metrics = get_metrics(num_classes)
    trainer = create_trainer(network, loss, optimizer, metrics, amp_level="O0", amp_cast_list=None,
                             loss_scale_type="fixed", loss_scale=1.0)
    monitor = StateMonitor(trainer, model_name=args.model, dataset_sink_mode=False, metric_name=list(metrics),
                           ckpt_save_dir=args.ckpt_save_dir, summary_dir=os.path.join(args.ckpt_save_dir, "summary"),
                           log_interval=1)
    print(f"network: {type(network).__module__}.{type(network).__name__}")
    trainer.train(args.epoch_size, loader, callbacks=[monitor], dataset_sink_mode=False)


if __name__ == "__main__":
    main()
