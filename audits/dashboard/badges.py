"""
Status badges, shields.io's "flat" style, as standalone SVG documents for READMEs
and wikis: a grey label on the left, the status on the right in its colour.

Text widths are estimated from Verdana 11px character widths (as shields does),
so the badge fits its text without a font on the server.
"""

from html import escape

COLORS = {
    "passing": "#2e9b4f",
    "failing": "#d9453d",
    "unknown": "#8a8f98",
}
LABEL_COLOR = "#555"
FONT = "Verdana,Geneva,DejaVu Sans,sans-serif"

# Approximate advance widths of Verdana at 11px, by character class.
_NARROW = set("fijlrtI!|.,:;'()[]{} ")
_WIDE = set("mwMW@%&")
_UPPER = set("ABCDEFGHJKLNOPQRSTUVXYZ#$+<=>?~_02345789")


def text_width(text: str) -> float:
    width = 0.0
    for char in text:
        if char in _NARROW:
            width += 3.9
        elif char in _WIDE:
            width += 10.5
        elif char in _UPPER:
            width += 7.4
        else:
            width += 6.6
    return width


def render(label: str, message: str, state: str) -> str:
    """The SVG of a badge `label | message`, coloured for `state`."""
    color = COLORS.get(state, COLORS["unknown"])
    label_w = round(text_width(label) + 10)
    message_w = round(text_width(message) + 10)
    total = label_w + message_w
    label_x, message_x = label_w / 2, label_w + message_w / 2
    title = escape(f"{label}: {message}")
    label, message = escape(label), escape(message)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{title}"><title>{title}</title>'
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{label_w}" height="20" fill="{LABEL_COLOR}"/>'
        f'<rect x="{label_w}" width="{message_w}" height="20" fill="{color}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        f'<g fill="#fff" text-anchor="middle" font-family="{FONT}" font-size="11">'
        f'<text x="{label_x:g}" y="15" fill="#010101" fill-opacity=".3">{label}</text>'
        f'<text x="{label_x:g}" y="14">{label}</text>'
        f'<text x="{message_x:g}" y="15" fill="#010101" fill-opacity=".3">{message}</text>'
        f'<text x="{message_x:g}" y="14">{message}</text></g></svg>'
    )


def summarise(states) -> tuple[str, str]:
    """The (state, message) of a group of checks from their states."""
    states = list(states)
    failing = states.count("failing")
    if failing:
        return "failing", f"{failing} failing" if len(states) > 1 else "failing"
    if states and all(s == "passing" for s in states):
        return "passing", "passing"
    return "unknown", "unknown"
