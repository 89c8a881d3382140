"""
The system diagram (DIAGRAM_FILE), sanitised and coloured for inlining in the page.

The file is an SVG drawn by people, so it is treated as untrusted markup before it
is put inside the dashboard's HTML:

* a DTD with entities is refused; only elements of the SVG namespace are kept
  (editors' own namespaces, such as Inkscape's, are dropped);
* scripts, `foreignObject`, embedded documents and animations (which can set an
  `href` to `javascript:`) are removed, with their content;
* event handler attributes (`on*`) are removed, and so are links that are not
  http(s), mailto, relative or `#fragment` links; `xlink:href` becomes `href`;
* `@import` and `expression(` are taken out of `<style>`; a `style=` holding them goes.

The sanitised text is cached until the file changes. For each page it is then
parsed again (fast: expat) and every element whose `id` is `<project>--<name>` of a
known check gets `data-diagram-check`, `data-state` (which the CSS colours), a
`<title>` tooltip, and a link to the check's page around it.
"""

import functools
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
MAX_BYTES = 5 * 1024 * 1024
REMOVED = {
    "script", "foreignObject", "iframe", "embed", "object", "handler", "listener",
    "set", "animate", "animateMotion", "animateTransform", "animateColor", "discard",
    "audio", "video", "canvas", "html", "body",
}
SAFE_URL = re.compile(r"^(https?:|mailto:|#|/|\.|[^:/?#]*(?:[/?#]|$))", re.IGNORECASE)
CSS_DANGER = re.compile(r"@import[^;]*;?|expression\s*\(|javascript:|behavior\s*:", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x20]+")


class DiagramError(Exception):
    pass


def load(path: str | Path) -> str | None:
    """The sanitised SVG text of the file at `path`; None when there is none."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return None
    if not path.is_file():
        return None
    try:
        return _sanitised(str(path), stat.st_mtime_ns, stat.st_size)
    except DiagramError as exc:
        logger.warning("DIAGRAM_FILE %s is not shown: %s", path, exc)
        return None


def annotate(svg: str, describe: Callable[[str, str], tuple | None]) -> str:
    """
    `svg` (from `load`) with the elements of known checks marked: `describe(project,
    name)` gives `(state, title, url)` for a check, None for an unknown one.
    """
    root = ET.fromstring(svg)
    ns = _namespace(root.tag)
    parents = {child: parent for parent in root.iter() for child in parent}
    for element in list(root.iter()):
        element_id = element.get("id") or ""
        project, sep, name = element_id.partition("--")
        if not (sep and project and name):
            continue
        found = describe(project, name)
        if found is None:
            continue
        state, title, url = found
        element.set("data-diagram-check", f"{project}/{name}")
        element.set("data-state", state)
        element.set("class", f"{element.get('class', '')} diagram-check".strip())
        for old in element.findall(_q(ns, "title")):
            element.remove(old)
        tooltip = ET.Element(_q(ns, "title"))
        tooltip.text = title
        element.insert(0, tooltip)
        parent = parents.get(element)
        if parent is not None and _local(parent.tag) != "a":
            link = ET.Element(_q(ns, "a"), {"href": url})
            index = list(parent).index(element)
            parent.remove(element)
            link.append(element)
            link.tail, element.tail = element.tail, None
            parent.insert(index, link)
    return _serialise(root)


@functools.lru_cache(maxsize=4)
def _sanitised(path: str, mtime_ns: int, size: int) -> str:
    if size > MAX_BYTES:
        raise DiagramError(f"larger than {MAX_BYTES} bytes")
    raw = Path(path).read_bytes()
    if b"<!ENTITY" in raw.upper():
        raise DiagramError("entity declarations are not allowed")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise DiagramError(f"not well-formed XML: {exc}") from None
    if _local(root.tag) != "svg" or _namespace(root.tag) not in ("", SVG_NS):
        raise DiagramError("the root element is not <svg>")
    _clean(root, _namespace(root.tag))
    _responsive(root)
    return _serialise(root)


def _clean(element: ET.Element, ns: str) -> None:
    _clean_attributes(element)
    if _local(element.tag) == "style" and element.text:
        element.text = CSS_DANGER.sub("", element.text)
    for child in list(element):
        if not isinstance(child.tag, str):  # comments, processing instructions
            element.remove(child)
            continue
        if _namespace(child.tag) != ns or _local(child.tag) in REMOVED:
            _remove_keeping_tail(element, child)
            continue
        _clean(child, ns)


def _clean_attributes(element: ET.Element) -> None:
    for name in list(element.attrib):
        value = element.attrib[name]
        local, namespace = _local(name), _namespace(name)
        if namespace == XLINK_NS and local == "href":
            del element.attrib[name]
            if "href" not in element.attrib:
                element.set("href", value)
                name, namespace = "href", ""
            else:
                continue
        elif namespace not in ("", XML_NS):
            del element.attrib[name]
            continue
        if local.lower().startswith("on"):
            del element.attrib[name]
        elif local in ("href", "src", "action", "formaction"):
            if not SAFE_URL.match(_CONTROL.sub("", value)):
                del element.attrib[name]
        elif local == "style" and CSS_DANGER.search(value):
            del element.attrib[name]


def _remove_keeping_tail(parent: ET.Element, child: ET.Element) -> None:
    """Remove `child`, keeping the text that followed it."""
    if child.tail and child.tail.strip():
        index = list(parent).index(child)
        if index:
            previous = parent[index - 1]
            previous.tail = (previous.tail or "") + child.tail
        else:
            parent.text = (parent.text or "") + child.tail
    parent.remove(child)


def _responsive(root: ET.Element) -> None:
    """Scale with the page: a viewBox from width and height, which then go."""
    width, height = root.get("width", ""), root.get("height", "")
    if not root.get("viewBox"):
        w, h = _number(width), _number(height)
        if w and h:
            root.set("viewBox", f"0 0 {w:g} {h:g}")
    if root.get("viewBox"):
        root.attrib.pop("width", None)
        root.attrib.pop("height", None)
    root.set("role", "img")


def _number(value: str) -> float | None:
    match = re.match(r"^\s*([0-9.]+)\s*(px)?\s*$", value)
    return float(match.group(1)) if match else None


def _serialise(root: ET.Element) -> str:
    """The markup of `root` with SVG as the default namespace (no `ns0:` prefixes,
    which HTML parsers would not understand)."""
    for element in root.iter():
        element.tag = _local(element.tag)
    root.set("xmlns", SVG_NS)
    return ET.tostring(root, encoding="unicode")


def _namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _q(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}" if ns else local
