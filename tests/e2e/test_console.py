"""The staff console in a real browser (Debian's Chromium driven by Playwright) against the running stack: sign in,
find a person without typing the accents, open the 360° view, set the lifecycle stage by hand and see it in the
history, switch to English, read the dashboard's charts, and use it all on a phone-sized screen. Any script error
or content-security-policy violation in the page fails the test."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.e2e.conftest import Stack
from tests.e2e.test_contacts_profile import new_contact

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("CDP_CHROMIUM", "/usr/bin/chromium")
FLAGS = [  # this machine's network is closed: no background calls to Google's hosts
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        await b.close()


async def open_page(browser: Browser, stack: Stack, **context: Any) -> tuple[Page, list[str]]:
    ctx = await browser.new_context(**context)
    page = await ctx.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    # a failed request is logged by the browser as a console error: those are judged by their status below (a
    # wrong password's 401 and a person identity does not know yet are answers, not faults)
    page.on(
        "console",
        lambda m: (
            problems.append(f"console: {m.text}")
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    await page.goto(f"{stack.gateway}/console/")
    return page, problems


async def sign_in(page: Page) -> None:
    await page.fill("input[name=username]", "admin")
    await page.fill("input[name=password]", "local-only-change-me")
    await page.click("#login button[type=submit]")
    await expect(page.locator("#results")).to_be_visible()


class TestConsole:
    async def test_find_a_person_open_the_360_and_set_the_stage_by_hand(self, browser: Browser, stack: Stack) -> None:
        marker = uuid.uuid4().hex[:6]
        async with stack.client() as client:
            contact = await new_contact(client, stack, full_name=f"Nguyễn Thị Minh Khai {marker}")
        page, problems = await open_page(browser, stack)
        await page.fill("input[name=username]", "admin")
        await page.fill("input[name=password]", "wrong password")
        await page.click("#login button[type=submit]")
        await expect(page.get_by_role("alert")).to_have_text("Sai tên đăng nhập hoặc mật khẩu")
        await sign_in(page)

        await page.fill("input[name=q]", f"nguyen thi minh khai {marker}")  # no accents typed
        await page.press("input[name=q]", "Enter")
        link = page.locator("#results a", has_text=f"Nguyễn Thị Minh Khai {marker}")
        await expect(link).to_have_count(1)
        await link.click()
        await expect(page.locator("h1")).to_have_text(f"Nguyễn Thị Minh Khai {marker}")

        await page.select_option("#lifecycle select[name=stage]", "opportunity")
        await page.fill("#lifecycle input[name=reason]", "Khách hỏi báo giá quà tặng doanh nghiệp")
        await page.click("#lifecycle button")
        history = page.locator("#lifecycle ~ ul.timeline li", has_text="→ opportunity")
        await expect(history).to_contain_text("Khách hỏi báo giá quà tặng doanh nghiệp")
        async with stack.client() as client:
            got = (await client.get(f"{stack.gateway}/v1/contacts/{contact['id']}")).json()
        assert got["lifecycle_stage"] == "opportunity"

        await page.select_option("#lang", "en")
        await expect(page.locator("nav a[href='#/contacts']")).to_have_text("Contacts")
        assert problems == []

    async def test_dashboard_draws_its_charts(self, browser: Browser, stack: Stack) -> None:
        page, problems = await open_page(browser, stack)
        await sign_in(page)
        await page.click("nav a[href='#/dashboard']")
        await expect(page.locator("#kpis .kpi").first).to_be_visible()
        for chart in ("#trend", "#funnel", "#segments"):
            await expect(page.locator(chart)).to_be_visible()
            script = f"() => Boolean(window.Chart && window.Chart.getChart(document.querySelector('{chart}')))"
            drawn = await page.evaluate(script)
            assert drawn, f"{chart} was not drawn"
        assert problems == []

    async def test_usable_on_a_phone(self, browser: Browser, stack: Stack) -> None:
        page, problems = await open_page(browser, stack, viewport={"width": 390, "height": 844}, is_mobile=True)
        await sign_in(page)
        nav = page.locator("#nav")
        await expect(nav).to_be_hidden()
        await page.click("#menu")
        await expect(nav).to_be_visible()
        await page.click("nav a[href='#/consent']")
        await expect(page.locator("#check")).to_be_visible()
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone: {width}px"
        assert problems == []
