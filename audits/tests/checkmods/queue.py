"""The README's example: the queue is short enough (`max_length` may come from the URL)."""

EXPOSED_PARAMETERS = ["url", "max_length"]
URL_PARAMETERS = ["max_length"]


def run(url: str, max_length: int = 100, length: int = 5) -> tuple[bool, dict]:
    return length <= max_length, {"length": length}
