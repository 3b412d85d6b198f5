"""The accessibility checks every walk makes on the pages it visits: one h1 and a title, a label
for every form control, alt text on images, no sideways scrolling at a phone's width, and the
keyboard reaching the main actions. They read the rendered page, so they see what a person's
browser sees."""

from __future__ import annotations

from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

PHONE = (390, 844)  # an iPhone 12-14's viewport in CSS pixels
MAX_TABS = 60  # a bound on the keys pressed, far above what any of these pages needs

# Controls a person fills or presses, with the name assistive technology reads for each.
_UNLABELLED = """
return Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => el.type !== 'hidden')
  .filter(el => {
    const byFor = el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]');
    const wrapped = el.closest('label');
    const aria = (el.getAttribute('aria-label') || '').trim() || el.getAttribute('aria-labelledby');
    return !(byFor || wrapped || aria);
  })
  .map(el => el.outerHTML.slice(0, 120));
"""
_NAMELESS_BUTTONS = """
return Array.from(document.querySelectorAll('button, a[href]'))
  .filter(el => !(el.textContent.trim() || (el.getAttribute('aria-label') || '').trim()))
  .map(el => el.outerHTML.slice(0, 120));
"""
_OVERFLOW = "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
# The outermost elements sticking out on the right, to name in a failure.
_WIDE = """
const limit = document.documentElement.clientWidth;
return Array.from(document.querySelectorAll('body *'))
  .filter(el => el.getBoundingClientRect().right > limit + 0.5)
  .filter(el => !(el.parentElement && el.parentElement.getBoundingClientRect().right > limit + 0.5))
  .slice(0, 3).map(el => el.outerHTML.slice(0, 100));
"""


def check_page(driver: webdriver.Chrome, *, phone: bool = True) -> None:
    """Assert the page now shown meets the checks; with `phone`, also at a phone's width."""
    where = driver.current_url
    headings = driver.find_elements(By.TAG_NAME, "h1")
    assert len(headings) == 1, f"{where}: {len(headings)} h1 elements"
    assert driver.title.strip(), f"{where}: no <title>"
    assert not driver.execute_script(_UNLABELLED), f"{where}: unlabelled controls"
    assert not driver.execute_script(_NAMELESS_BUTTONS), f"{where}: buttons or links without a name"
    images = driver.find_elements(By.TAG_NAME, "img")
    assert all(img.get_attribute("alt") is not None for img in images), f"{where}: an image without alt"
    if phone:
        assert_fits_a_phone(driver)


def assert_fits_a_phone(driver: webdriver.Chrome) -> None:
    """At 390 px wide nothing makes the page scroll sideways (wide tables scroll in their own box)."""
    size = driver.get_window_size()
    driver.set_window_size(*PHONE)
    try:
        overflow = int(driver.execute_script(_OVERFLOW))
        wide = driver.execute_script(_WIDE) if overflow > 0 else []
    finally:
        driver.set_window_size(size["width"], size["height"])
    assert overflow <= 0, f"{driver.current_url}: {overflow} px of sideways scrolling at 390 px: {wide}"


def tab_reaches(driver: webdriver.Chrome, css: str) -> int:
    """Press Tab from the top of the page until `css` has the focus; returns how many presses."""
    target = driver.find_element(By.CSS_SELECTOR, css)
    driver.execute_script("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);")
    for presses in range(1, MAX_TABS + 1):
        ActionChains(driver).send_keys(Keys.TAB).perform()  # to whatever has the focus, as a keyboard does
        if driver.switch_to.active_element == target:
            return presses
    raise AssertionError(f"{MAX_TABS} presses of Tab never reached {css}")
