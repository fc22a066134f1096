"""Sweet Home 3D furniture catalogues as a source of real, credited furniture meshes.

Debian's ``sweethome3d`` package holds the default catalogue inside ``sweethome3d.jar``
(``DefaultFurnitureCatalog.properties`` + OBJ models) and ``sweethome3d-furniture`` holds ``.sh3f``
libraries (zip files with ``PluginFurnitureCatalog.properties`` + OBJ/MTL/texture folders). Only the
four libraries in ``ALLOWED_ARCHIVES`` are read; nothing from them is stored in this repository: the
generator reads them from the ``.deb`` files or an unpacked package directory given by the user.

A catalogue is a Java properties file with indexed keys (``name#3``, ``model#3``, ``width#3``...). The
base file is English; the localised ``*_fr.properties`` etc. are ignored.

Frames: Sweet Home 3D shows a model after ``modelRotation`` (a row-major 3x3 matrix applied as
``v' = R v``) with Y up and its front facing +Z (the plan's bottom), then stretches it to the
catalogue's width (X), height (Y) and depth (Z) in cm. ``load_entry_mesh`` does the same, then moves
it into Recon3D's canonical frame (``recon.voxels``: Y up, front +Z, bounding box centred, longest
side spanning [-0.5, 0.5]); checked by eye on chairs, sofas and beds of all four libraries.
"""

import io
import logging
import posixpath
import re
import struct
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import trimesh

from recon.errors import InvalidMeshError

logger = logging.getLogger(__name__)

PIX3D_CATEGORIES = ("bed", "bookcase", "chair", "desk", "sofa", "table", "wardrobe")
# The only libraries this project may use (licences: see each catalogue's `license` key).
ALLOWED_ARCHIVES = ("sweethome3d.jar", "BlendSwap-CC-0.sh3f", "BlendSwap-CC-BY.sh3f", "KatorLegaz.sh3f")
DEFAULT_CATALOG = "com/eteks/sweethome3d/io/DefaultFurnitureCatalog.properties"
PLUGIN_CATALOG = "PluginFurnitureCatalog.properties"
# The default catalogue's OBJ files name materials without an MTL file; Sweet Home 3D's OBJ loader
# holds them as one string constant in this class.
DEFAULT_MATERIALS_CLASS = "com/eteks/sweethome3d/j3d/OBJLoader.class"
_DEFAULT_MTL_NAME = "sh3d-default-materials.mtl"

# Sweet Home 3D categories whose pieces are never Pix3D furniture even when the name says "table"
# or "chair" (kitchen units, bathroom fittings, doors, windows, lights...).
_EXCLUDED_SH3D_CATEGORIES = frozenset(
    {"Doors and windows", "Lights", "Kitchen", "Bathroom", "Staircases", "Vehicles", "Characters"}
)
# First match wins, on the lower-case English name. Pix3D has no benches, ottomans or bedside
# tables, and "pool table" or "table fan" are not tables.
_CATEGORY_RULES = (
    (None, r"wheelchair|ottoman|bench|bedside|nightstand|pool table|football table|table tennis"
           r"|table fan|piano|lamp|light"),
    ("sofa", r"sofa|couch|futon|settee|loveseat"),
    ("bed", r"bed|crib|cot"),
    ("bookcase", r"bookcase|bookshelf|shelves|shelf"),
    ("wardrobe", r"wardrobe|armoire|closet"),
    ("desk", r"desk|technical table"),
    ("chair", r"chair|armchair|stool|seat"),
    ("table", r"table"),
)
_CATEGORY_PATTERNS = tuple((category, re.compile(rf"\b(?:{words})\b")) for category, words in _CATEGORY_RULES)


@dataclass(frozen=True)
class CatalogEntry:
    """One piece of furniture of a catalogue.

    archive: the .jar/.sh3f file; library: its file name; model: the OBJ's member path inside it.
    width, depth, height: size in cm along X, Z, Y after ``model_rotation`` (row-major 3x3).
    pix3d_category: one of ``PIX3D_CATEGORIES`` or None when the piece is not Pix3D furniture.
    """

    archive: Path
    library: str
    id: str
    name: str
    category: str
    pix3d_category: str | None
    creator: str
    license: str
    model: str
    width: float
    depth: float
    height: float
    model_rotation: tuple[tuple[float, float, float], ...]
    door_or_window: bool
    light: bool


# ---------------------------------------------------------------- properties files


def _logical_lines(text: str) -> Iterator[str]:
    """Java properties lines with comments dropped and backslash continuations joined."""
    pending = None
    for raw in text.splitlines():
        line = raw.lstrip() if pending is not None else raw
        if pending is None and (not line.strip() or line.lstrip()[0] in "#!"):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        joined = (pending or "") + (line[:-1] if trailing % 2 else line)
        if trailing % 2:
            pending = joined
        else:
            pending = None
            yield joined.lstrip()
    if pending is not None:
        yield pending.lstrip()


_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _unescape(text: str) -> str:
    return re.sub(
        r"\\(u[0-9a-fA-F]{4}|.)",
        lambda m: chr(int(m.group(1)[1:], 16)) if len(m.group(1)) == 5 else _ESCAPES.get(m.group(1), m.group(1)),
        text,
    )


def read_properties(data: bytes) -> dict[str, str]:
    """Parse a Java .properties file (comments, ``key=value`` / ``key: value`` / ``key value``,
    backslash line continuations, ``\\uXXXX`` and other escapes). UTF-8, else ISO-8859-1 as Java's
    resource bundles do."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    properties = {}
    for line in _logical_lines(text):
        # the key ends at the first unescaped '=', ':' or whitespace
        match = re.match(r"((?:\\.|[^=:\s\\])*)\s*[=:]?\s*(.*)", line, flags=re.DOTALL)
        properties[_unescape(match.group(1))] = _unescape(match.group(2))
    return properties


# ---------------------------------------------------------------- catalogues


def pix3d_category(name: str, sh3d_category: str) -> str | None:
    """Pix3D category for an English catalogue name ("Corner sofa" -> "sofa"), or None."""
    if sh3d_category in _EXCLUDED_SH3D_CATEGORIES:
        return None
    lowered = name.lower()
    for category, pattern in _CATEGORY_PATTERNS:
        if pattern.search(lowered):
            return category
    return None


def catalog_member(archive: zipfile.ZipFile) -> str:
    """The catalogue file's member name (a library's, else the jar's default catalogue)."""
    names = set(archive.namelist())
    for member in (PLUGIN_CATALOG, DEFAULT_CATALOG):
        if member in names:
            return member
    raise ValueError(f"{archive.filename}: no {PLUGIN_CATALOG} or {DEFAULT_CATALOG} inside")


def _rotation(text: str | None) -> tuple[tuple[float, float, float], ...]:
    if not text:
        return ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    values = [float(value) for value in text.split()]
    if len(values) != 9:
        raise ValueError(f"modelRotation needs 9 numbers, got {text!r}")
    return tuple(tuple(values[row * 3:row * 3 + 3]) for row in range(3))


def read_catalog(archive_path: str | Path) -> list[CatalogEntry]:
    """All entries of a .sh3f library or of sweethome3d.jar's default catalogue, in index order.

    Raises ValueError when the archive holds no catalogue, zipfile.BadZipFile for a broken archive.
    """
    archive_path = Path(archive_path)
    with zipfile.ZipFile(archive_path) as archive:
        properties = read_properties(archive.read(catalog_member(archive)))
    library_license = properties.get("license", "")
    indices = sorted(int(key.split("#")[1]) for key in properties if re.fullmatch(r"id#\d+", key))
    entries = []
    for index in indices:
        def get(key, default=""):
            return properties.get(f"{key}#{index}", default)

        entries.append(CatalogEntry(
            archive=archive_path,
            library=archive_path.name,
            id=get("id"),
            name=get("name"),
            category=get("category"),
            pix3d_category=None if get("doorOrWindow") == "true" else pix3d_category(get("name"), get("category")),
            creator=get("creator"),
            license=get("license", library_license),
            model=get("model").lstrip("/"),
            width=float(get("width", "0")),
            depth=float(get("depth", "0")),
            height=float(get("height", "0")),
            model_rotation=_rotation(get("modelRotation", None)),
            door_or_window=get("doorOrWindow") == "true",
            light=f"lightSourceX#{index}" in properties,
        ))
    return entries


def find_catalogs(root: str | Path) -> list[Path]:
    """The allowed archives (``ALLOWED_ARCHIVES`` order) found anywhere under ``root``.

    Raises FileNotFoundError when none is there; missing ones are logged.
    """
    root = Path(root)
    found = {}
    for path in sorted(root.rglob("*")):
        if path.name in ALLOWED_ARCHIVES and path.is_file():
            found.setdefault(path.name, path)
    if not found:
        raise FileNotFoundError(f"none of {', '.join(ALLOWED_ARCHIVES)} under {root}")
    for name in ALLOWED_ARCHIVES:
        if name not in found:
            logger.warning("%s not found under %s", name, root)
    return [found[name] for name in ALLOWED_ARCHIVES if name in found]


def extract_catalogs_from_deb(deb_path: str | Path, destination: str | Path) -> list[Path]:
    """Copy the allowed archives out of a Debian package (ar + data.tar.{xz,gz,bz2}) into
    ``destination``; returns their paths. Raises ValueError for a file that is not such a package."""
    data = Path(deb_path).read_bytes()
    if not data.startswith(b"!<arch>\n"):
        raise ValueError(f"{deb_path}: not a Debian package")
    position, payload = 8, None
    while position + 60 <= len(data):
        name = data[position:position + 16].decode("ascii").strip().rstrip("/")
        size = int(data[position + 48:position + 58].decode("ascii").strip())
        if name.startswith("data.tar"):
            payload = data[position + 60:position + 60 + size]
            break
        position += 60 + size + size % 2
    if payload is None:
        raise ValueError(f"{deb_path}: no data.tar member")
    destination = Path(destination)
    extracted = []
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:*") as tar:
        for member in tar:
            if member.isfile() and posixpath.basename(member.name) in ALLOWED_ARCHIVES:
                target = destination / posixpath.basename(member.name)
                target.write_bytes(tar.extractfile(member).read())
                extracted.append(target)
    return extracted


# ---------------------------------------------------------------- meshes


class _ArchiveResolver(trimesh.resolvers.Resolver):
    """Lets trimesh's OBJ loader read MTL files and textures from the model's folder in a zip."""

    def __init__(self, archive: zipfile.ZipFile, folder: str, extra: dict[str, bytes] | None = None):
        self.archive, self.folder, self.extra = archive, folder, extra or {}
        self._lower = {name.lower(): name for name in archive.namelist()}

    def get(self, key):
        key = key.replace("\\", "/")
        if key in self.extra:
            return self.extra[key]
        member = posixpath.normpath(posixpath.join(self.folder, key))
        # models made on Windows name textures with the wrong case
        member = self._lower.get(member.lower(), member)
        return self.archive.read(member)

    def write(self, name, data):
        raise NotImplementedError("catalogue archives are read-only")

    def namespaced(self, namespace):
        return _ArchiveResolver(self.archive, posixpath.join(self.folder, namespace), self.extra)

    def keys(self):
        prefix = self.folder + "/"
        return [name[len(prefix):] for name in self.archive.namelist() if name.startswith(prefix)]


def _class_strings(data: bytes) -> Iterator[str]:
    """CONSTANT_Utf8 strings of a Java class file's constant pool."""
    count = struct.unpack(">H", data[8:10])[0]
    position, index = 10, 1
    sizes = {3: 4, 4: 4, 5: 8, 6: 8, 7: 2, 8: 2, 9: 4, 10: 4, 11: 4, 12: 4, 15: 3, 16: 2, 17: 4, 18: 4, 19: 2, 20: 2}
    while index < count:
        tag = data[position]
        if tag == 1:
            length = struct.unpack(">H", data[position + 1:position + 3])[0]
            yield data[position + 3:position + 3 + length].decode("utf-8", errors="replace")
            position += 3 + length
        else:
            position += 1 + sizes[tag]
        index += 2 if tag in (5, 6) else 1


@lru_cache(maxsize=4)
def _default_materials(archive_path: Path) -> bytes:
    """Sweet Home 3D's built-in MTL library (read from the jar), or b"" when absent."""
    with zipfile.ZipFile(archive_path) as archive:
        if DEFAULT_MATERIALS_CLASS not in archive.namelist():
            return b""
        strings = _class_strings(archive.read(DEFAULT_MATERIALS_CLASS))
        return "\n".join(text for text in strings if "newmtl" in text).encode()


def _face_colors(part: trimesh.Trimesh) -> np.ndarray:
    """(F, 4) uint8 colours: the texture sampled at the vertices' UVs, else the diffuse colour."""
    visual = part.visual
    if isinstance(visual, trimesh.visual.TextureVisuals):
        material = visual.material
        image = getattr(material, "image", None)
        if image is not None and visual.uv is not None and len(visual.uv) == len(part.vertices):
            vertex_colors = trimesh.visual.color.uv_to_color(visual.uv, image)
            return vertex_colors[part.faces].mean(axis=1).astype(np.uint8)
        color = np.asarray(material.main_color, dtype=np.uint8)
        return np.tile(color, (len(part.faces), 1))
    return np.asarray(visual.face_colors, dtype=np.uint8)


def _load_obj(entry: CatalogEntry) -> trimesh.Trimesh:
    with zipfile.ZipFile(entry.archive) as archive:
        obj = archive.read(entry.model)
        extra = {}
        if b"mtllib" not in obj:
            extra[_DEFAULT_MTL_NAME] = _default_materials(entry.archive)
            obj = f"mtllib {_DEFAULT_MTL_NAME}\n".encode() + obj
        resolver = _ArchiveResolver(archive, posixpath.dirname(entry.model), extra)
        scene = trimesh.load_scene(io.BytesIO(obj), file_type="obj", resolver=resolver)
    parts = [part for part in scene.dump() if isinstance(part, trimesh.Trimesh) and len(part.faces)]
    if not parts:
        raise InvalidMeshError(f"{entry.library}:{entry.model} has no faces")
    colored = [
        trimesh.Trimesh(part.vertices, part.faces, face_colors=_face_colors(part), process=False)
        for part in parts
    ]
    return trimesh.util.concatenate(colored)


def to_canonical_frame(mesh: trimesh.Trimesh, rotation=None, size=None) -> trimesh.Trimesh:
    """Rotate (row-major 3x3, ``v' = R v``), stretch to ``size`` = (width, height, depth) along
    (X, Y, Z) when given, then centre the bounding box and scale its longest side to 1.

    Returns a new mesh. Raises InvalidMeshError for a mesh without extent.
    """
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    if rotation is not None:
        vertices = vertices @ np.asarray(rotation, dtype=np.float64).T
    extent = vertices.max(axis=0) - vertices.min(axis=0)
    if size is not None:
        # a flat model (zero extent along an axis) keeps that axis unscaled
        size = np.asarray(size, dtype=np.float64)
        vertices = vertices * np.where((extent > 1e-9) & (size > 0), size / np.maximum(extent, 1e-9), 1.0)
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    longest = float((high - low).max())
    if not np.isfinite(longest) or longest <= 0:
        raise InvalidMeshError("mesh has no extent")
    result = mesh.copy()
    result.vertices = (vertices - (low + high) / 2) / longest
    return result


def load_entry_mesh(entry: CatalogEntry) -> trimesh.Trimesh:
    """The entry's model as one mesh with face colours, in the canonical frame (Y up, front +Z,
    bbox centred, longest side 1). Raises InvalidMeshError (also for a model that is not an OBJ),
    KeyError for a model file missing from the archive."""
    if not entry.model.lower().endswith(".obj"):
        raise InvalidMeshError(f"{entry.library}:{entry.model} is not an OBJ model")
    mesh = _load_obj(entry)
    return to_canonical_frame(mesh, entry.model_rotation, (entry.width, entry.height, entry.depth))


def allowed_archives(paths: Iterable[str | Path], scratch: Path) -> list[Path]:
    """The allowed archives in ``paths`` (``.deb`` files, unpacked package directories or the
    archives themselves; a .deb's are copied into ``scratch``), one per name, in
    ``ALLOWED_ARCHIVES`` order. Raises ValueError for a path that is none of these."""
    found = {}
    for path in map(Path, paths):
        if path.is_dir():
            candidates = find_catalogs(path)
        elif path.suffix == ".deb":
            candidates = extract_catalogs_from_deb(path, scratch)
        elif path.name in ALLOWED_ARCHIVES:
            candidates = [path]
        else:
            raise ValueError(f"{path}: not a .deb, a directory or one of {', '.join(ALLOWED_ARCHIVES)}")
        for candidate in candidates:
            found.setdefault(candidate.name, candidate)
    return [found[name] for name in ALLOWED_ARCHIVES if name in found]


def iter_catalog_entries(paths: Iterable[str | Path]) -> Iterator[CatalogEntry]:
    """Entries of the allowed archives found in ``paths`` (``.deb`` files, unpacked package
    directories or the archives themselves) that map to a Pix3D category."""
    with tempfile.TemporaryDirectory(prefix="sh3d-") as scratch:
        for archive in allowed_archives(paths, Path(scratch)):
            yield from filter(is_usable, read_catalog(archive))


def is_usable(entry: CatalogEntry) -> bool:
    """Whether the generator renders the entry: Pix3D furniture that is not a light."""
    return entry.pix3d_category is not None and not entry.light


def iter_catalog_meshes(paths: Iterable[str | Path]) -> Iterator[tuple[CatalogEntry, trimesh.Trimesh]]:
    """(entry, canonical coloured mesh) for every usable Pix3D-category piece of the allowed
    libraries in ``paths`` (see ``iter_catalog_entries``). Models that fail to load are logged and
    skipped."""
    for entry in iter_catalog_entries(paths):
        try:
            mesh = load_entry_mesh(entry)
        except (InvalidMeshError, KeyError, ValueError, IndexError) as error:
            logger.warning("skipping %s %s (%s): %s", entry.library, entry.id, entry.model, error)
            continue
        yield entry, mesh
