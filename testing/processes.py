"""
Running the service's own commands as real processes in tests.

`service_environment()` is this process's environment without any of the service's
settings (the suite sets some, e.g. SECRET_KEY, and a developer's shell may hold
others), so that a child process sees only what the test gives it. `Server` starts a
command that serves HTTP in its own process group, waits until it answers, and kills
the whole group (an autoreloader's child, gunicorn's workers) when stopped.
`group_size()` counts a group's processes: the check processes a server forked.
"""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests

from testing.waiting import wait_until


def service_environment(**variables: str) -> dict:
    """os.environ without the service's settings, then `variables`."""
    from telescope_site import settings as site_settings

    names = set(site_settings.env.scheme) | {"DJANGO_SETTINGS_MODULE"}
    environment = {k: v for k, v in os.environ.items() if k not in names}
    return {**environment, **variables}


PROJECT_DIR = Path(__file__).resolve().parents[1]


def manage(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python manage.py *args` in this project, with `env`, its output captured."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=timeout,
    )


def runserver(env: dict, log_path: Path) -> "Server":
    """`manage.py runserver` of this project on a free port (no autoreloader),
    started; call `wait_until_serving()`, then `stop()`."""
    port = free_port()
    argv = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    return Server(argv, PROJECT_DIR, env, port, log_path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`argv` run in `cwd`, output in `log_path`, answering on 127.0.0.1:`port`."""

    def __init__(self, argv: list[str], cwd: Path, env: dict, port: int, log_path: Path):
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.popen = subprocess.Popen(
                argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_serving(self, path: str = "/__lbheartbeat__", timeout: float = 60.0):
        def answers():
            if self.popen.poll() is not None:
                raise AssertionError(f"exited {self.popen.returncode}:\n{self.log()[-4000:]}")
            try:
                return requests.get(self.url(path), timeout=2).status_code == 200
            except (requests.ConnectionError, requests.Timeout):
                return False  # not listening yet, or listening while its worker boots

        wait_until(answers, timeout=timeout, interval=0.2,
                   message=lambda: f"{self.base_url}{path} never answered 200:\n{self.log()[-4000:]}")
        return self

    def url(self, path: str) -> str:
        return self.base_url + path

    def stop(self) -> None:
        """Kill the whole process group, and wait until none of it is left (so that
        its port and files are free for the next start)."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(timeout=30)
        wait_until(lambda: not _group_alive(self.popen.pid), timeout=30,
                   message=f"process group {self.popen.pid} outlived SIGKILL")


def group_size(group: int) -> int:
    """The live (not zombie) processes of the process group `group`."""
    count = 0
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        count += int(fields[2]) == group and fields[0] != "Z"
    return count


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
