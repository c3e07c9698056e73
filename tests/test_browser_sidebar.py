"""In Chromium: from a module's settings, change its sidebar entry (Cyrillic name, section, shown or not)
and reorder the sidebar by dragging and by keyboard — the sidebar follows each change without a page load."""

from conftest import browser_sign_in, create_admin, install_sample, make_menu_module


def sidebar_order(page, section):
    return page.eval_on_selector_all(f"#sidebar [data-section={section}] [data-module]",
                                     "items => items.map(i => i.dataset.module)")


def drag(page, source, target, before=True):
    """Drag `source` onto the upper (or lower) part of `target` with real mouse moves."""
    box = page.locator(source).bounding_box()
    goal = page.locator(target).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    y = goal["y"] + goal["height"] * (0.25 if before else 0.75)
    steps = 20
    for i in range(1, steps + 1):
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2 +
                        (y - box["y"] - box["height"] / 2) * i / steps)
        page.wait_for_timeout(20)
    for wiggle in (1, -1, 0):  # let Sortable see the pointer rest over the target before the drop
        page.mouse.move(box["x"] + box["width"] / 2 + wiggle, y)
        page.wait_for_timeout(60)
    page.mouse.up()


def drag_and_save(page, source, target):
    """Drag, then wait until the server's answer has replaced the sidebar (Sortable moves the item at
    once, before the order is saved) and its lists can be dragged again."""
    page.evaluate("window.__nav = document.getElementById('sidebar')")
    with page.expect_response(lambda r: r.url.endswith("/sidebar/order") and r.status == 200):
        drag(page, source, target)
    page.wait_for_function("""() => document.getElementById('sidebar') !== window.__nav &&
                              !!document.querySelector('#sidebar [data-sortable]').dataset.sortableReady""")


def test_display_options_and_reordering_update_the_sidebar_live(app, live_server, page, tmp_path):
    from panel.services import modules

    create_admin(app)
    install_sample(app, "hello")
    install_sample(app, "notes", make_menu_module(tmp_path / "src" / "notes", "notes", "Notes"))
    with app.app_context():
        modules.enable("hello", "test")
        modules.enable("notes", "test")

    browser_sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/modules/hello/settings")
    page.evaluate("window.__sameDocument = true")
    entry = page.locator("#sidebar [data-module=hello]")
    assert entry.inner_text().strip() == "Hello"

    # open the display options
    page.click("#tab-display")
    page.wait_for_selector("#display-hello-label", state="visible")

    # rename in Cyrillic
    page.fill("#display-hello-label", "Лицензии")
    page.click("#display-hello .display-save")
    page.wait_for_function("() => document.querySelector('#sidebar [data-module=hello]').innerText.trim() === 'Лицензии'")
    page.wait_for_selector("#display-hello .display-saved")

    # move to another section
    page.select_option("#display-hello-section", "payments")
    page.click("#display-hello .display-save")
    page.wait_for_selector("#sidebar [data-section=payments] [data-module=hello]")
    assert sidebar_order(page, "tools") == ["notes"]

    # hide, then show again
    page.uncheck("#display-hello-show")
    page.click("#display-hello .display-save")
    entry.wait_for(state="detached")
    page.check("#display-hello-show")
    page.click("#display-hello .display-save")
    page.wait_for_selector("#sidebar [data-section=payments] [data-module=hello]")

    # a refused name: the error beside the field, the sidebar unchanged
    page.fill("#display-hello-label", "   ")
    page.click("#display-hello .display-save")
    page.wait_for_selector("#display-hello-label-error")
    assert entry.inner_text().strip() == "Лицензии"

    # edit mode: drag hello from "payments" above notes in "tools"
    page.click("#sidebar .sidebar-edit-toggle")
    page.wait_for_selector("#sidebar.sidebar-editing [data-sortable]")
    page.wait_for_function("() => !!window.Sortable")
    drag_and_save(page, "#sidebar [data-module=hello] .sidebar-drag", "#sidebar [data-module=notes] .sidebar-drag")
    assert sidebar_order(page, "tools") == ["hello", "notes"]
    assert sidebar_order(page, "payments") == []

    # …and within the section: notes above hello
    drag_and_save(page, "#sidebar [data-module=notes] .sidebar-drag", "#sidebar [data-module=hello] .sidebar-drag")
    assert sidebar_order(page, "tools") == ["notes", "hello"]

    # keyboard: the arrow buttons, with the focus kept on the entry's buttons
    page.focus("#sidebar [data-move='notes:down']")
    page.keyboard.press("Enter")
    page.wait_for_function("""() => Array.from(document.querySelectorAll('#sidebar [data-section=tools] [data-module]'))
                              .map(i => i.dataset.module).join() === 'hello,notes'""")
    page.wait_for_function("() => document.activeElement && document.activeElement.dataset.move === 'notes:up'")

    page.click("#sidebar .sidebar-edit-done")
    page.wait_for_selector("#sidebar:not(.sidebar-editing) [data-section=tools] [data-module=hello] a")
    assert sidebar_order(page, "tools") == ["hello", "notes"]
    assert page.evaluate("window.__sameDocument") is True  # no page load happened through all of this

    # the order is stored: a fresh page shows it
    page.goto(f"{live_server.url}/modules")
    assert sidebar_order(page, "tools") == ["hello", "notes"]
    assert entry.inner_text().strip() == "Лицензии"

    # the card's gear opens the same options in a dialog
    page.evaluate("window.__sameDocument = true")
    page.click("#module-notes .card-display-options")
    page.wait_for_selector("#display-dialog.show #display-notes-label", state="visible")
    page.fill("#display-notes-label", "Заметки")
    page.click("#display-notes .display-save")
    page.wait_for_function("() => document.querySelector('#sidebar [data-module=notes]').innerText.trim() === 'Заметки'")
    page.wait_for_function("() => !!document.activeElement.closest('#display-notes')")  # focus kept in the form
    page.keyboard.press("Escape")
    page.wait_for_selector("#display-dialog", state="detached")
    assert page.evaluate("window.__sameDocument") is True
