"""
`Accept: text/plain`: Telescope's human table of check results.

One line per check (project, name, True/False, padded into columns), then the
details of every failing check: URL, description, documentation, parameters, data
and troubleshooting link (and the failing check it depends on that blocks it,
if any). Error responses render as their message.
"""

import json
import textwrap

from rest_framework.renderers import BaseRenderer


class PlainTextRenderer(BaseRenderer):
    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict) and "detail" in data:
            return f"{data['detail']}\n"
        results = data if isinstance(data, list) else [data]
        return table(results) + "".join(details(r) for r in results if not r["success"])


def table(results: list[dict]) -> str:
    project_width = max((len(r["project"]) for r in results), default=0) + 2
    name_width = max((len(r["name"]) for r in results), default=0) + 2
    return "".join(
        f"{r['project']:<{project_width}}{r['name']:<{name_width}}{r['success']}\n"
        for r in results
    )


def details(result: dict) -> str:
    blocks = [
        ("Url", result["url"]),
        ("Description", result["description"]),
        ("Documentation", result["documentation"]),
        ("Parameters", repr(result["parameters"])),
        ("Data", json.dumps(result["data"], indent=2)),
        ("Troubleshooting", result["troubleshooting"]),
    ]
    if result.get("blocked_by"):
        blocks.insert(0, ("Blocked by", result["blocked_by"]))
    text = f"\n\n{result['project']}  {result['name']}\n"
    for title, body in blocks:
        text += f"\n  {title}:\n{textwrap.indent(str(body), '    ')}\n"
    return text
