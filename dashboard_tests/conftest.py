"""
Fixtures of the browser tests: Debian's Chromium driven by Playwright against
pytest-django's `live_server`, a staff user who logs in through the form, and
real data (checks run against a real HTTP server, errors from a real Periskop
client's export).

Every test gets a fresh browser context (no cookies, no localStorage) and a `page`
that records what goes wrong in the browser: uncaught script errors, console
errors (a 404 of a stylesheet or script shows up there), failed requests and
answers >= 400 from the live server. A test whose page saw any of them fails,
even if its own assertions passed. The final state of each page is saved to
`test-artifacts/<test name>.png`, passed or failed.

Chromium: /usr/bin/chromium (`apt-get install chromium`), never a browser
downloaded by `playwright install`. Without it the tests are skipped with the
reason, or failed when `CI` is set (`require_chromium()`, as
`testing.services.require()` does for servers).
"""

import os
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from django.contrib.auth.models import User

from audits.models import Check, Tag
from audits.runner import run_check

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # require_chromium() says so, skipping or failing the tests
    expect = sync_playwright = None

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# The machine running the tests may be loaded: Playwright's auto-waiting, with room.
TIMEOUT_MS = 20_000

# Chromium asks every site for /favicon.ico, when it likes; the dashboard has none
# (a 404 the pages never asked for), which is no failure of the page being tested.
FAVICON = "/favicon.ico"

STAFF_USER, STAFF_PASSWORD = "ops", "correct horse battery staple"
HEARTBEAT = "checks.core.heartbeat"


def require_chromium() -> str:
    """Chromium's path; else skip (or fail, under CI) with the reason."""
    if sync_playwright is None:
        problem = "Playwright for Python is not installed"
        fix = "pip install --require-hashes -r requirements-dev.txt"
    elif not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        problem = f"Chromium is not installed at {CHROMIUM}"
        fix = "apt-get install chromium"
    else:
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{problem}; CI needs it for the browser tests: {fix}")
    pytest.skip(f"{problem}; {fix} to run the browser tests")


# --- The browser ----------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser():
    """One Chromium for the whole folder (starting it is the slow part)."""
    executable = require_chromium()
    # Playwright's sync API runs an asyncio event loop in this thread (in a
    # greenlet) while it is started, so Django's async-safety guard takes every ORM
    # call of the tests (data set up, the database flush between tests, checks run
    # while a page is open) for a call from async code and raises
    # SynchronousOnlyOperation. The tests are plain synchronous code that only
    # shares the thread with the loop, so the guard is switched off while the
    # browser is up, and put back afterwards for the rest of the suite.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        expect.set_options(timeout=TIMEOUT_MS)
        yield browser
        browser.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class BrowserProblems:
    """What went wrong in a page, as the browser saw it."""

    def __init__(self, origin: str):
        self.origin = origin
        self.items: list[str] = []

    def watch(self, page) -> None:
        page.on("pageerror", lambda error: self.items.append(f"page error: {error}"))
        page.on("console", self._console)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, message) -> None:
        where = message.location.get("url", "")
        if message.type == "error" and not where.endswith(FAVICON):
            self.items.append(f"console error: {message.text} ({where})")

    def _failed(self, request) -> None:
        # A navigation cancels what the page was still fetching (a status poll):
        # that is the browser leaving, not the server failing.
        if "ERR_ABORTED" in (request.failure or ""):
            return
        self.items.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def _response(self, response) -> None:
        if response.url.endswith(FAVICON):
            return
        if response.status >= 400 and response.url.startswith(self.origin):
            self.items.append(f"HTTP {response.status}: {response.request.method} {response.url}")


@pytest.fixture
def page(browser, live_server, request):
    """A fresh page (own cookies and storage) on the live server, watched."""
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, color_scheme="light"
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems = BrowserProblems(live_server.url)
    problems.watch(page)
    page.browser_problems = problems
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    try:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail the test (not its teardown) when its page saw errors."""
    result = yield
    page = item.funcargs.get("page")
    problems = getattr(page, "browser_problems", None)
    if problems is not None and problems.items:
        raise AssertionError("The browser saw problems:\n" + "\n".join(problems.items))
    return result


# --- Users and logging in -----------------------------------------------------------------


@pytest.fixture
def staff_user(transactional_db):
    return User.objects.create_user(STAFF_USER, password=STAFF_PASSWORD, is_staff=True)


def fill_login_form(page, username=STAFF_USER, password=STAFF_PASSWORD) -> None:
    """Fill and send the login form the page shows."""
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.fixture
def log_in(staff_user):
    """`log_in(page)`: the staff user logs in through the form the page shows."""
    return fill_login_form


@pytest.fixture
def logged_in(page, log_in):
    """`logged_in(path)`: open `path` as the staff user, through the login form."""

    def open_page(path: str = "/dashboard/"):
        page.goto(path)
        log_in(page)
        # Back where it started (the login's `next` may spell "%40" as "@").
        page.wait_for_url(lambda url: unquote(url).endswith(unquote(path)))
        expect(page.locator(".topbar .who")).to_have_text(STAFF_USER)
        return page

    return open_page


# --- Checks run against a real server ---------------------------------------------------------


@pytest.fixture
def make_heartbeat(transactional_db, upstream):
    """
    `make_heartbeat("p", "n", status=200, tags=[...], runs=1)`: a heartbeat check of
    the `upstream` server at `/p/n`, which answers `status`, run `runs` times for
    real (0: never run, its state unknown).
    """

    def make(project, name, status=200, tags=(), runs=1, **fields):
        path = f"/{project}/{name}"
        upstream.route(path, status=status, json={"status": "ok" if status == 200 else "error"})
        fields.setdefault("ttl", 5)
        check = Check.objects.create(
            project=project, name=name, module=HEARTBEAT,
            params={"url": upstream.url(path)}, **fields,
        )
        check.tags.set([Tag.objects.get_or_create(name=tag)[0] for tag in tags])
        for _ in range(runs):
            run_check(check, force=True)
        return check

    return make


@pytest.fixture
def run_again(upstream):
    """`run_again(check, status)`: its upstream route now answers `status`, and the
    check runs again for real (its state and history change as in production)."""

    def run(check: Check, status: int) -> None:
        path = f"/{check.project}/{check.name}"
        upstream.route(path, status=status, json={"status": "ok" if status == 200 else "error"})
        run_check(Check.objects.get(pk=check.pk), force=True)

    return run
