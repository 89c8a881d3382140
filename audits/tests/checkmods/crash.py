"""Always raises, with `message` in the error (tests use it to check redaction)."""


def run(message: str = "boom") -> tuple[bool, None]:
    raise RuntimeError(message)
