"""A saved .docx kept as its zip members, so each render rewrites only what it changes.

python-docx opens a package by parsing every XML part and saves it by serialising and
compressing every part again — styles and themes included, hundreds of KB that a render never
touches. :class:`Package` is taken once per template from the package python-docx saved
(:meth:`Package.from_document`): each zip member's compressed bytes, and the parts and
relationships python-docx saw. An :class:`Edition` (one per render) replaces some members,
adds images and relationships the way python-docx would (same part names, ``rId``\\ s,
content types and member order), and writes the zip, copying every other member's compressed
bytes as they are.
"""

from __future__ import annotations

import hashlib
import io
import struct
import threading
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Generic, TypeVar

from docx.image.image import Image as DocxImageInfo
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.oxml import CT_Relationships
from docx.opc.packuri import PackURI
from docx.opc.pkgwriter import _ContentTypesItem
from docx.oxml.shape import CT_Inline

__all__ = ["Edition", "LruCache", "Package", "StoryPart"]

_CONTENT_TYPES = "[Content_Types].xml"
_PACKAGE_RELS = "_rels/.rels"
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_CENTRAL_HEADER = struct.Struct("<4s4B4HL2L5H2L")
_END_RECORD = struct.Struct("<4s4H2LH")
_ZIP32_LIMIT = 0xFFFFFFFF


# ---------------------------------------------------------------------------- members


@dataclass(frozen=True)
class Member:
    """One zip member: its header fields and its bytes as stored (compressed)."""

    name: str
    raw: bytes
    crc: int
    size: int
    compress_type: int
    date_time: tuple[int, int, int, int, int, int]
    flag_bits: int
    create_system: int
    create_version: int
    extract_version: int
    external_attr: int

    @classmethod
    def read(cls, blob: bytes, info: zipfile.ZipInfo) -> Member:
        name_length, extra_length = struct.unpack_from("<2H", blob, info.header_offset + 26)
        start = info.header_offset + 30 + name_length + extra_length
        return cls(
            info.filename,
            blob[start : start + info.compress_size],
            info.CRC,
            info.file_size,
            info.compress_type,
            info.date_time,
            info.flag_bits & ~0x08,  # sizes go in the local header: no data descriptor
            info.create_system,
            info.create_version,
            info.extract_version,
            info.external_attr,
        )

    def with_content(self, name: str, content: bytes) -> Member:
        """A member like this one (same zip metadata) holding ``content``, deflated as
        :mod:`zipfile` deflates (the level python-docx saves with)."""
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        raw = compressor.compress(content) + compressor.flush()
        flag_bits = self.flag_bits & ~0x800 | (0 if name.isascii() else 0x800)
        return Member(
            name,
            raw,
            zlib.crc32(content),
            len(content),
            zipfile.ZIP_DEFLATED,
            self.date_time,
            flag_bits,
            self.create_system,
            self.create_version,
            max(self.extract_version, 20),
            self.external_attr,
        )


def _write_zip(members: list[Member]) -> bytes | None:
    """The zip of ``members`` in order, as :mod:`zipfile` writes it; None if it needs ZIP64."""
    out = bytearray()
    central = bytearray()
    for member in members:
        name = member.name.encode("utf-8" if member.flag_bits & 0x800 else "ascii")
        offset = len(out)
        if max(offset, member.size, len(member.raw)) >= _ZIP32_LIMIT:
            return None
        year, month, day, hour, minute, second = member.date_time
        dos_date = (year - 1980) << 9 | month << 5 | day
        dos_time = hour << 11 | minute << 5 | second // 2
        out += _LOCAL_HEADER.pack(
            b"PK\x03\x04", member.extract_version, 0, member.flag_bits, member.compress_type,
            dos_time, dos_date, member.crc, len(member.raw), member.size, len(name), 0,
        )  # fmt: skip
        out += name
        out += member.raw
        central += _CENTRAL_HEADER.pack(
            b"PK\x01\x02", member.create_version, member.create_system,
            member.extract_version, 0, member.flag_bits, member.compress_type, dos_time,
            dos_date, member.crc, len(member.raw), member.size, len(name), 0, 0, 0, 0,
            member.external_attr, offset,
        )  # fmt: skip
        central += name
    start = len(out)
    if start + len(central) >= _ZIP32_LIMIT or len(members) > 0xFFFF:
        return None
    out += central
    out += _END_RECORD.pack(b"PK\x05\x06", 0, 0, len(members), len(members), len(central), start, 0)
    return bytes(out)


# ---------------------------------------------------------------------- parts and rels


@dataclass(frozen=True)
class Rel:
    """A relationship as python-docx keeps it."""

    rid: str
    reltype: str
    target_ref: str
    external: bool
    target: str | None = None  # the target's part name, for an internal relationship


@dataclass(frozen=True)
class PartInfo:
    partname: str
    content_type: str
    rels: tuple[Rel, ...]


@dataclass(frozen=True)
class _CtPart:
    """What python-docx's content-types writer reads from a part."""

    partname: PackURI
    content_type: str


def _rels_of(source: Any) -> tuple[Rel, ...]:
    return tuple(
        Rel(rel.rId, rel.reltype, rel.target_ref, True)
        if rel.is_external
        else Rel(rel.rId, rel.reltype, rel.target_ref, False, str(rel.target_part.partname))
        for rel in source.rels.values()
    )


def _rels_xml(rels: list[Rel]) -> bytes:
    element = CT_Relationships.new()
    for rel in rels:
        element.add_rel(rel.rid, rel.reltype, rel.target_ref, rel.external)
    xml: bytes = element.xml
    return xml


def _next_rid(rels: list[Rel]) -> str:
    used = {rel.rid for rel in rels}
    return next(f"rId{n}" for n in range(1, len(rels) + 2) if f"rId{n}" not in used)


@dataclass(frozen=True)
class Package:
    """A package as python-docx saved it: members by name, parts in save order."""

    members: dict[str, Member]
    package_rels: tuple[Rel, ...]
    parts: dict[str, PartInfo]
    images: tuple[tuple[str, str], ...]  # (part name, sha1) of each image part, in order
    size: int

    @classmethod
    def from_document(cls, document: Any) -> Package:
        """Save ``document`` (a python-docx ``Document``) and keep what was saved.

        :raises ValueError: the saved members are not those of the parts and relationships
            python-docx holds (the package cannot be edited member by member).
        """
        out = io.BytesIO()
        document.save(out)
        blob = out.getvalue()
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            members = {info.filename: Member.read(blob, info) for info in archive.infolist()}
        package = document.part.package
        parts = {
            str(part.partname): PartInfo(str(part.partname), part.content_type, _rels_of(part))
            for part in package.iter_parts()
        }
        images = tuple((str(part.partname), part.sha1) for part in package.image_parts)
        saved = cls(members, _rels_of(package), parts, images, len(blob))
        if list(members) != saved._member_order(parts):
            raise ValueError("the saved package does not match its parts")
        return saved

    def _member_order(self, parts: dict[str, PartInfo]) -> list[str]:
        names = [_CONTENT_TYPES, _PACKAGE_RELS]
        for partname in _walk(self.package_rels, parts):
            info = parts[partname]
            names.append(partname[1:])
            if info.rels:
                names.append(str(PackURI(partname).rels_uri)[1:])
        return names

    def edit(self) -> Edition:
        return Edition(self)


def _walk(roots: tuple[Rel, ...], parts: dict[str, PartInfo]) -> Iterator[str]:
    """Part names depth-first along relationships, as python-docx's ``iter_parts``."""
    visited: set[str] = set()
    stack: list[Iterator[Rel]] = [iter(roots)]
    while stack:
        rel = next(stack[-1], None)
        if rel is None:
            stack.pop()
            continue
        if rel.external or rel.target is None or rel.target in visited:
            continue
        visited.add(rel.target)
        yield rel.target
        stack.append(iter(parts[rel.target].rels))


# ----------------------------------------------------------------------------- editing


@dataclass
class _NewImage:
    partname: str
    content_type: str
    blob: bytes
    sha1: str


@dataclass
class Edition:
    """One render's changes to a :class:`Package`."""

    package: Package
    _replaced: dict[str, bytes] = field(default_factory=dict)
    _added_rels: dict[str, list[Rel]] = field(default_factory=dict)
    _new_images: list[_NewImage] = field(default_factory=list)

    def replace(self, partname: str, content: bytes) -> None:
        self._replaced[partname] = content

    def story_part(self, partname: str, next_id: int) -> StoryPart:
        return StoryPart(self, partname, next_id)

    def rels(self, partname: str) -> list[Rel]:
        """The relationships of a part, including those added by this render."""
        added = self._added_rels.setdefault(partname, [])
        return [*self.package.parts[partname].rels, *added]

    def add_rel(self, partname: str, rel: Rel) -> None:
        self._added_rels.setdefault(partname, []).append(rel)

    def image_part(self, image: Any) -> str:
        """The part name of the image part holding ``image``, added if there is none
        (python-docx's ``ImageParts.get_or_add_image_part``)."""
        sha1 = image.sha1
        for partname, known in self.package.images:
            if known == sha1:
                return partname
        for new in self._new_images:
            if new.sha1 == sha1:
                return new.partname
        used = [PackURI(p).idx for p, _ in self.package.images]
        used += [PackURI(new.partname).idx for new in self._new_images]
        count = len(used)
        number = next((n for n in range(1, count + 1) if n not in used), count + 1)
        partname = f"/word/media/image{number}.{image.ext}"
        self._new_images.append(_NewImage(partname, image.content_type, image.blob, sha1))
        return partname

    def write(self) -> bytes | None:
        """The .docx bytes; None if it would need ZIP64 (no template is that large)."""
        package = self.package
        parts = dict(package.parts)
        for partname, added in self._added_rels.items():
            if added:
                info = parts[partname]
                parts[partname] = PartInfo(partname, info.content_type, (*info.rels, *added))
        for new in self._new_images:
            parts[new.partname] = PartInfo(new.partname, new.content_type, ())
        members = package.members
        template = members[_CONTENT_TYPES]
        order = list(_walk(package.package_rels, parts))
        written: list[Member] = []
        if self._new_images:
            listed = [_CtPart(PackURI(p), parts[p].content_type) for p in order]
            types = _ContentTypesItem.from_parts(listed)  # type: ignore[no-untyped-call]
            written.append(template.with_content(_CONTENT_TYPES, types.blob))
        else:
            written.append(members[_CONTENT_TYPES])
        written.append(members[_PACKAGE_RELS])
        new_blobs = {new.partname: new.blob for new in self._new_images}
        for partname in order:
            name = partname[1:]
            if partname in self._replaced:
                written.append(members[name].with_content(name, self._replaced[partname]))
            elif partname in new_blobs:
                written.append(template.with_content(name, new_blobs[partname]))
            else:
                written.append(members[name])
            rels = parts[partname].rels
            if not rels:
                continue
            rels_name = str(PackURI(partname).rels_uri)[1:]
            if self._added_rels.get(partname):
                like = members.get(rels_name, template)
                written.append(like.with_content(rels_name, _rels_xml(list(rels))))
            else:
                written.append(members[rels_name])
        return _write_zip(written)


class StoryPart:
    """Stands in for a python-docx story part while a template renders: relates images
    and hyperlinks the way python-docx would, recording them in the :class:`Edition`."""

    def __init__(self, edition: Edition, partname: str, next_id: int) -> None:
        self._edition, self.partname, self.next_id = edition, partname, next_id

    def relate_to(self, target: str, reltype: str, is_external: bool = False) -> str:
        """The ``rId`` of the relationship to ``target`` (a URL, or a part name), added if
        there is none."""
        rels = self._edition.rels(self.partname)
        for rel in rels:
            same_target = (rel.target_ref if is_external else rel.target) == target
            if rel.reltype == reltype and rel.external == is_external and same_target:
                return rel.rid
        rid = _next_rid(rels)
        if is_external:
            rel = Rel(rid, reltype, target, True)
        else:
            base = PackURI(self.partname).baseURI
            rel = Rel(rid, reltype, PackURI(target).relative_ref(base), False, target)
        self._edition.add_rel(self.partname, rel)
        return rid

    def new_pic_inline(
        self, image_descriptor: IO[bytes], width: int | None = None, height: int | None = None
    ) -> Any:
        """A ``wp:inline`` showing the image (python-docx's ``StoryPart.new_pic_inline``)."""
        image = DocxImageInfo.from_file(image_descriptor)
        rid = self.relate_to(self._edition.image_part(image), RT.IMAGE)
        cx, cy = image.scaled_dimensions(width, height)
        return CT_Inline.new_pic_inline(self.next_id, rid, image.filename, cx, cy)


# ------------------------------------------------------------------------------- cache

K = TypeVar("K")
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """A thread-safe LRU bounded by entry count and by total weight (bytes)."""

    def __init__(self, entries: int, weight: int, weigh: Callable[[V], int]) -> None:
        self._max_entries, self._max_weight, self._weigh = entries, weight, weigh
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> tuple[bool, V | None]:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return False, None
            self._items.move_to_end(key)
            return True, item[0]

    def put(self, key: K, value: V) -> None:
        weight = self._weigh(value)
        if weight > self._max_weight:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._weight -= old[1]
            self._items[key] = (value, weight)
            self._weight += weight
            while len(self._items) > self._max_entries or self._weight > self._max_weight:
                _, (_, dropped) = self._items.popitem(last=False)
                self._weight -= dropped

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._weight = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def digest(blob: bytes) -> bytes:
    return hashlib.sha256(blob).digest()
