"""Checking and withdrawing a case while the network fails: the person is told, nothing is lost,
and the same buttons work once the connection is back."""

from __future__ import annotations

from playwright.sync_api import expect

from . import driver
from .driver import PIN

STATUS = "**/api/v1/cases/*/status"
WITHDRAW = "**/api/v1/cases/*/withdraw"
UNREACHABLE = "The hash bank could not be reached"


def test_status_and_withdrawal_survive_a_failing_network(chromium, served):
    case = served.new_case(pin=PIN)
    context = chromium.new_context()
    page = driver.open_flow(context, served.url)
    page.click("#open-status")

    # The bank cannot be reached: a clear error, no stale result, and "Check status" again works.
    page.route(STATUS, lambda route: route.abort("internetdisconnected"))
    driver.check_status(page, case)
    assert UNREACHABLE in driver.error_text(page, "#status-error")
    expect(page.locator("#status-result")).to_be_hidden()
    page.unroute(STATUS)
    page.click("#status-check")
    expect(page.locator("#status-state")).to_contain_text("Received on")
    expect(page.locator("#status-error")).to_be_empty()

    # A withdrawal that never reaches the bank: the case stays as it was, the question stays open.
    page.route(WITHDRAW, lambda route: route.abort("internetdisconnected"))
    page.click("#withdraw")
    page.click("#withdraw-yes")
    assert UNREACHABLE in driver.error_text(page, "#status-error")
    assert served.status(case, PIN).json()["status"] == "received"
    expect(page.locator("#withdraw-yes")).to_be_visible()
    page.unroute(WITHDRAW)

    # One that reaches the bank but whose answer is lost: the bank withdrew it; the page cannot
    # know, says so, and asking again (withdrawal is idempotent) shows the case withdrawn.
    lost = []

    def answer_lost(route):
        route.fetch()
        route.abort("connectionreset")
        lost.append(route.request.url)

    page.route(WITHDRAW, answer_lost)
    page.click("#withdraw-yes")
    # Until this attempt fails, the error shown is still the previous one's: wait for the handler
    # (unrouting while it is between fetch and abort makes Playwright handle the route twice).
    for _ in range(200):
        if lost:
            break
        page.wait_for_timeout(50)
    assert lost, "the withdrawal never reached the route"
    assert UNREACHABLE in driver.error_text(page, "#status-error")
    assert served.status(case, PIN).json()["status"] == "withdrawn"
    page.unroute(WITHDRAW)
    page.click("#withdraw-yes")
    expect(page.locator("#status-state")).to_contain_text("Withdrawn on")
    expect(page.locator("#withdraw")).to_be_hidden()
    expect(page.locator("#status-error")).to_be_empty()  # the failure is over: no stale error
    assert page.errors == []
    context.close()
