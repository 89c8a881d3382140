"""Returns something that is not (success, data)."""


def run() -> bool:
    return True
