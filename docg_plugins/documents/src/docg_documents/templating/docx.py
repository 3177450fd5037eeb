"""Word (.docx) templates: render with docxtpl in the sandbox, repair split tags, inspect.

Rendering never assigns ``paragraph.text``: docxtpl renders the document XML itself, so every
run keeps its formatting. Before rendering, each tag Word split across runs is made whole
(:func:`repair_docx` does the same once, at upload) and each ``{{ … }}`` gets a run of its
own, so an image or rich text inserted there leaves the text around it formatted as it was.

Values are XML-escaped as they are printed (``&``, ``<`` and ``"`` stay text).

The first render of a template prepares it — opens it, repairs it, has docxtpl turn each
part into Jinja source, keeps the package as python-docx saves it — and caches that by the
template's SHA-256; each render after that only runs Jinja and writes the members it changes
(see "render: fast path"). The document is the one docxtpl and python-docx make
(:func:`_render_full`, which renders whatever the fast path cannot).
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType
from typing import Any, Protocol

from docx.enum.dml import MSO_COLOR_TYPE
from docx.image.exceptions import UnrecognizedImageError
from docx.image.image import Image as DocxImageInfo
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.coreprops import CoreProperties
from docx.opc.oxml import serialize_part_xml
from docx.opc.part import Part
from docx.oxml import OxmlElement
from docx.oxml import parse_xml as parse_oxml
from docx.oxml.ns import nsmap, qn
from docx.shared import Mm, Pt, RGBColor
from docx.text.run import Run
from docxtpl import DocxTemplate, InlineImage
from docxtpl import RichText as DocxtplRichText
from jinja2 import TemplateSyntaxError, Undefined, pass_context
from lxml import etree
from markupsafe import Markup

from ._analysis import LocatedTag, analyse, find_tags
from ._model import (
    Image,
    RenderResult,
    RichText,
    RichTextSegment,
    TemplateInfo,
    TemplateProblem,
    TemplateRenderError,
    TemplateSyntaxProblem,
    as_image,
    as_rich_text,
)
from ._package import LruCache, Package, digest
from ._runs import WORD, isolate_expressions, merge_split_tags, paragraph_text
from .environment import DocgEnvironment, make_environment, translate_errors

__all__ = ["inspect_template", "render_docx", "repair_docx"]

Template = bytes | bytearray | os.PathLike[str]

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_DOCG = "urn:docg:templating"
_RICH_MARKER = f"{{{_DOCG}}}rich"
_W_P, _W_TBL, _W_TR, _W_TC, _W_R, _W_T = (
    f"{{{_W}}}{n}" for n in ("p", "tbl", "tr", "tc", "r", "t")
)
_W_TXBX, _W_RPR = f"{{{_W}}}txbxContent", f"{{{_W}}}rPr"
_MC_FALLBACK = f"{{{_MC}}}Fallback"
_FOOTNOTES = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"
_ENDNOTES = "application/vnd.openxmlformats-officedocument.wordprocessingml.endnotes+xml"
_STORY_ENTRY = re.compile(r"word/(document|header\d*|footer\d*|footnotes|endnotes)\.xml")
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


# ---------------------------------------------------------------------------- loading


def _read(template: Template) -> bytes:
    if isinstance(template, bytes | bytearray):
        return bytes(template)
    return Path(template).read_bytes()


def _not_a_docx(exc: Exception | None = None) -> TemplateRenderError:
    error = TemplateRenderError(
        "the template is not a Word .docx file (save it from Word as .docx, not .doc or .dotx)",
        code="invalid_template",
    )
    if exc is not None:
        error.__cause__ = exc
    return error


class _DocgDocxTemplate(DocxTemplate):  # type: ignore[misc]
    """docxtpl with the fixes autoescaping needs."""

    def patch_xml(self, src_xml: str) -> str:
        xml: str = super().patch_xml(src_xml)
        # Inside tags the XML escapes are Jinja source: `{{ "P&D" }}` means the text P&D.
        return re.sub(
            r"(?<=\{[\{%])(.*?)(?=[\}%]\})",
            lambda m: (
                m.group(0).replace("&quot;", '"').replace("&apos;", "'").replace("&amp;", "&")
            ),
            xml,
        )

    def render_properties(self, context: dict[str, Any], jinja_env: Any = None) -> None:
        # Core properties (title, subject…) are plain strings python-docx escapes itself.
        if jinja_env is None:
            super().render_properties(context, jinja_env)
            return
        saved = jinja_env.autoescape
        jinja_env.autoescape = False
        try:
            super().render_properties(context, jinja_env)
        finally:
            jinja_env.autoescape = saved


def _load(blob: bytes) -> _DocgDocxTemplate:
    if not zipfile.is_zipfile(io.BytesIO(blob)):
        raise _not_a_docx()
    tpl = _DocgDocxTemplate(io.BytesIO(blob))
    try:
        tpl.init_docx()
    except Exception as exc:
        raise _not_a_docx(exc) from exc
    return tpl


class _Story:
    """The XML tree of one story part (body, header, footer, notes) and where it lives."""

    def __init__(self, label: str, part: Part, root: etree._Element, *, blob: bool) -> None:
        self.label, self.part, self.root, self._blob = label, part, root, blob

    def commit(self) -> None:
        if self._blob:  # a part python-docx keeps as bytes (footnotes)
            self.part._blob = etree.tostring(
                self.root, xml_declaration=True, encoding="UTF-8", standalone=True
            )


def _number(part: Part) -> str:
    digits = re.findall(r"\d+", str(part.partname))
    return digits[-1] if digits else "1"


def _stories(document: Any) -> list[_Story]:
    """Body first, then headers, footers, footnotes and endnotes, in part-name order."""
    stories = [_Story("", document.part, document.element.body, blob=False)]
    parts = sorted(document.part.package.iter_parts(), key=lambda p: str(p.partname))
    related = {
        rel.target_part: rel.reltype for rel in document.part.rels.values() if not rel.is_external
    }
    for kind in (RT.HEADER, RT.FOOTER):
        for part in parts:
            if related.get(part) == kind:
                name = "header" if kind == RT.HEADER else "footer"
                stories.append(_Story(f"{name} {_number(part)}, ", part, part.element, blob=False))
    for part in parts:
        if part.content_type in (_FOOTNOTES, _ENDNOTES):
            root = etree.fromstring(part.blob, _SAFE_PARSER)
            label = "footnotes, " if part.content_type == _FOOTNOTES else "endnotes, "
            stories.append(_Story(label, part, root, blob=True))
    return stories


# ----------------------------------------------------------------------------- repair


def _repair_tree(root: etree._Element, *, isolate: bool = False) -> bool:
    changed = False
    for paragraph in list(root.iter(_W_P)):
        changed |= merge_split_tags(paragraph, WORD)
        if isolate:
            for text in paragraph.iter(_W_T):
                if text.text and "{{r " in text.text:
                    text.text = text.text.replace("{{r ", "{{ ")  # rich text needs no {{r
            isolate_expressions(paragraph, WORD)
    return changed


def repair_docx(data: bytes) -> bytes:
    """Return the .docx with every tag Word split across runs made whole again.

    Each tag's characters go to the run where it starts (keeping that run's formatting), the
    spell-check marks between them are dropped, and typographic quotes and no-break spaces
    inside tags become plain ones. Parts without tags are copied byte for byte. Run it when a
    template is uploaded; rendering applies the same repair in memory anyway.

    :raises TemplateRenderError: ``code="invalid_template"`` when ``data`` is not a .docx.
    """
    try:
        source = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise _not_a_docx(exc) from exc
    with source:
        if "word/document.xml" not in source.namelist():
            raise _not_a_docx()
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
            for item in source.infolist():
                content = source.read(item)
                if _STORY_ENTRY.fullmatch(item.filename):
                    try:
                        root = etree.fromstring(content, _SAFE_PARSER)
                    except etree.XMLSyntaxError as exc:
                        raise _not_a_docx(exc) from exc
                    if _repair_tree(root):
                        content = etree.tostring(
                            root, xml_declaration=True, encoding="UTF-8", standalone=True
                        )
                target.writestr(item, content)
    return out.getvalue()


# ------------------------------------------------------------------------------ images


class _DocxImage:
    """An image printed by a tag: closes the tag's run, adds a drawing, opens a new run."""

    def __init__(
        self,
        tpl: DocxTemplate,
        image: Image,
        path: str,
        store: Mapping[str, bytes],
        max_width: int | None,
    ) -> None:
        self.tpl, self.image, self.path, self.store, self.max_width = (
            tpl,
            image,
            path,
            store,
            max_width,
        )

    def resized(self, width_mm: float | None, height_mm: float | None) -> _DocxImage:
        image = Image(self.image.data, width_mm, height_mm, self.image.description)
        return _DocxImage(self.tpl, image, self.path, self.store, self.max_width)

    def _bytes(self) -> bytes:
        data = self.image.data
        if isinstance(data, bytes):
            return data
        if data in self.store:
            return self.store[data]
        raise TemplateRenderError(
            f"the image {data!r} at {self.path} was not provided: fetch it and pass its bytes "
            "in `images`",
            code="invalid_image",
        )

    def __html__(self) -> str:
        data = self._bytes()
        try:
            info = DocxImageInfo.from_blob(data)
        except (UnrecognizedImageError, Exception) as exc:
            raise TemplateRenderError(
                f"the value at {self.path} is not an image Word can show (use PNG, JPEG, GIF, "
                "BMP or TIFF)",
                code="invalid_image",
            ) from exc
        width: int | None = Mm(self.image.width_mm) if self.image.width_mm else None
        height: int | None = Mm(self.image.height_mm) if self.image.height_mm else None
        if width is None and height is None and self.max_width and info.width > self.max_width:
            width = self.max_width
        part = self.tpl.current_rendering_part
        inline = part.new_pic_inline(io.BytesIO(data), width, height)
        if self.image.description:
            inline.docPr.set("descr", self.image.description)
        return (
            f"</w:t></w:r><w:r><w:drawing>{inline.xml}</w:drawing></w:r>"
            '<w:r><w:t xml:space="preserve">'
        )

    __str__ = __html__


# --------------------------------------------------------------------------- rich text


class _DocxRich:
    """Rich text printed by a tag: a marker the post-pass replaces with formatted runs."""

    def __init__(self, registry: list[RichText], rich: RichText) -> None:
        self.registry, self.rich = registry, rich

    def __html__(self) -> str:
        self.registry.append(self.rich)
        return (
            f'</w:t></w:r><docg:rich xmlns:docg="{_DOCG}" n="{len(self.registry) - 1}"/>'
            '<w:r><w:t xml:space="preserve">'
        )

    __str__ = __html__


_SHD_SUCCESSORS = (
    "w:fitText", "w:vertAlign", "w:rtl", "w:cs", "w:em", "w:lang", "w:eastAsianLayout",
    "w:specVanish", "w:oMath",
)  # fmt: skip


class _Relating(Protocol):
    """A story part as rendering uses it: python-docx's, or the fast path's stand-in."""

    def relate_to(self, target: Any, reltype: str, is_external: bool = False) -> str: ...


def _rich_run(segment: RichTextSegment, base: etree._Element | None, part: _Relating) -> Any:
    element = OxmlElement("w:r")
    if base is not None:
        element.append(deepcopy(base))
    run = Run(element, None)  # type: ignore[arg-type]
    font = run.font
    if segment.bold is not None:
        font.bold = segment.bold
    if segment.italic is not None:
        font.italic = segment.italic
    if segment.underline is not None:
        font.underline = segment.underline
    if segment.strike is not None:
        font.strike = segment.strike
    if segment.superscript is not None:
        font.superscript = segment.superscript
    if segment.subscript is not None:
        font.subscript = segment.subscript
    if segment.size is not None:
        font.size = Pt(segment.size)
    if segment.font is not None:
        font.name = segment.font
    if segment.color is not None:
        font.color.rgb = RGBColor.from_string(segment.color)
    if segment.highlight is not None:
        properties = element.get_or_add_rPr()
        for old in properties.findall(qn("w:shd")):
            properties.remove(old)
        shading = OxmlElement(
            "w:shd", {qn("w:val"): "clear", qn("w:color"): "auto", qn("w:fill"): segment.highlight}
        )
        properties.insert_element_before(shading, *_SHD_SUCCESSORS)
    run.text = segment.text
    if segment.url is None:
        return element
    if segment.color is None and font.color.type is not MSO_COLOR_TYPE.RGB:
        font.color.rgb = RGBColor(0x05, 0x63, 0xC1)
    if segment.underline is None:
        font.underline = True
    link = OxmlElement("w:hyperlink", {qn("r:id"): part.relate_to(segment.url, RT.HYPERLINK, True)})
    link.append(element)
    return link


def _is_empty_run(element: etree._Element | None) -> bool:
    if element is None or element.tag != _W_R:
        return False
    return all(child.tag == _W_RPR or (child.tag == _W_T and not child.text) for child in element)


def _apply_rich(root: etree._Element, part: _Relating, registry: list[RichText]) -> bool:
    markers = list(root.iter(_RICH_MARKER))
    for marker in markers:
        holder = marker.getparent()
        assert holder is not None
        host, after = marker.getprevious(), marker.getnext()
        base = host.find(_W_RPR) if host is not None and host.tag == _W_R else None
        position = holder.index(marker)
        holder.remove(marker)
        rich = registry[int(marker.get("n", "0"))]
        for offset, segment in enumerate(s for s in rich.segments if s.text):
            holder.insert(position + offset, _rich_run(segment, base, part))
        for empty in (host, after):
            if empty is not None and _is_empty_run(empty):
                holder.remove(empty)
    if markers:
        etree.cleanup_namespaces(root)
    return bool(markers)


# ------------------------------------------------------------------------------ values


def _page_width(document: Any) -> int | None:
    try:
        section = document.sections[0]
        return int(section.page_width - section.left_margin - section.right_margin)
    except (IndexError, TypeError):
        return None


def _converter(
    tpl: DocxTemplate,
    store: Mapping[str, bytes],
    registry: list[RichText],
    max_width: int | None,
) -> Callable[[Any, str], Any]:
    def convert(value: Any, path: str) -> Any:
        if isinstance(value, InlineImage | _DocxImage | _DocxRich):
            return value
        if isinstance(value, DocxtplRichText):  # given by Python callers; works in {{ }} too
            # docxtpl built and escaped this XML itself.
            xml = f'</w:t></w:r>{value.xml}<w:r><w:t xml:space="preserve">'
            return Markup(xml)  # noqa: S704
        try:
            image = as_image(value)
            if image is not None:
                return _DocxImage(tpl, image, path, store, max_width)
            rich = as_rich_text(value)
        except ValueError as exc:
            raise TemplateRenderError(f"the value at {path} is not valid: {exc}") from exc
        return value if rich is None else _DocxRich(registry, rich)

    return convert


def _image_filter(
    tpl: DocxTemplate, store: Mapping[str, bytes], max_width: int | None
) -> Callable[..., Any]:
    @pass_context  # made per render: never folded into cached template code
    def image(
        context: Any, value: Any, width_mm: float | None = None, height_mm: float | None = None
    ) -> Any:
        """``{{ company.logo | image(40) }}``: show bytes, a reference or an image value."""
        if value is None or isinstance(value, Undefined):
            return value
        if isinstance(value, _DocxImage):
            if width_mm is None and height_mm is None:
                return value
            return value.resized(width_mm, height_mm)
        if isinstance(value, bytes | str):
            sized = as_image({"image": value, "width_mm": width_mm, "height_mm": height_mm})
            assert sized is not None
            return _DocxImage(tpl, sized, "image()", store, max_width)
        return value

    return image


# ------------------------------------------------------------------ render: fast path
#
# Everything that depends only on the template is done once per template and cached (by
# the SHA-256 of its bytes): opening it with python-docx, repairing split tags, docxtpl's
# patching of each part's XML into Jinja source, and the package as python-docx saves it,
# member by member. A render then only runs Jinja over each part's source, applies the
# post-render steps docxtpl and rich text apply, and writes the zip, copying the compressed
# bytes of every member it did not change. Each step mirrors what the full path
# (:func:`_render_full`: docxtpl and python-docx on the whole package) does, in the same
# order, so the document — and the missing variables, errors and their order — are the same.
# When a render needs what only the full path has, it falls back to it.

_PREPARED_ENTRIES = 32
_PREPARED_BYTES = 256 * 1024 * 1024
_CODES_PER_TEMPLATE = 8  # compiled code for this many filter sets at once
_PARAGRAPH_LINE = re.compile(r"<w:p([ >])")
_PARAGRAPH_LINE_END = re.compile(r"\n<w:p([ >])")
_LISTING_CHARACTERS = ("\t", "\a", "\n", "\f")
_SECTIONS = "./w:p/w:pPr/w:sectPr | ./w:sectPr"  # python-docx's, from the body
_STRING_PROPERTIES = (
    "author", "category", "comments", "content_status", "identifier", "keywords",
    "language", "last_modified_by", "subject", "title", "version",
)  # fmt: skip


@dataclass(frozen=True)
class _Source:
    """A part docxtpl renders, as the Jinja source it renders."""

    partname: str
    source: str  # repaired, patched by docxtpl, each paragraph on a line of its own
    encoding: str
    next_id: int  # python-docx's next shape id in the part, for the images it shows


@dataclass(frozen=True)
class _Prepared:
    """What rendering a template needs, computed once per template."""

    package: Package
    body: _Source
    shell: bytes  # the document part with an empty body
    headers: tuple[_Source, ...]  # headers, then footers, in docxtpl's order
    footnotes: tuple[_Source, ...]
    core_partname: str
    core: bytes | None  # the core properties to render; None: nothing in them to render
    max_width: int | None
    # Compiled code of the sources, by environment (the filters and settings Jinja folds in):
    # kept as long as the template, whatever other templates fill the shared code cache.
    codes: dict[tuple[Any, ...], CodeType] = field(default_factory=dict, compare=False)

    @property
    def weight(self) -> int:
        sources = (self.body, *self.headers, *self.footnotes)
        return self.package.size + len(self.shell) + sum(4 * len(s.source) for s in sources)


_PREPARED: LruCache[bytes, _Prepared | None] = LruCache(
    _PREPARED_ENTRIES, _PREPARED_BYTES, lambda p: p.weight if p is not None else 64
)


class _NeedsFullPath(Exception):
    """Raised inside the fast path when the render needs the full path."""


class _NoImages:
    """The part a value renders into where the full path's part would show no image
    (footnotes, document properties): the full path reproduces what happens."""

    def new_pic_inline(self, *args: Any, **kwargs: Any) -> Any:
        raise _NeedsFullPath

    def relate_to(self, *args: Any, **kwargs: Any) -> str:
        raise _NeedsFullPath


def _jinja_source(tpl: _DocgDocxTemplate, xml: str) -> str:
    """docxtpl's ``patch_xml``, then each paragraph on a line (``render_xml_part``)."""
    return _PARAGRAPH_LINE.sub(r"\n<w:p\1", tpl.patch_xml(xml))


def _static_property(value: object) -> bool:
    """Whether rendering the value as a template gives it back unchanged."""
    if not isinstance(value, str):
        return True
    return "{" not in value and "\r" not in value and not value.endswith("\n")


def _prepare(blob: bytes) -> _Prepared | None:
    """Everything about ``blob`` a render does not change; None if the fast path cannot
    render it (the full path then renders it, or reports why it cannot)."""
    try:
        tpl = _load(blob)
        document = tpl.docx
        for story in _stories(document):
            if _repair_tree(story.root, isolate=True):
                story.commit()
        max_width = _page_width(document)
        part = document.part
        body = _Source(str(part.partname), _jinja_source(tpl, tpl.get_xml()), "utf-8", part.next_id)
        headers: list[_Source] = []
        for uri in (tpl.HEADER_URI, tpl.FOOTER_URI):
            for _, header in tpl.get_headers_footers(uri):
                xml = tpl.get_part_xml(header)
                encoding = tpl.get_headers_footers_encoding(xml)
                source = _jinja_source(tpl, xml)
                headers.append(_Source(str(header.partname), source, encoding, header.next_id))
        if len({h.partname for h in headers}) != len(headers):
            return None  # one part rendered twice: python-docx would write it twice
        package = part.package
        footnotes = tuple(
            _Source(str(p.partname), _jinja_source(tpl, p.blob.decode("utf-8")), "utf-8", 0)
            for p in package.parts
            if p.content_type == _FOOTNOTES
        )
        core_part = package.part_related_by(RT.CORE_PROPERTIES)  # KeyError: none (rare)
        properties = document.core_properties
        core: bytes | None = None
        if all(_static_property(getattr(properties, name)) for name in _STRING_PROPERTIES):
            # Rendering gives them back as they are, but writes the empty ones docxtpl renders.
            tpl.render_properties({}, make_environment(autoescape=True))
        else:
            core = core_part.blob
        shell_root = etree.fromstring(serialize_part_xml(document.element), _SAFE_PARSER)
        shell_body = shell_root.find(qn("w:body"))
        assert shell_body is not None
        for child in list(shell_body):
            shell_body.remove(child)
        return _Prepared(
            package=Package.from_document(document),
            body=body,
            shell=serialize_part_xml(shell_root),
            headers=tuple(headers),
            footnotes=footnotes,
            core_partname=str(core_part.partname),
            core=core,
            max_width=max_width,
        )
    except Exception:  # the full path renders it, or raises what is wrong with it
        return None


def _prepared(blob: bytes) -> _Prepared | None:
    key = digest(blob)
    found, prepared = _PREPARED.get(key)
    if not found:
        prepared = _prepare(blob)
        _PREPARED.put(key, prepared)
    return prepared


def _compiled(
    env: DocgEnvironment, source: str, codes: dict[tuple[Any, ...], CodeType] | None
) -> Any:
    """``env.from_string(source)``, with the code kept in ``codes`` when given."""
    if codes is None:
        return env.from_string(source)
    key = env.code_key(source)
    code = codes.get(key)
    if code is None:
        code = env.compile(source)
        if len(codes) >= _CODES_PER_TEMPLATE:
            codes.clear()
        codes[key] = code
    return env.template_class.from_code(env, code, env.make_globals(None), None)


def _render_source(
    env: DocgEnvironment,
    source: str,
    context: dict[str, Any],
    tpl: _DocgDocxTemplate,
    codes: dict[tuple[Any, ...], CodeType] | None,
) -> str:
    """docxtpl's ``render_xml_part`` on an already patched source."""
    xml: str = _compiled(env, source, codes).render(context)
    xml = _PARAGRAPH_LINE_END.sub(r"<w:p\1", xml)
    xml = xml.replace("{_{", "{{").replace("}_}", "}}").replace("{_%", "{%").replace("%_}", "%}")
    if any(character in xml for character in _LISTING_CHARACTERS):
        xml = tpl.resolve_listing(xml)  # without these characters it changes nothing
    return xml


class _CorePropertiesHolder:
    """The document docxtpl's ``render_properties`` reads and writes properties on."""

    def __init__(self, element: Any) -> None:
        self.core_properties = CoreProperties(element)


def _render_fast(
    prepared: _Prepared,
    data: Mapping[str, Any],
    filters: Mapping[str, Callable[..., Any]] | None,
    strict: bool,
    images: Mapping[str, bytes] | None,
) -> RenderResult | None:
    """:func:`render_docx` from the prepared template; None when the full path must render."""
    tpl = _DocgDocxTemplate(io.BytesIO())  # docxtpl's steps, with this render's state
    tpl.docx_ids_index = 1000
    edition = prepared.package.edit()
    store = images or {}
    registry: list[RichText] = []
    max_width = prepared.max_width
    env: DocgEnvironment = make_environment(filters, strict=strict, autoescape=True)
    env.filters["image"] = _image_filter(tpl, store, max_width)
    convert = _converter(tpl, store, registry, max_width)
    foreign: list[InlineImage] = []

    def convert_noting(value: Any, path: str) -> Any:
        if isinstance(value, InlineImage):  # made with another DocxTemplate
            foreign.append(value)
        return convert(value, path)

    context = env.prepare_context(data, convert_noting)
    if foreign:
        return None
    no_images = _NoImages()
    try:
        with translate_errors():
            try:
                tpl.current_rendering_part = edition.story_part(
                    prepared.body.partname, prepared.body.next_id
                )
                codes = prepared.codes
                xml = _render_source(env, prepared.body.source, context, tpl, codes)
                body = tpl.fix_tables(xml)
                tpl.fix_docpr_ids(body)
                document = etree.fromstring(prepared.shell, _SAFE_PARSER)
                old_body = document.find(qn("w:body"))
                assert old_body is not None
                document.replace(old_body, body)
                headers: list[tuple[str, etree._Element]] = []
                for header in prepared.headers:
                    tpl.current_rendering_part = edition.story_part(header.partname, header.next_id)
                    xml = _render_source(env, header.source, context, tpl, codes)
                    headers.append((header.partname, parse_oxml(xml.encode(header.encoding))))
                tpl.current_rendering_part = no_images
                core: bytes | None = None
                if prepared.core is not None:
                    element = parse_oxml(prepared.core)
                    tpl.docx = _CorePropertiesHolder(element)
                    tpl.render_properties(context, env)
                    core = serialize_part_xml(element)
                footnotes: dict[str, bytes] = {}
                for _ in body.xpath(_SECTIONS, namespaces=nsmap):
                    for footnote in prepared.footnotes:
                        previous = footnotes.get(footnote.partname)
                        if previous is None:
                            xml = _render_source(env, footnote.source, context, tpl, codes)
                        else:  # a second section renders the rendered footnotes again
                            source = _jinja_source(tpl, previous.decode("utf-8"))
                            xml = _render_source(env, source, context, tpl, None)
                        footnotes[footnote.partname] = xml.encode("utf-8")
            except _NeedsFullPath:
                return None
    except TemplateSyntaxError:
        return None  # the full path reports where
    env.check_missing()
    if registry:
        _apply_rich(body, edition.story_part(prepared.body.partname, 0), registry)
        for partname, element in headers:
            _apply_rich(element, edition.story_part(partname, 0), registry)
        for partname, blob in footnotes.items():
            root = etree.fromstring(blob, _SAFE_PARSER)
            if _apply_rich(root, edition.story_part(partname, 0), registry):
                footnotes[partname] = etree.tostring(
                    root, xml_declaration=True, encoding="UTF-8", standalone=True
                )
    edition.replace(prepared.body.partname, serialize_part_xml(document))
    for partname, element in headers:
        edition.replace(partname, serialize_part_xml(element))
    if core is not None:
        edition.replace(prepared.core_partname, core)
    for partname, blob in footnotes.items():
        edition.replace(partname, blob)
    try:
        content = edition.write()
    except Exception:  # a package this model does not foresee: the full path writes it
        content = None
    if content is None:
        return None
    return RenderResult(content=content, missing_variables=env.missing_variables)


# ------------------------------------------------------------------------------ render


def render_docx(
    template: Template,
    data: Mapping[str, Any],
    *,
    filters: Mapping[str, Callable[..., Any]] | None = None,
    strict: bool = False,
    images: Mapping[str, bytes] | None = None,
) -> RenderResult:
    """Render a Word template with ``data``.

    :param template: the .docx file, as bytes or a path.
    :param data: the template's variables (``{{ deal.name }}`` reads ``data["deal"]["name"]``).
        An image is ``{"image": <bytes or reference>, "width_mm": 40}``; rich text is
        ``{"rich": [{"text": "Total", "bold": true}, …]}`` (see ``docs/templates.md``).
    :param filters: extra filters (the ``docg_template_filters`` hook), overriding built-ins.
    :param strict: fail when the template uses a variable the data does not have.
    :param images: the bytes of every image reference (storage key or URL) the data holds,
        fetched by the caller beforehand.
    :return: the .docx bytes and the missing variables.
    :raises TemplateSyntaxProblem: the template is malformed; ``problems`` say where.
    :raises TemplateRenderError: strict mode with missing variables, a sandbox violation, an
        unreadable image, a filter given a bad argument.

    The first render of a template's bytes prepares it (about as long as a full render);
    later ones reuse that (a bounded, thread-safe cache) and take a fraction of the time.
    """
    blob = _read(template)
    prepared = _prepared(blob)
    if prepared is not None:
        result = _render_fast(prepared, data, filters, strict, images)
        if result is not None:
            return result
    return _render_full(blob, data, filters=filters, strict=strict, images=images)


def _render_full(
    blob: bytes,
    data: Mapping[str, Any],
    *,
    filters: Mapping[str, Callable[..., Any]] | None = None,
    strict: bool = False,
    images: Mapping[str, bytes] | None = None,
) -> RenderResult:
    """:func:`render_docx` by docxtpl and python-docx on the whole package."""
    tpl = _load(blob)
    stories = _stories(tpl.docx)
    for story in stories:
        if _repair_tree(story.root, isolate=True):
            story.commit()
    store = images or {}
    registry: list[RichText] = []
    max_width = _page_width(tpl.docx)
    env: DocgEnvironment = make_environment(filters, strict=strict, autoescape=True)
    env.filters["image"] = _image_filter(tpl, store, max_width)
    context = env.prepare_context(data, _converter(tpl, store, registry, max_width))
    try:
        with translate_errors():
            tpl.render(context, jinja_env=env)
    except TemplateSyntaxError as exc:
        problems = inspect_template(blob, filters=filters).errors or [
            TemplateProblem(
                str(exc.message), "document", " ".join(getattr(exc, "docx_context", []))
            )
        ]
        raise TemplateSyntaxProblem(problems) from exc
    env.check_missing()
    if registry:
        for story in _stories(tpl.docx):
            if _apply_rich(story.root, story.part, registry):
                story.commit()
    out = io.BytesIO()
    tpl.save(out)
    return RenderResult(content=out.getvalue(), missing_variables=env.missing_variables)


# ----------------------------------------------------------------------------- inspect


def _located_paragraphs(
    container: etree._Element, prefix: str, counters: list[int] | None = None
) -> Iterator[tuple[str, etree._Element]]:
    """Each paragraph under ``container`` with its human location, in document order."""
    counters = counters if counters is not None else [0, 0]  # paragraphs, tables
    for child in container:
        if not isinstance(child.tag, str):
            continue
        if child.tag == _W_P:
            counters[0] += 1
            location = f"{prefix}paragraph {counters[0]}"
            yield location, child
            boxes = [
                box
                for box in child.iter(_W_TXBX)
                if not any(a.tag == _MC_FALLBACK for a in box.iterancestors())
            ]
            for number, box in enumerate(boxes, 1):
                yield from _located_paragraphs(box, f"{location}, text box {number}, ")
        elif child.tag == _W_TBL:
            counters[1] += 1
            table = f"{prefix}table {counters[1]}"
            rows = [r for r in child if r.tag == _W_TR]
            for row_number, row in enumerate(rows, 1):
                cells = [c for c in row if c.tag == _W_TC]
                for cell_number, cell in enumerate(cells, 1):
                    where = f"{table}, row {row_number}, cell {cell_number}, "
                    yield from _located_paragraphs(cell, where)
        else:  # w:sdt, w:customXml, w:footnote …: same numbering, one level down
            yield from _located_paragraphs(child, prefix, counters)


def _docx_tags(
    blob: bytes,
) -> tuple[list[list[LocatedTag]], list[TemplateProblem], list[str]]:
    """The tags of each story, the unclosed tags, and every location in document order."""
    tpl = _load(blob)
    groups: list[list[LocatedTag]] = []
    problems: list[TemplateProblem] = []
    order: list[str] = []
    for story in _stories(tpl.docx):
        group: list[LocatedTag] = []
        for location, paragraph in _located_paragraphs(story.root, story.label):
            order.append(location)
            merge_split_tags(paragraph, WORD)
            tags, unclosed = find_tags(paragraph_text(paragraph, WORD), location)
            group.extend(tags)
            problems.extend(unclosed)
        groups.append(group)
    return groups, problems, order


def inspect_template(
    template: Template, *, filters: Mapping[str, Callable[..., Any]] | None = None
) -> TemplateInfo:
    """What a .docx or .pptx template needs and what is wrong with it, without rendering.

    Split tags are repaired first (in memory), so the report matches what rendering sees.
    An ``.html``/``.md`` path is read as an HTML/Markdown template.

    :param filters: extra filters the template may use (unknown filters are errors).
    """
    if not isinstance(template, bytes | bytearray) and Path(template).suffix.lower() in (
        ".html",
        ".htm",
        ".md",
        ".markdown",
    ):
        from .html import inspect_html

        return inspect_html(Path(template).read_text(encoding="utf-8"), filters=filters)
    blob = _read(template)
    if zipfile.is_zipfile(io.BytesIO(blob)):
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            if "ppt/presentation.xml" in archive.namelist():
                from .pptx import inspect_pptx

                return inspect_pptx(blob, filters=filters)
    groups, problems, order = _docx_tags(blob)
    return analyse(groups, problems, filters=filters, docxtpl=True, order=order)
