"""Passes when `ok` is true; returns its parameters as data (to see casts and redaction)."""

EXPOSED_PARAMETERS = ["url", "ok"]
URL_PARAMETERS = ["limit", "names"]
DEFAULT_PLOT = ".limit"


def run(
    url: str,
    ok: bool = True,
    limit: int = 1,
    ports: list[int] = [],
    headers: dict[str, str] = {},
    names: list[str] = [],
    threshold: int | str = 0,
) -> tuple[bool, dict]:
    return ok, {
        "url": url, "limit": limit, "ports": ports, "headers": headers,
        "names": names, "threshold": threshold,
    }
