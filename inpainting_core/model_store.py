"""Where the own model lives on disk, and how it gets there.

`settings.OLPE_MODEL` names the model either as a local directory or as a
Hugging Face hub id. Jobs never download anything: a museum PC may be offline,
and a multi-gigabyte download inside a visitor's job would time out anyway.
Instead `manage.py fetch_model` copies a hub model into
`settings.OLPE_MODEL_DIR/<safe name>`, and the engine looks there (or in the
Hugging Face cache, for a model someone fetched with other tools).

Nothing here imports torch or diffusers, so the web tier can ask whether the
model is present without loading a machine-learning stack.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Optional

from django.conf import settings
from django.utils.translation import gettext_lazy as _

MODEL_INDEX = "model_index.json"
# Written beside a fetched model: which hub id and commit it is a copy of.
SOURCE_RECORD = "olpe_source.json"
# Written into a miniature test model (tooling/tiny_model.py builds them): the
# model is a fixture, and the engine refuses it for visitors.
TINY_MODEL_MARKER = "olpe_tiny_model.json"

# Hub ids are "name" or "owner/name" with letters, digits, "-", "_" and ".".
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
_WEIGHT_FILE = re.compile(
    r"^(?P<stem>[^.]+?)(?:\.(?P<variant>[A-Za-z0-9_]+))?(?:-\d{5}-of-\d{5})?"
    r"\.(?P<format>safetensors|bin)$"
)
_WEIGHT_INDEX = re.compile(
    r"^[^.]+\.(?:(?P<variant>[A-Za-z0-9_]+)\.)?(?:safetensors|bin)\.index\.json$"
)
# Best first: safetensors need no pickle; full precision can be cast to float16 on
# load, while an fp16-only copy is what a repository without full weights offers.
_WEIGHT_PREFERENCE = (
    (None, "safetensors"),
    ("fp16", "safetensors"),
    (None, "bin"),
    ("fp16", "bin"),
)
# Components the pipeline never loads (it gets safety_checker=None): the engine
# loads a shipped checker itself, when curators turn it on; fetched only on request.
_UNUSED_FOLDERS = {"safety_checker"}


class ModelStoreError(Exception):
    """A problem a curator can act on; the message is translated."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class ModelLocation:
    """The configured model and the local directory it resolves to, if any.

    `problem` is empty when `path` holds a complete pipeline.
    """

    configured: str
    path: Optional[Path]
    is_hub_id: bool
    problem: str = ""

    @property
    def found(self) -> bool:
        return self.path is not None and not self.problem


# ------------------------------------------------------------------------------
# Names
# ------------------------------------------------------------------------------


def is_hub_id(value: str) -> bool:
    return bool(_HUB_ID.match(value)) and ".." not in value


def looks_like_path(value: str) -> bool:
    """Whether the setting names a directory rather than a hub id.

    "owner/name" is both a valid relative path and a hub id: an existing
    directory wins, as in `from_pretrained`.
    """
    return (
        Path(value).expanduser().is_dir()
        or value.startswith(("/", ".", "~"))
        or "\\" in value
        or not is_hub_id(value)
    )


def safe_name(hub_id: str) -> str:
    """A directory name for a hub id, reversible and free of path separators."""
    if not is_hub_id(hub_id):
        raise ModelStoreError(_("“%(model)s” is not a valid model id.") % {"model": hub_id})
    return hub_id.replace("/", "--")


def store_directory() -> Path:
    return Path(settings.OLPE_MODEL_DIR)


def local_copy_directory(hub_id: str) -> Path:
    return store_directory() / safe_name(hub_id)


# ------------------------------------------------------------------------------
# Finding a model
# ------------------------------------------------------------------------------


def locate(configured: str) -> ModelLocation:
    """Resolve a directory or hub id to a local pipeline directory, offline."""
    configured = str(configured).strip()
    if not configured:
        return ModelLocation(
            configured, None, False, str(_("No model is configured (OLPE_MODEL)."))
        )
    if looks_like_path(configured):
        return _locate_directory(configured)
    return _locate_hub_model(configured)


def _locate_directory(configured: str) -> ModelLocation:
    path = Path(configured).expanduser()
    if not path.is_dir():
        problem = _("The model directory %(path)s does not exist.") % {"path": path}
        return ModelLocation(configured, None, False, str(problem))
    return ModelLocation(configured, path, False, pipeline_problem(path) or "")


def _locate_hub_model(hub_id: str) -> ModelLocation:
    for candidate in (local_copy_directory(hub_id), cached_snapshot(hub_id)):
        if candidate is not None and (candidate / MODEL_INDEX).is_file():
            return ModelLocation(hub_id, candidate, True, pipeline_problem(candidate) or "")
    problem = _("The model %(model)s has not been downloaded. Run manage.py fetch_model.") % {
        "model": hub_id
    }
    return ModelLocation(hub_id, None, True, str(problem))


def cached_snapshot(hub_id: str) -> Optional[Path]:
    """The Hugging Face cache's snapshot of the model's main revision, if any."""
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(hub_id, MODEL_INDEX)
    if isinstance(cached, str):
        return Path(cached).parent
    return None


def pipeline_problem(path: Path) -> Optional[str]:
    """Why `path` is not a complete diffusers pipeline, or None if it looks complete.

    Cheap checks only (no weights are read): the index exists, and every model
    folder (one with a config.json) the engine loads has weights. An interrupted
    download leaves exactly such gaps.
    """
    index_file = path / MODEL_INDEX
    if not index_file.is_file():
        return str(
            _("%(path)s is not a diffusers pipeline: model_index.json is missing.") % {"path": path}
        )
    try:
        index = json.loads(index_file.read_text("utf-8"))
    except (OSError, ValueError) as error:
        return str(_("%(file)s cannot be read: %(error)s") % {"file": index_file, "error": error})
    for component in _loaded_components(index):
        folder = path / component
        if not folder.is_dir():
            return str(
                _("The model in %(path)s lacks its %(part)s.") % {"path": path, "part": component}
            )
        if (folder / "config.json").is_file() and not _weight_files(folder):
            return str(
                _("The model in %(path)s has no weights for its %(part)s; fetch it again.")
                % {"path": path, "part": component}
            )
    return None


def _loaded_components(index: dict) -> list[str]:
    """Folders named in model_index.json that the engine actually loads."""
    return [
        name
        for name, value in index.items()
        if not name.startswith("_")
        and isinstance(value, list)
        and value[0] is not None
        and name not in _UNUSED_FOLDERS
    ]


def _weight_files(folder: Path) -> list[Path]:
    return [file for file in folder.iterdir() if _WEIGHT_FILE.match(file.name)]


def weights_variant(path: Path) -> Optional[str]:
    """The variant to pass to `from_pretrained`: "fp16" for an fp16-only copy, else None."""
    unet = Path(path) / "unet"
    if not unet.is_dir():
        return None
    variants = {_WEIGHT_FILE.match(file.name).group("variant") for file in _weight_files(unet)}
    if None in variants or not variants:
        return None
    return "fp16" if "fp16" in variants else sorted(variants)[0]


# ------------------------------------------------------------------------------
# Fetching from the hub
# ------------------------------------------------------------------------------


def select_pipeline_files(
    filenames: Iterable[str], with_safety_checker: bool = False
) -> list[str]:
    """The files of a hub repository a diffusers pipeline needs, each weight once.

    Repositories often carry the same weights several times (safetensors and
    pickles, fp32 and fp16, EMA and non-EMA) plus single-file checkpoints at the
    root for other tools; a museum PC needs one copy of each component. The
    safety checker (about 1.2 GB for SD 1.x) only `with_safety_checker`.
    """
    skipped = set() if with_safety_checker else _UNUSED_FOLDERS
    by_folder: dict[str, list[str]] = {}
    selected = []
    for name in filenames:
        folder, _sep, _file = name.rpartition("/")
        if name == MODEL_INDEX:
            selected.append(name)
        elif folder and "/" not in folder and folder not in skipped:
            by_folder.setdefault(folder, []).append(name)
    for names in by_folder.values():
        selected += _select_folder_files(names)
    return sorted(selected)


def _select_folder_files(names: list[str]) -> list[str]:
    weights, indexes, others = {}, {}, []
    for name in names:
        base = name.rpartition("/")[2]
        weight = _WEIGHT_FILE.match(base)
        index = _WEIGHT_INDEX.match(base)
        if index:
            fmt = "safetensors" if ".safetensors." in base else "bin"
            indexes.setdefault((index.group("variant"), fmt), []).append(name)
        elif weight:
            weights.setdefault((weight.group("variant"), weight.group("format")), []).append(name)
        elif not base.endswith((".ckpt", ".msgpack", ".onnx", ".pb", ".h5", ".png", ".jpg", ".md")):
            others.append(name)
    for choice in _WEIGHT_PREFERENCE:
        if choice in weights:
            return others + weights[choice] + indexes.get(choice, [])
    return others


def fetch(
    hub_id: str,
    revision: Optional[str] = None,
    tqdm_class=None,
    with_safety_checker: bool = False,
) -> Path:
    """Download a hub pipeline into OLPE_MODEL_DIR for offline use; return its directory.

    Raises ModelStoreError with a readable reason when the hub cannot be reached
    or refuses the repository.
    """

    def pipeline_files(filenames):
        wanted = select_pipeline_files(filenames, with_safety_checker)
        if MODEL_INDEX not in wanted:
            raise ModelStoreError(
                _("%(model)s is not a diffusers pipeline (it has no model_index.json).")
                % {"model": hub_id}
            )
        return wanted

    return _download(hub_id, revision, pipeline_files, tqdm_class)


def fetch_adapter(hub_id: str, revision: Optional[str] = None, tqdm_class=None) -> Path:
    """Download a LoRA adapter repository (its weights and configs) into OLPE_MODEL_DIR."""

    def adapter_files(filenames):
        wanted = [name for name in filenames if name.endswith((".safetensors", ".json"))]
        if not any(name.endswith(".safetensors") for name in wanted):
            raise ModelStoreError(
                _("%(model)s holds no LoRA weights (.safetensors).") % {"model": hub_id}
            )
        return wanted

    return _download(hub_id, revision, adapter_files, tqdm_class)


def _download(hub_id: str, revision: Optional[str], choose_files, tqdm_class) -> Path:
    """List the repository once, then download the chosen files of exactly that commit."""
    from huggingface_hub import HfApi, constants, snapshot_download

    target = local_copy_directory(hub_id)
    # Read at call time (HF_ENDPOINT, e.g. a mirror), and passed to both calls so they agree.
    endpoint = constants.ENDPOINT
    with _translated_hub_errors(hub_id, revision):
        info = HfApi(endpoint=endpoint).model_info(hub_id, revision=revision)
        wanted = choose_files([sibling.rfilename for sibling in info.siblings or ()])
        target.mkdir(parents=True, exist_ok=True)
        snapshot_download(
            hub_id,
            revision=info.sha,
            local_dir=target,
            allow_patterns=wanted,
            tqdm_class=tqdm_class,
            endpoint=endpoint,
        )
        _write_source_record(target, hub_id, revision, info.sha)
    return target


def _write_source_record(target: Path, hub_id: str, revision: Optional[str], commit: str) -> None:
    record = {
        "model": hub_id,
        "revision": revision or "main",
        "commit": commit,
        "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (target / SOURCE_RECORD).write_text(json.dumps(record, indent=2) + "\n", "utf-8")


@contextmanager
def _translated_hub_errors(hub_id: str, revision: Optional[str]):
    """Turn the hub client's exceptions into ModelStoreError with a curator-readable reason."""
    try:
        yield
    except ModelStoreError:
        raise
    except Exception as error:
        message = _hub_error_message(error, hub_id, revision or "main")
        if message is None:
            raise
        raise ModelStoreError(message) from error


def _hub_error_message(error: Exception, hub_id: str, revision: str):
    from huggingface_hub import constants, errors

    names = {"model": hub_id, "revision": revision, "endpoint": constants.ENDPOINT}
    if isinstance(error, errors.RevisionNotFoundError):
        return _("The model %(model)s has no revision “%(revision)s”.") % names
    if isinstance(error, (errors.RepositoryNotFoundError, errors.GatedRepoError)):
        return (
            _(
                "The model %(model)s was not found on the hub, or access was refused "
                "(for a private model, set HF_TOKEN)."
            )
            % names
        )
    if isinstance(error, errors.OfflineModeIsEnabled):
        return _("Cannot download %(model)s: HF_HUB_OFFLINE is set.") % names
    if isinstance(error, errors.HfHubHTTPError):
        return _("The hub refused the download of %(model)s: %(error)s") % {**names, "error": error}
    if isinstance(
        error, (errors.HTTPError, errors.LocalEntryNotFoundError, ConnectionError, TimeoutError)
    ):
        return (
            _(
                "Cannot reach the model hub at %(endpoint)s to download %(model)s. "
                "Check the network connection, or copy the model directory to this "
                "computer and set OLPE_MODEL to its path."
            )
            % names
        )
    if isinstance(error, OSError):
        return _("Cannot store the model %(model)s: %(error)s") % {**names, "error": error}
    return None


# ------------------------------------------------------------------------------
# LoRA style adapters
# ------------------------------------------------------------------------------


def adapter_source(configured: str) -> str:
    """Where to load a LoRA from: a local path, a fetched copy, or the hub id itself.

    A hub id fetched into OLPE_MODEL_DIR is used from there; otherwise the hub
    id is handed to diffusers, which looks it up in the Hugging Face cache.
    """
    configured = str(configured).strip()
    if looks_like_path(configured):
        return str(Path(configured).expanduser())
    local = local_copy_directory(configured)
    return str(local) if local.is_dir() else configured


def ships_safety_checker(directory: Path) -> bool:
    """Whether the model directory holds a complete safety checker and its image processor."""
    directory = Path(directory)
    checker = directory / "safety_checker"
    return (
        (checker / "config.json").is_file()
        and bool(_weight_files(checker))
        and (directory / "feature_extractor" / "preprocessor_config.json").is_file()
    )


def is_tiny_model(directory: Path) -> bool:
    """Whether a model directory is a miniature test fixture (its pictures are noise)."""
    return (Path(directory) / TINY_MODEL_MARKER).is_file()
