"""The widget's part cards in real Chromium: uploads (several at once, dropped, with progress
and a busy state), the unit switch, options that need review, prices as options change,
and the keyboard alone."""

from __future__ import annotations

import re
from typing import Any

from browser_fixtures import DATA, PASSWORD, sign_up, staff_sign_in, upload
from http_server import LiveServer

# Every state an upload's row in #uploads goes through, as the page shows it.
WATCH_UPLOADS = """() => {
  window.uploadStates = [];
  const list = document.getElementById("uploads");
  const record = () => list.querySelectorAll("li").forEach((li) => {
    const bar = li.querySelector("progress");
    window.uploadStates.push({
      text: li.querySelector("span").textContent,
      bar: bar === null ? "none" : (bar.hasAttribute("value") ? "value" : "indeterminate"),
      busy: li.classList.contains("busy"),
    });
  });
  new MutationObserver(record).observe(list, {subtree: true, childList: true,
                                             attributes: true, characterData: true});
}"""

DROP = """([name, text]) => {
  const transfer = new DataTransfer();
  transfer.items.add(new File([text], name, {type: "text/plain"}));
  return transfer;
}"""

SIZE = "{0} \u00d7 {0} \u00d7 {0} mm"


def _price(option: str) -> float:
    """The unit price an option of the select names: "... \u2014 3.67 EUR per part, 3 days"."""
    found = re.search(r"\u2014 ([\d,]+\.\d\d) EUR per part", option)
    assert found is not None, option
    return float(found.group(1).replace(",", ""))


def test_several_files_at_once_and_a_dropped_one_show_progress_then_analysis(
    page: Any, shop_server: LiveServer
) -> None:
    sign_up(page, shop_server)
    page.evaluate(WATCH_UPLOADS)
    page.get_by_label("Model files").set_input_files(
        [str(DATA / "20mm-xyz-cube.stl"), str(DATA / "box.obj")])
    page.locator("article.part").nth(1).wait_for()
    names = page.locator("article.part h3").all_inner_texts()
    assert names == ["20mm-xyz-cube.stl", "box.obj"]
    states = page.evaluate("window.uploadStates")
    for name in names:
        assert {"text": f"{name}: uploading", "bar": "value", "busy": False} in states
        # Once sent, the bar runs without a value and the row is busy while analysed.
        assert {"text": f"{name}: analysing the model\u2026", "bar": "indeterminate",
                "busy": True} in states
    assert page.locator("#uploads li").count() == 0

    zone = page.locator("[data-upload]")
    transfer = page.evaluate_handle(DROP, ["dropped.obj", (DATA / "box.obj").read_text()])
    zone.dispatch_event("dragover", {"dataTransfer": transfer})
    assert "over" in (zone.get_attribute("class") or "")
    zone.dispatch_event("drop", {"dataTransfer": transfer})
    page.locator("article.part", has_text="dropped.obj").wait_for()
    assert "over" not in (page.locator("[data-upload]").get_attribute("class") or "")
    assert page.locator("article.part").count() == 3


# Once the page with a card measured in cm is swapped in, switches the card back to mm in the
# same moment, before any timer can run: what a quick hand or a test driver does.
SWITCH_ON_ARRIVAL = """() => new MutationObserver((records, observer) => {
  for (const record of records) {
    for (const node of record.addedNodes) {
      const card = node.nodeType === Node.ELEMENT_NODE ? node.querySelector("article.part") : null;
      if (card !== null && card.textContent.includes("200.0 \u00d7 200.0")) {
        observer.disconnect();
        window.switchedOnArrival = true;
        const units = card.querySelector("select[name=units]");
        units.value = "mm";
        units.dispatchEvent(new Event("change", {bubbles: true}));
      }
    }
  }
}).observe(document.body, {subtree: true, childList: true})"""


def test_a_card_takes_input_the_moment_it_is_swapped_in(
    page: Any, shop_server: LiveServer
) -> None:
    sign_up(page, shop_server)
    upload(page, "20mm-xyz-cube.stl")
    page.evaluate(SWITCH_ON_ARRIVAL)
    page.locator("article.part").get_by_label("Units of the file").select_option("cm")
    page.wait_for_function("window.switchedOnArrival === true")
    page.locator("article.part", has_text=SIZE.format("20.0")).wait_for(timeout=20_000)
    assert page.locator("article.part select[name=units]").input_value() == "mm"


def test_the_unit_switch_measures_again_and_options_needing_review_say_why(
    page: Any, shop_server: LiveServer
) -> None:
    sign_up(page, shop_server)
    upload(page, "20mm-xyz-cube.stl")
    first_viewer = page.locator("canvas.viewer[data-ready=true]").element_handle()
    for units, size in (("cm", "200.0"), ("inch", "508.0"), ("m", "20,000.0"),
                        ("mm", "20.0")):
        page.locator("article.part").get_by_label("Units of the file").select_option(units)
        page.locator("article.part", has_text=SIZE.format(size)).wait_for()
    page.locator("article.part").get_by_label("Units of the file").select_option("cm")
    page.locator("article.part", has_text=SIZE.format("200.0")).wait_for()
    page.locator("canvas.viewer[data-ready=true]").wait_for()
    # A viewer swapped out of the page has given its WebGL context back.
    assert first_viewer.evaluate("c => !c.isConnected && c.getContext('webgl2').isContextLost()")

    options = page.locator("article.part").get_by_label("Process and material")
    texts = options.locator("option").all_inner_texts()
    priced = [t for t in texts if "per part" in t]
    review = [t for t in texts if "needs review:" in t]
    assert priced
    assert review
    assert len(priced) + len(review) == len(texts)
    assert texts[:len(priced)] == priced
    prices = [_price(t) for t in priced]
    assert prices == sorted(prices)
    reasons = {t.split(" \u2014 ")[0]: t.split("needs review: ", 1)[1] for t in review}
    assert all(len(reason) > 40 for reason in reasons.values()), reasons
    assert reasons["SLA (Formlabs Form 3+) \u00b7 Standard resin"] == (
        "the part measures 200.0 x 200.0 x 200.0 mm and does not fit the 145 x 145 x 185 mm "
        "build volume of SLA (Formlabs Form 3+) in any orientation")

    card = page.locator("article.part")
    first_total = card.locator("[data-line-total]").inner_text()
    card.get_by_label("Quantity").fill("7")
    card.get_by_label("Quantity").dispatch_event("change")
    page.locator("article.part input[name=quantity][value='7']").wait_for()
    assert page.locator("article.part [data-line-total]").inner_text() != first_total
    chosen = options.input_value()
    other = next(v for v in options.locator("option").evaluate_all(
        "options => options.map(o => o.value)") if v != chosen)
    options.select_option(other)
    page.wait_for_function(
        "value => document.querySelector('article.part select[name=option]').value === value"
        " && document.querySelector('article.part select[name=option] option:checked')"
        ".defaultSelected", arg=other)


def test_the_widget_and_the_change_menu_work_from_the_keyboard_with_focus_visible(
    context: Any, shop_server: LiveServer
) -> None:
    page = context.new_page()
    page.goto(f"{shop_server.url}/w/acme/")
    page.locator("#sign-up").wait_for()
    page.keyboard.press("Tab")
    focused = page.evaluate("""() => {
        const el = document.activeElement, style = getComputedStyle(el);
        return {text: el.textContent, outline: style.outlineStyle, width: style.outlineWidth,
                top: el.getBoundingClientRect().top};
    }""")
    assert focused["text"] == "Skip to content"
    assert (focused["outline"], focused["width"]) == ("solid", "3px")
    assert focused["top"] >= 0

    page.locator("#su-name").focus()
    for value in ("Ada Lovelace", "ada@example.com", PASSWORD):
        page.keyboard.type(value)
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "su-tax"
    for field, value in (("#billing-line1", "1 Analytical Way"), ("#billing-postal", "10115"),
                         ("#billing-city", "Berlin"), ("#billing-country", "DE")):
        page.locator(field).focus()
        page.keyboard.type(value)
    page.locator("#su-bc-email").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Create account"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=re.compile("Your quote")).wait_for()

    # The account's widget may still be swapping in: focus the input once it has settled.
    page.wait_for_function("document.querySelector('.htmx-request, .htmx-settling') === null")
    page.get_by_label("Model files").focus()
    page.wait_for_function("document.activeElement?.id === 'upload-files'")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(str(DATA / "20mm-xyz-cube.stl"))
    page.locator("article.part").wait_for()
    page.locator("canvas.viewer[data-ready=true]").focus()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.get_by_label(re.compile("^Pickup")).focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Save shipping").focus()
    page.keyboard.press("Enter")
    page.locator("table.breakdown th", has_text="Shipping (").wait_for()
    page.get_by_role("button", name="Place order").focus()
    page.keyboard.press("Enter")
    page.locator("[data-state=ready_for_payment]").wait_for()

    staff = context.browser.new_context().new_page()
    staff_sign_in(staff, shop_server)
    staff.locator("table.list a").first.focus()
    staff.keyboard.press("Enter")
    staff.locator("[data-status=placed]").wait_for()
    staff.locator("summary", has_text="Change").focus()
    staff.keyboard.press("Enter")
    option = staff.locator("details.change-option summary").get_by_text("Manufacturing",
                                                                    exact=True)
    option.focus()
    assert staff.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    staff.keyboard.press("Enter")
    staff.keyboard.press("Tab")
    staff.keyboard.press("Tab")
    assert staff.evaluate("document.activeElement.textContent") == "Change to Manufacturing"
    staff.keyboard.press("Enter")
    staff.locator("[data-status=manufacturing]").wait_for()
