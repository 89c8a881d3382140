"""The login page in a real browser: styled like the rest of the dashboard, and
saying how to get an account."""

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip or fail the tests, with the reason
    expect = None

pytestmark = pytest.mark.django_db(transaction=True)

LINK_BLUE = "rgb(26, 95, 180)"  # --link of the light palette
CARD_WHITE = "rgb(255, 255, 255)"  # --card of the light palette


def test_the_login_page_is_styled_and_says_how_to_get_an_account(page, staff_user, log_in):
    page.goto("/dashboard/")

    card = page.locator("section.card.login")
    expect(card).to_have_css("background-color", CARD_WHITE)
    expect(card.get_by_role("button", name="Log in")).to_have_css("background-color", LINK_BLUE)
    # Labels above full-width fields, not a bare browser form.
    username = card.get_by_label("User name")
    field_width = username.evaluate("e => e.getBoundingClientRect().width")
    card_width = card.evaluate("e => e.clientWidth")
    assert field_width > card_width * 0.8, (field_width, card_width)
    expect(page.locator(".topbar")).to_be_visible()  # the dashboard's frame

    card.get_by_text("No account yet?").click()
    expect(card.locator(".get-account")).to_contain_text("Ask an administrator")
    expect(card.locator(".get-account code")).to_have_text("python manage.py createsuperuser")

    log_in(page)
    expect(page.locator(".topbar .who")).to_have_text(staff_user.username)
