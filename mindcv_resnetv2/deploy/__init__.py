"""Using a trained checkpoint outside training: top-k predictions on image files, export for deployment.

    python infer.py -c recipe.yaml --ckpt_path model.ckpt --input photo.jpg
    python export.py -c recipe.yaml --ckpt_path model.ckpt --file_format MINDIR
"""
from .export import EXPORT_FORMATS, ExportError, ExportResult, export_model
from .images import ImageInputError, find_images, load_image
from .infer import ClassNamesError, Prediction, predict, resolve_class_names
from .network import load_trained_network

__all__ = [
    "EXPORT_FORMATS", "ExportError", "ExportResult", "export_model", "ImageInputError", "find_images", "load_image",
    "ClassNamesError", "Prediction", "predict", "resolve_class_names", "load_trained_network",
]
