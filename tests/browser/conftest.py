"""Real-browser tests: pytest-playwright driving the system's Chromium against `live_server`.

The browser comes from the OS packages (Debian's `chromium`, /usr/bin/chromium), never from
`playwright install`. `make browsers` (and `make test`, and .ci/run) install it. Without it these
tests skip with a reason locally; with CI=true in the environment they fail instead, so a CI
machine without a browser cannot pass by skipping.

Playwright's sync API keeps an asyncio loop running in the test's thread for as long as it is
started, and Django refuses ORM calls from a thread with a running loop. So the Playwright
fixtures are overridden here with package scope: the loop lives only while this package's tests
run, DJANGO_ALLOW_ASYNC_UNSAFE is set for exactly that time, and the rest of the suite (which
pytest-django may order after these tests) never sees either.
"""

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = os.environ.get("O2O_CHROMIUM") or "/usr/bin/chromium"
PASSWORD = "pass-1234-word"  # tests.factories.UserFactory's password

CALL_REPORT = pytest.StashKey()
# A busy CI machine (PostgreSQL flushing between tests, a first request compiling templates) can take
# more than Playwright's 5 s default; the time limits only matter when something is wrong anyway.
expect.set_options(timeout=15_000)

TABLET_PORTRAIT = {"width": 768, "height": 1024}
TABLET_LANDSCAPE = {"width": 1024, "height": 768}
PHONE = {"width": 390, "height": 844}
TABLETS = pytest.mark.parametrize(
    "viewport", [TABLET_PORTRAIT, TABLET_LANDSCAPE], ids=["tablet-768x1024", "tablet-1024x768"]
)


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(config, items):
    """Every test in this folder is a browser test: marked `browser` (deselect with -m "not browser")."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep the call's report on the item, so open_screen knows whether to take a failure screenshot."""
    report = yield
    if report.when == "call":
        item.stash[CALL_REPORT] = report
    return report


def chromium_executable() -> str | None:
    """The system Chromium: $O2O_CHROMIUM when set (and only it), else /usr/bin/chromium or
    `chromium` on the PATH."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    if os.environ.get("O2O_CHROMIUM"):
        return None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="package")
def chromium() -> str:
    path = chromium_executable()
    if path is None:
        reason = (
            f"no system Chromium at {CHROMIUM}: run `make browsers` (apt-get install chromium) "
            "or point O2O_CHROMIUM at a Chromium binary"
        )
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI must run the browser tests, but there is {reason}", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="package")
def _async_unsafe_allowed():
    """The ORM may run beside Playwright's loop while this package's tests run (see module doc)."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


# --- pytest-playwright's session fixtures, narrowed to this package --------------------------------


@pytest.fixture(scope="package")
def playwright(chromium, _async_unsafe_allowed):
    pw = sync_playwright().start()
    yield pw
    pw.stop()


@pytest.fixture(scope="package")
def browser_type(playwright, browser_name):
    return getattr(playwright, browser_name)


@pytest.fixture(scope="package")
def browser_type_launch_args(browser_type_launch_args, chromium):
    return {**browser_type_launch_args, "executable_path": chromium}


@pytest.fixture(scope="package")
def launch_browser(browser_type_launch_args, browser_type):
    def launch(**kwargs):
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser):
    browser = launch_browser()
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def browser_context_args(live_server):
    # English pages whatever the machine's locale; the tests read the English texts.
    return {"base_url": live_server.url, "locale": "en-US", "timezone_id": "Asia/Shanghai"}


# --- what a test drives: a page that records console errors and takes screenshots ------------------


@dataclass
class Screen:
    """One browser tab at one viewport, with the console errors it logged."""

    page: Page
    name: str
    folder: Path
    viewport: dict
    errors: list[str] = field(default_factory=list)

    def on_console(self, message) -> None:
        url = message.location.get("url", "")
        # Chromium asks for /favicon.ico on its own when a page names no icon; that 404 is the
        # browser's guess, not something the page asked for.
        if message.type == "error" and not url.endswith("/favicon.ico"):
            self.errors.append(f"{message.text} ({url})")

    def goto(self, path: str) -> None:
        self.page.goto(path)

    def login(self, email: str, password: str = PASSWORD) -> None:
        self.goto("/accounts/login/")
        self.page.get_by_label("Email", exact=True).fill(email)
        self.page.get_by_label("Password", exact=True).fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_role("button", name="Log out")).to_be_visible()

    def logout(self) -> None:
        self.page.get_by_role("button", name="Log out").click()
        expect(self.page.get_by_role("button", name="Sign in")).to_be_visible()

    def shot(self, step: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.name}-{step}.png"
        self.page.screenshot(path=path, full_page=True)
        return path

    def assert_no_horizontal_scroll(self) -> None:
        scroll, client = self.page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert scroll <= client, (
            f"{self.page.url} scrolls sideways at {self.viewport['width']}x{self.viewport['height']}: "
            f"the page is {scroll}px wide in a {client}px window"
        )

    def assert_no_console_errors(self) -> None:
        assert self.errors == [], f"the page logged errors: {self.errors}"

    def assert_titled_and_labelled(self) -> None:
        """The accessibility basics a script can check: a page title of its own, and a name (label,
        aria-label, aria-labelledby or title) on every visible form field."""
        title = self.page.title()
        has_own = title.strip() and not title.lstrip().startswith("·")  # not just " · O2O back office"
        assert has_own, f"{self.page.url} has no title of its own: {title!r}"
        unnamed = self.page.evaluate(
            """() => [...document.querySelectorAll("input, select, textarea")]
                .filter(el => !["hidden", "submit", "button", "reset", "image"].includes(el.type))
                .filter(el => el.getClientRects().length > 0)
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute("aria-label")
                              && !el.getAttribute("aria-labelledby") && !el.getAttribute("title"))
                .map(el => el.outerHTML.slice(0, 120))"""
        )
        assert unnamed == [], f"{self.page.url} has form fields without a label: {unnamed}"

    def assert_no_template_leaks(self) -> None:
        """No template syntax in what people read (a `{# ... #}` over several lines is shown as is)."""
        text = self.page.locator("body").inner_text()
        leaks = re.findall(r"\{[#%{].{0,60}", text)
        assert leaks == [], f"{self.page.url} shows template syntax: {leaks}"

    def check(self, step: str) -> None:
        """A screenshot of the page as it is, then: it fits the width, has a title and labelled
        fields, shows no template syntax, and nothing logged an error."""
        self.shot(step)
        self.assert_no_horizontal_scroll()
        self.assert_titled_and_labelled()
        self.assert_no_template_leaks()
        self.assert_no_console_errors()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


@pytest.fixture
def open_screen(new_context, request) -> Callable[..., Screen]:
    """open_screen(viewport) -> a Screen; screenshots go to artefacts/screenshots/<test>-<step>.png.
    After the test, any console error or uncaught page error fails it (a last look, in case one came
    after the test's own checks)."""
    folder = request.config.rootpath / "artefacts" / "screenshots"
    screens: list[Screen] = []

    def open_screen(viewport: dict) -> Screen:
        context = new_context(viewport=viewport)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.set_default_navigation_timeout(30_000)
        screen = Screen(page=page, name=_slug(request.node.name), folder=folder, viewport=viewport)
        page.on("console", screen.on_console)
        page.on("pageerror", lambda error: screen.errors.append(f"uncaught: {error}"))
        screens.append(screen)
        return screen

    yield open_screen
    report = request.node.stash.get(CALL_REPORT, None)
    for screen in screens:
        if report is not None and report.failed:
            screen.shot("failed")  # the page as it was when the test gave up; the failure says the rest
        else:
            screen.assert_no_console_errors()
