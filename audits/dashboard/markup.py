"""
Markdown of check descriptions and module docstrings, rendered for the dashboard.

Two locks keep HTML out: raw HTML in the Markdown is not passed through (the
parser's HTML handlers are removed, so `<script>` shows as text), and the output
goes through nh3 (ammonia) with a short list of tags and attributes and only
http, https and mailto links. What comes out is safe to mark safe.
"""

import functools
import re

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

EXTENSIONS = ["fenced_code", "tables", "sane_lists"]
TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p",
    "pre", "s", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align"},
    "td": {"align"},
    "abbr": {"title"},
}
URL_SCHEMES = {"http", "https", "mailto"}


def render(text: str | None) -> SafeString:
    """Sanitised HTML of the Markdown `text` ("" for nothing)."""
    if not text or not text.strip():
        return mark_safe("")
    return mark_safe(_render(text))


@functools.lru_cache(maxsize=1024)
def _render(text: str) -> str:
    # A Markdown instance is not thread-safe: one per call (cheap next to rendering).
    md = markdown.Markdown(extensions=EXTENSIONS, output_format="html")
    md.preprocessors.deregister("html_block")  # raw HTML blocks become text
    md.inlinePatterns.deregister("html")  # and so do inline tags
    html = md.convert(text)
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(?<![\w*`~])(\*\*|__|\*|_|`|~~)(?=\S)(.+?)(?<=\S)\1(?![\w*`~])")


def summary(text: str | None, limit: int = 140) -> str:
    """The first non-empty line of `text` as plain text (the usual Markdown marks
    taken out), cut at `limit` characters. Not HTML: templates escape it."""
    for line in (text or "").splitlines():
        line = line.strip().lstrip("#>*- ").strip()
        line = _EMPHASIS.sub(r"\2", _LINK.sub(r"\1", line))
        if line:
            return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
    return ""
