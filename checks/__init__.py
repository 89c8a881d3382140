"""
Check modules, importable by dotted path (`checks.core.heartbeat`).

A check is a module with a module docstring (its user-facing documentation) and a
typed `run(**params) -> (success: bool, data)`; sync `def run` is the norm, `async
def run` is accepted. Nothing under `checks/` imports Django: the service configures
the shared HTTP helper through `checks.config.configure()` when it starts.
"""
