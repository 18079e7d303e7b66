"""Export a trained network with `mindspore.export`, then check the file reproduces the checkpoint's outputs.

Formats on MindSpore 2.8 (measured): MINDIR on every backend, saved with a dynamic batch dimension;
ONNX on CPU/GPU/Ascend with a fixed batch (MindSpore's ONNX exporter refuses dynamic shapes, and has no
converter for the padded max-pool of the paper-layout stems or the avg-down pools, so those switch to their
exportable forms first: `models.make_onnx_exportable`); AIR on Ascend only.
Verification: MINDIR is loaded back with `mindspore.load` + `nn.GraphCell`, ONNX is run with onnxruntime when it
is installed; both are compared with the network on a seeded random input.
"""
import contextlib
import dataclasses
import importlib.util
import logging
import os
import stat

import mindspore as ms
import numpy as np

from ..errors import InvalidInputError
from ..models import make_onnx_exportable
from ..utils.backend import device_target
from ..utils.files import atomic_output, check_new_output, is_stream, new_file_mode
from .network import load_trained_network, setup_single_device

_logger = logging.getLogger(__name__)

EXPORT_FORMATS = {"MINDIR": ".mindir", "ONNX": ".onnx", "AIR": ".air"}
# Largest accepted |exported - checkpoint| output difference, relative to the output scale (at least 1).
TOLERANCE = 1e-4
# Rows of the sample input when the file has a dynamic batch: more than one shows the batch really is dynamic.
DYNAMIC_SAMPLE_BATCH = 2


class ExportError(InvalidInputError):
    """The format cannot be exported here, or the exported file does not reproduce the checkpoint."""


@dataclasses.dataclass(frozen=True)
class ExportResult:
    path: str
    file_format: str
    input_shape: tuple
    max_difference: float = None
    verified_with: str = None
    note: str = ""

    def summary(self):
        shape = "x".join("N" if d is None else str(d) for d in self.input_shape)
        lines = [f"exported {self.file_format} to {self.path} (input {shape}, float32)"]
        if self.verified_with:
            lines.append(f"max |exported - checkpoint| output difference: {self.max_difference:.3g} "
                         f"(checked with {self.verified_with}; tolerance {TOLERANCE:g} x output scale)")
        else:
            lines.append(f"not verified: {self.note}")
        return "\n".join(lines)


def normalize_format(file_format):
    """MINDIR/ONNX/AIR in any case; ExportError naming the accepted formats otherwise."""
    name = str(file_format).upper()
    if name not in EXPORT_FORMATS:
        raise ExportError(f"unknown file_format {file_format!r}; use one of {', '.join(EXPORT_FORMATS)}")
    return name


def output_path(file_format, output, checkpoint_path):
    """Where the file goes: `output` with the format's extension, else beside the checkpoint with its name.

    The extension is written in lower case (`m.MINDIR` -> `m.mindir`): MindSpore's exporters append their own to
    any other spelling. A device or FIFO (/dev/stdout) is written as named."""
    extension = EXPORT_FORMATS[file_format]
    if not output:
        output = os.path.splitext(os.path.abspath(checkpoint_path))[0]
    elif is_stream(os.path.abspath(output)):
        return output
    if output.lower().endswith(extension):
        output = output[:-len(extension)]
    return output + extension


def export_model(cfg, file_format="MINDIR", output="", batch_size=None):
    """export.py: write the checkpoint of `cfg` as `file_format`, verify it, and return an ExportResult.

    batch_size: fixed batch of the exported input; None = dynamic for MINDIR, 1 for ONNX and AIR.
    An existing output file is replaced only with the recipe key `overwrite`.
    """
    file_format = normalize_format(file_format)
    setup_single_device(cfg)
    if file_format == "AIR" and device_target() != "Ascend":
        raise ExportError(
            f"AIR export needs MindSpore on Ascend (it is built by CANN's graph engine); this MindSpore runs on "
            f"{device_target()}. Use --file_format MINDIR (MindSpore / MindSpore Lite) or ONNX here, or run on Ascend."
        )
    if output:  # before the network is built
        check_new_output(output_path(file_format, output, ""), cfg.overwrite, inputs=(cfg.ckpt_path,))
    net, _, checkpoint = load_trained_network(cfg)
    if batch_size is None and file_format != "MINDIR":
        batch_size = 1
    input_shape = (batch_size, cfg.in_channels, cfg.image_resize, cfg.image_resize)
    path = output_path(file_format, output, checkpoint)
    if not output:
        check_new_output(path, cfg.overwrite, inputs=(checkpoint,))
    sample = np.random.default_rng(cfg.seed).standard_normal(
        (batch_size or DYNAMIC_SAMPLE_BATCH,) + input_shape[1:]).astype(np.float32)
    expected = net(ms.Tensor(sample)).asnumpy()
    # Written under a temporary name, verified, then renamed: a failure never leaves a file under the final name.
    with atomic_output(path, what=f"{file_format} file", extension=EXPORT_FORMATS[file_format]) as temporary:
        with _folder_mode_kept(os.path.dirname(temporary)):
            _export(net, input_shape, temporary, file_format)
        exported, verified_with, note = _run_exported(temporary, file_format, sample)
        if exported is None:
            result = ExportResult(path, file_format, input_shape, note=note)
        else:
            difference = float(np.abs(exported - expected).max())
            result = ExportResult(path, file_format, input_shape, difference, verified_with)
            if difference > TOLERANCE * max(1.0, float(np.abs(expected).max())):
                raise ExportError(f"{result.summary()}\nthe exported model does not reproduce the checkpoint's "
                                  f"outputs; nothing was written to {path}")
    _logger.info("wrote %s", path)
    return result


@contextlib.contextmanager
def _folder_mode_kept(folder):
    """MindSpore's exporters change the mode of the folder they write into (0700 after ONNX): put it back."""
    mode = stat.S_IMODE(os.stat(folder).st_mode)
    try:
        yield
    finally:
        if os.path.isdir(folder) and stat.S_IMODE(os.stat(folder).st_mode) != mode:
            os.chmod(folder, mode)


def _export(net, input_shape, path, file_format):
    """mindspore.export, with its converter errors turned into one line, and the file left writable."""
    placeholder = ms.Tensor(shape=list(input_shape), dtype=ms.float32)
    if file_format == "ONNX":
        make_onnx_exportable(net)  # pools MindSpore cannot convert switch to an equivalent form it can
    try:
        if file_format == "ONNX":  # named inputs and outputs (ms.export numbers them: the logits were "70")
            ms.onnx.export(net, placeholder, file_name=path, input_names=["images"], output_names=["logits"])
        else:
            ms.export(net, placeholder, file_name=path, file_format=file_format)
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[0]
        raise ExportError(
            f"MindSpore {ms.__version__} cannot export this network to {file_format}: {reason} "
            "Export MINDIR instead (supported for every model of this package)."
        ) from exc
    os.chmod(path, new_file_mode())  # MindSpore writes private read-only files (0400); checkpoints get this mode


def _run_exported(path, file_format, sample):
    """(outputs of the exported file on `sample`, what ran it, why not) - outputs are None when it cannot run here."""
    if file_format == "MINDIR":
        return ms.nn.GraphCell(ms.load(path))(ms.Tensor(sample)).asnumpy(), f"mindspore.load {ms.__version__}", ""
    if file_format == "ONNX":
        if importlib.util.find_spec("onnxruntime") is None:
            return None, None, "onnxruntime is not installed (pip install onnxruntime)"
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        outputs = session.run(None, {session.get_inputs()[0].name: sample})[0]
        return outputs, f"onnxruntime {onnxruntime.__version__}", ""
    return None, None, "AIR files are run by CANN (ACL), not by MindSpore"
