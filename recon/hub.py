"""Loading and saving model weights: Hub-style folders (config.json + model.safetensors + README.md).

A weights source is a local folder or a Hugging Face Hub repo id. With no source, the environment
variable RECON_CGAN_WEIGHTS / RECON_VAE_WEIGHTS / RECON_VOXEL_CLASSIFIER_WEIGHTS is used, else the
folder embedded in the package (recon/weights/<kind>/). Weights are stored as float16 (half the
size) and loaded as float32.
Everything is checked before use, and every problem is a WeightsError that names the file.
"""

import json
import logging
import os
import struct
from pathlib import Path

import torch
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import EntryNotFoundError, HFValidationError
from huggingface_hub.utils import validate_repo_id
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from recon.errors import ReconError, WeightsError, weights_mismatch
from recon.models import CGANGenerator, VoxelClassifier, VoxelVAE

logger = logging.getLogger(__name__)

EMBEDDED_WEIGHTS = Path(__file__).parent / "weights"
MODEL_CLASSES = {"cgan": CGANGenerator, "vae": VoxelVAE, "voxel-classifier": VoxelClassifier}
WEIGHTS_ENV = {"cgan": "RECON_CGAN_WEIGHTS", "vae": "RECON_VAE_WEIGHTS",
               "voxel-classifier": "RECON_VOXEL_CLASSIFIER_WEIGHTS"}
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" -> CUDA when available, else CPU; otherwise the named device.

    Raises ReconError for an unknown device name or CUDA asked for on a machine without it.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ReconError(f"Unknown device {device!r}: use 'auto', 'cpu' or 'cuda'.") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ReconError(f"Device {device!r} was asked for but CUDA is not available here: use 'auto' or 'cpu'.")
    return resolved


def load_model(kind: str, source: str | Path | None = None, device: str | torch.device = "cpu",
               cache_dir: str | Path | None = None) -> nn.Module:
    """Load the "cgan" or "vae" generator-side model (or the "voxel-classifier" of the Fréchet voxel
    distance), float32, in eval mode, on `device`.

    source: local folder or Hub repo id; None -> $RECON_<KIND>_WEIGHTS, else recon/weights/<kind>/.
    cache_dir: Hub cache folder (default: huggingface_hub's). Raises ValueError for an unknown kind,
    WeightsError for weights that are missing, unreadable, unsafe or do not fit their config.
    """
    if kind not in MODEL_CLASSES:
        raise ValueError(f"Unknown model kind {kind!r}: expected one of {sorted(MODEL_CLASSES)}.")
    if source is None:
        source = os.environ.get(WEIGHTS_ENV[kind]) or EMBEDDED_WEIGHTS / kind
    folder = Path(source).expanduser()
    if not folder.is_dir() and _is_repo_id(source):
        folder = _download_from_hub(str(source), cache_dir)
    model = _load_folder(MODEL_CLASSES[kind], folder)
    logger.info("loaded %s weights from %s", kind, folder)
    return model.to(resolve_device(device))


def save_weights(model: nn.Module, folder: str | Path, card_text: str | None = None) -> Path:
    """Write `model` as a Hub-style folder: config.json, float16 model.safetensors, README.md.

    card_text replaces the default model card. Returns the folder.
    """
    folder = Path(folder)
    model.save_pretrained(folder)
    # save_pretrained writes float32; rewrite as float16 (inference needs no more, files halve).
    half = {name: tensor.detach().to("cpu", torch.float16).contiguous()
            for name, tensor in model.state_dict().items()}
    save_file(half, folder / WEIGHTS_FILE, metadata={"format": "pt"})
    if card_text is not None:
        (folder / CARD_FILE).write_text(card_text, encoding="utf-8")
    return folder


def _is_repo_id(source: str | Path) -> bool:
    """Whether `source` (a string, not a Path object) has the shape of a Hub repo id "org/name"."""
    if isinstance(source, Path):
        return False
    try:
        validate_repo_id(source)
    except HFValidationError:
        return False
    return True


def _download_from_hub(repo_id: str, cache_dir: str | Path | None) -> Path:
    """Download (or find in the cache) config.json and model.safetensors; returns their folder."""
    try:
        hf_hub_download(repo_id, CONFIG_FILE, cache_dir=cache_dir)
        return Path(hf_hub_download(repo_id, WEIGHTS_FILE, cache_dir=cache_dir)).parent
    except (OSError, EntryNotFoundError) as error:  # cache misses, HTTP, repo and file-not-in-repo errors
        raise WeightsError(
            f"No local folder {repo_id!r}, and Hub repo {repo_id!r} could not be fetched ({type(error).__name__}). "
            "Check the repo id and the network; with HF_HUB_OFFLINE=1 only repos already in the Hub cache load."
        ) from error


def _load_folder(model_class: type[nn.Module], folder: Path) -> nn.Module:
    """Build `model_class` from folder/config.json and load folder/model.safetensors into it."""
    if not folder.is_dir():
        raise WeightsError(f"Weights folder {folder} does not exist: pass a folder holding "
                           f"{CONFIG_FILE} and {WEIGHTS_FILE}, or a Hub repo id.")
    model = model_class(**_read_config(folder / CONFIG_FILE, model_class))
    weights = _read_safetensors(folder / WEIGHTS_FILE)
    expected = model.state_dict()
    missing = sorted(expected.keys() - weights.keys())
    unexpected = sorted(weights.keys() - expected.keys())
    wrong_shape = [f"{name} {tuple(weights[name].shape)} != {tuple(tensor.shape)}"
                   for name, tensor in expected.items() if name in weights and weights[name].shape != tensor.shape]
    if missing or unexpected or wrong_shape:
        problems = weights_mismatch(missing, unexpected, wrong_shape)
        raise WeightsError(f"{folder / WEIGHTS_FILE} does not fit the {model_class.__name__} described by "
                           f"{folder / CONFIG_FILE} ({problems}): save config and weights together again.")
    model.load_state_dict({name: tensor.to(expected[name].dtype) for name, tensor in weights.items()})
    return model.eval()


def _read_config(path: Path, model_class: type[nn.Module]) -> dict:
    """Parse config.json and check that it builds `model_class`."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise WeightsError(f"{path} is missing: a weights folder needs {CONFIG_FILE} beside {WEIGHTS_FILE} "
                           "(written by save_weights / save_pretrained).") from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WeightsError(f"{path} is not valid JSON ({error}): save the model again.") from error
    if not isinstance(config, dict):
        raise WeightsError(f"{path} must hold a JSON object of {model_class.__name__} arguments.")
    try:
        model_class(**config)
    except (TypeError, ValueError) as error:
        raise WeightsError(f"{path} does not describe a {model_class.__name__} ({error}).") from error
    return config


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file after checking its header; pickles and truncated files are refused."""
    if not path.is_file():
        raise WeightsError(f"{path} is missing: the folder needs the model weights as {WEIGHTS_FILE}.")
    size = path.stat().st_size
    with path.open("rb") as file:
        start = file.read(8)
        # A safetensors file starts with a little-endian u64 header length, then that much JSON.
        header_length = struct.unpack("<Q", start)[0] if len(start) == 8 else -1
        header = file.read(header_length) if 0 < header_length <= size - 8 else b""
    if start[:2] == b"PK" or start[:1] == b"\x80":
        raise WeightsError(f"{path} is a zip/pickle file (torch.save), not safetensors; pickles are never "
                           "loaded: convert it with safetensors.torch.save_file or save_weights.")
    try:
        data_length = max((info["data_offsets"][1] for name, info in json.loads(header).items()
                           if name != "__metadata__"), default=0)
    except (ValueError, TypeError, KeyError, IndexError) as error:
        raise WeightsError(f"{path} is not a valid safetensors file (unreadable header): save it again.") from error
    if 8 + header_length + data_length > size:
        raise WeightsError(f"{path} is truncated ({size} bytes, header promises {8 + header_length + data_length}): "
                           "download or save it again.")
    try:
        return load_file(path)
    except (SafetensorError, OSError, RuntimeError) as error:
        raise WeightsError(f"{path} is not a valid safetensors file ({error}): save it again.") from error
