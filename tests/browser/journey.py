"""What every browser journey does on every page: axe-core at two widths, the phone-width
check, screenshots, and getting through the emulator's Microsoft pages."""
from __future__ import annotations

import re

from tests.browser.conftest import DESKTOP, PHONE, SHOTS, WCAG

_AXE = None


def axe():
    global _AXE
    if _AXE is None:
        from axe_playwright_python.sync_playwright import Axe

        _AXE = Axe()
    return _AXE


def check(page, name: str, shot: bool = False) -> None:
    """No WCAG 2.1 A/AA violation at 1280 and 390 px, and nothing wider than a 390 px screen.
    The page is left at the viewport it had."""
    before = page.viewport_size
    try:
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            results = axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG},
                                               "resultTypes": ["violations"]})
            assert results.violations_count == 0, \
                f"{name} ({page.url}) at {size['width']} px:\n{results.generate_report()}"
            if label == "phone":
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= size["width"], f"{name} is {width} px wide on a {size['width']} px screen"
            if shot:
                save(page, f"{name}-{label}")
    finally:
        page.set_viewport_size(before)


def save(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def microsoft(page, base: str, email: str, keyboard: bool = False) -> None:
    """Through the emulator's sign-in and consent pages until back at the app."""
    from playwright.sync_api import Error

    for _ in range(12):
        try:
            page.wait_for_load_state()
            if page.url.startswith(base):
                page.wait_for_load_state()
                return
            _one_microsoft_step(page, base, email, keyboard)
        except Error as exc:  # the page moved on by itself (a redirect, a self-posting form)
            if "context was destroyed" not in str(exc) and "navigation" not in str(exc):
                raise
    assert page.url.startswith(base), page.url


def _one_microsoft_step(page, base: str, email: str, keyboard: bool) -> None:
    """One page of Microsoft's: each submit waits for the page it leads to, so that the next
    step never acts on a page that is already being left (a second submit of the same form
    would end the emulator's sign-in flow)."""
    if page.locator("form#signin").count():
        if keyboard:  # the address field has autofocus, once the browser has applied it
            if not page.evaluate("document.activeElement && document.activeElement.id === 'email'"):
                tab_to(page, "#email")
            page.keyboard.press("Control+A")
            page.keyboard.type(email)
            with page.expect_navigation():
                page.keyboard.press("Enter")
        else:
            page.fill("#email", email)
            with page.expect_navigation():
                page.click("form#signin button.primary")
    elif page.locator("form#consent").count():
        with page.expect_navigation():
            if keyboard:
                tab_to(page, "button[value=accept]")
                page.keyboard.press("Enter")
            else:
                page.click("form#consent button[value=accept]")
    elif page.locator("form button:has-text('Continue')").count():
        with page.expect_navigation():
            page.click("form button")  # form_post without JavaScript (with it, the page posts itself)
    else:
        page.wait_for_url(re.compile(re.escape(base) + ".*"))
    page.wait_for_load_state()


def tab_to(page, target, limit: int = 120, back: bool = False) -> None:
    """Press Tab (Shift+Tab when ``back``) until ``target``, a CSS selector or a Locator, has
    the focus: keyboard only. Fails naming the control, and what had the focus instead, if
    ``limit`` presses never reach it (a control the keyboard cannot reach fails the test)."""
    key = "Shift+Tab" if back else "Tab"
    if isinstance(target, str):
        def focused() -> bool:
            return page.evaluate("s => { const a = document.activeElement; return !!a && a.matches(s); }",
                                 target)
        name = target
    else:
        target.wait_for(state="attached")
        def focused() -> bool:
            return target.evaluate("el => el === document.activeElement")
        name = re.sub(r"^.*selector=(['\"])(.*)\1>$", r"\2", str(target))
    for _ in range(limit):
        page.keyboard.press(key)
        if focused():
            return
    raise AssertionError(f"{limit} presses of {key} never gave the focus to {name} on {page.url}; "
                         f"the focus was left on {_describe_focus(page)}")


def press(page, target, key: str = "Enter", back: bool = False, navigates: bool = True) -> None:
    """Tab to ``target`` and press ``key`` on it (Enter for a link or a button, Space for a
    button or a checkbox); with ``navigates``, wait for the page it leads to."""
    tab_to(page, target, back=back)
    if navigates:
        with page.expect_navigation():
            page.keyboard.press(key)
    else:
        page.keyboard.press(key)


def type_into(page, target, value: str, back: bool = False) -> None:
    """Tab to a field and type ``value`` over what it held."""
    tab_to(page, target, back=back)
    page.keyboard.press("Control+A")
    page.keyboard.type(value)


def _describe_focus(page) -> str:
    return page.evaluate("""() => {
        const a = document.activeElement;
        if (!a || a === document.body) return "the page itself";
        const text = (a.getAttribute("aria-label") || a.innerText || a.value || "").trim().slice(0, 60);
        return "<" + a.tagName.toLowerCase() + (a.id ? "#" + a.id : "") + "> " + JSON.stringify(text);
    }""")


def focused_text(page) -> str:
    return page.evaluate("(document.activeElement && document.activeElement.innerText) || ''")


def text(page, selector: str = "main") -> str:
    return re.sub(r"\s+", " ", page.inner_text(selector))
