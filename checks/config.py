"""
Configuration shared by the check modules, set once by the service at start-up.

Check modules never read Django settings (they must stay importable without
Django); the service calls `configure()` from `audits.apps` with its settings, and
the defaults below are Telescope's, so a check run from a plain Python shell
behaves like one run by the service.
"""

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Config:
    timeout_seconds: float = 10.0
    connect_timeout_seconds: float = 5.0
    deadline_seconds: float = 30.0  # a whole request: retries, redirects and body
    max_response_bytes: int = 10 * 1024 * 1024
    max_retries: int = 2
    max_concurrency: int = 128
    default_headers: dict = field(default_factory=dict)
    user_agent: str = "telescope"
    github_api_url: str = "https://api.github.com"
    github_token: str = ""
    curl_binary_path: str = "curl"


current = Config()


def configure(**values) -> Config:
    """Replace some values of the configuration; unknown names are refused."""
    global current
    current = replace(current, **values)
    return current
