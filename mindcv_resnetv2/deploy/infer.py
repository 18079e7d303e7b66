"""Top-k class predictions with class names for image files, from a recipe and its checkpoint.

Class names, index = label, come from the first of: the file given with --class_names; class_names.txt beside
the checkpoint (written by every training run); the recipe's dataset (folder names, CIFAR meta files, the
Fashion-MNIST labels); else the indices themselves.
"""
import dataclasses
import itertools
import json
import logging
import os

import mindspore as ms
import numpy as np

from ..data import read_class_names
from ..engine.builders import build_transforms
from ..errors import InvalidInputError
from ..utils.files import check_writable_target, write_text_atomic
from .images import find_images, load_image
from .network import load_trained_network, setup_single_device

_logger = logging.getLogger(__name__)

CLASS_NAMES_FILE = "class_names.txt"


class ClassNamesError(InvalidInputError):
    """A class-names file that does not fit the model (missing, or another number of classes)."""


@dataclasses.dataclass(frozen=True)
class Prediction:
    """The top-k classes of one image, most probable first."""
    image: str
    class_indices: list
    class_names: list
    probabilities: list

    def to_dict(self):
        return {
            "image": self.image,
            "predictions": [
                {"class_index": index, "class_name": name, "probability": probability}
                for index, name, probability in zip(self.class_indices, self.class_names, self.probabilities)
            ],
        }


def read_names_file(path):
    """Class names from a text file, one per line (blank lines ignored)."""
    if not os.path.isfile(path):
        raise ClassNamesError(f"class names file {path!r} does not exist; give a text file with one class per line")
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip()]


def resolve_class_names(cfg, num_classes, checkpoint_path, names_file=None):
    """(names, where they came from), in the order of the module docstring; always num_classes names."""
    if names_file:
        names = read_names_file(names_file)
        if len(names) != num_classes:
            raise ClassNamesError(
                f"class names file {names_file!r} has {len(names)} names but the model has {num_classes} classes; "
                "give the class_names.txt of the run that trained this checkpoint"
            )
        return names, names_file
    for source, names in _found_names(cfg, checkpoint_path):
        if len(names) == num_classes:
            return names, source
        _logger.warning("ignoring the %d class names of %s: the model has %d classes", len(names), source, num_classes)
    return [str(i) for i in range(num_classes)], "class indices (no class names found)"


def _found_names(cfg, checkpoint_path):
    """(source, names) of the automatic sources that exist, most specific first; read only when reached."""
    beside = os.path.join(os.path.dirname(os.path.abspath(checkpoint_path)), CLASS_NAMES_FILE)
    if os.path.isfile(beside):
        yield beside, read_names_file(beside)
    names = _dataset_names(cfg)
    if names is not None:
        yield f"dataset {cfg.dataset} at {cfg.data_dir}", names


def _dataset_names(cfg):
    """The recipe dataset's class names, or None when the data is not on this machine (and its names are not fixed)."""
    try:
        return read_class_names(cfg.dataset, cfg.data_dir, cfg.val_split, require_files=False)
    except (OSError, ValueError):
        return None


def softmax(logits):
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _batches(paths, inputs, batch_size):
    """Runs of consecutive same-shape inputs, at most batch_size long (images of another aspect ratio can
    keep theirs with resize-only transforms)."""
    pairs = zip(paths, inputs)
    for _, run in itertools.groupby(pairs, key=lambda pair: pair[1].shape):
        run = list(run)
        for start in range(0, len(run), batch_size):
            yield run[start:start + batch_size]


def predict(net, cfg, paths, class_names, top_k=5):
    """A Prediction per image path, in input order."""
    transforms = build_transforms(cfg, training=False)
    inputs = [load_image(path, cfg, transforms) for path in paths]
    top_k = min(top_k, len(class_names))
    predictions = []
    for batch in _batches(paths, inputs, cfg.batch_size):
        logits = net(ms.Tensor(np.stack([image for _, image in batch]))).asnumpy()
        probabilities = softmax(logits.astype(np.float64))
        for (path, _), row in zip(batch, probabilities):
            best = np.argsort(-row, kind="stable")[:top_k]
            predictions.append(Prediction(path, [int(i) for i in best], [class_names[i] for i in best],
                                          [float(row[i]) for i in best]))
    return predictions


def format_table(predictions):
    """Aligned text table: one row per (image, rank); the image is named on its first row only."""
    rows = [("image", "rank", "class", "index", "probability")]
    for prediction in predictions:
        for rank, (index, name, probability) in enumerate(
                zip(prediction.class_indices, prediction.class_names, prediction.probabilities), start=1):
            rows.append((prediction.image if rank == 1 else "", str(rank), name, str(index), f"{probability:.4f}"))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def run_infer(cfg, input_path, top_k=5, names_file=None, json_path=None):
    """infer.py: predict every image of input_path, print the table, optionally write JSON; returns the predictions."""
    paths = find_images(input_path)
    if json_path:
        check_writable_target(json_path)  # before the work, not after it
    setup_single_device(cfg)
    net, num_classes, checkpoint = load_trained_network(cfg)
    class_names, source = resolve_class_names(cfg, num_classes, checkpoint, names_file)
    _logger.info("class names from %s", source)
    predictions = predict(net, cfg, paths, class_names, top_k)
    print(format_table(predictions))
    if json_path:
        document = {"model": cfg.model, "checkpoint": checkpoint, "class_names_source": source,
                    "results": [p.to_dict() for p in predictions]}
        write_text_atomic(json_path, json.dumps(document, indent=2), what="predictions file")
        _logger.info("predictions written to %s", json_path)
    return predictions
