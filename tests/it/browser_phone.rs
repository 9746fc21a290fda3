//! The web UI on a phone (a 390 × 844 touch screen, emulated in headless Chromium): no hover
//! toolbar on messages; a tap or a long press opens the action sheet at the bottom of the
//! screen, clear of the message it acts on, which acting or a tap elsewhere closes; Log out in
//! the profile menu; no keyboard shortcut button or hints. Skips with a notice when no browser
//! is installed (see `webdriver::available`).

use crate::browser::{
    message_css, message_id, open_chat, save_screenshot, send, shown_messages, strings, LIVE,
};
use crate::harness::Server;
use crate::json::Json;
use crate::webdriver::{self, Browser};
use std::time::Duration;

const LONG_PRESS: Duration = Duration::from_millis(800);

fn sheet_open(browser: &Browser) -> bool {
    browser.execute("return document.getElementById('action-sheet').open;") == Json::Bool(true)
}

/// The actions the open sheet offers (reactions aside), in order.
fn sheet_actions(browser: &Browser) -> Vec<String> {
    strings(browser.execute(
        "return [...document.querySelectorAll('#action-sheet .sheet-action[data-sheet]')] \
           .filter((b) => b.offsetParent !== null).map((b) => b.dataset.sheet);",
    ))
}

/// How many message toolbars are on screen.
fn toolbars_shown(browser: &Browser) -> Json {
    browser.execute(
        "return [...document.querySelectorAll('#messages .message-actions')] \
           .filter((bar) => bar.getClientRects().length > 0 && getComputedStyle(bar).opacity !== '0').length;",
    )
}

/// The sheet's box and the box of the text of message `id`, as [top, bottom, left, right] each,
/// with the viewport's height.
fn boxes(browser: &Browser, id: &str) -> (Vec<f64>, Vec<f64>, f64) {
    let found = browser.execute(&format!(
        "const box = (e) => {{ const r = e.getBoundingClientRect(); return [r.top, r.bottom, r.left, r.right]; }}; \
         return [box(document.getElementById('action-sheet')), \
                 box(document.querySelector('{} .message-text')), innerHeight];",
        message_css(id).replace('\'', "\\'")
    ));
    let Json::Arr(parts) = found else {
        panic!("no boxes: {}", found.to_json_string())
    };
    let numbers = |j: &Json| match j {
        Json::Arr(items) => items
            .iter()
            .map(|n| n.as_f64().unwrap_or(f64::NAN))
            .collect(),
        other => panic!("not a box: {}", other.to_json_string()),
    };
    (
        numbers(&parts[0]),
        numbers(&parts[1]),
        parts[2].as_f64().unwrap_or(0.0),
    )
}

fn overlaps(a: &[f64], b: &[f64]) -> bool {
    a[0] < b[1] && b[0] < a[1] && a[2] < b[3] && b[2] < a[3]
}

fn displayed(browser: &Browser, css: &str) -> bool {
    browser.find(css).is_some_and(|e| e.is_displayed())
}

#[test]
fn on_a_phone_a_tap_or_long_press_opens_the_action_sheet_clear_of_the_message() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    server.signup("alice");
    let mut bob = server.signup("bob");
    // Enough history that the newest messages sit at the bottom, where the sheet opens.
    for n in 1..=14 {
        bob.say("general", &format!("Line {n} of the launch checklist"));
    }
    bob.say("general", "Ready for launch?");
    let alice = Browser::start();
    alice.emulate_phone();
    open_chat(&alice, &server, "alice");
    send(&alice, "My own note");
    alice.wait_for("alice's note", LIVE, |b| {
        shown_messages(b).last().map(String::as_str) == Some("alice: My own note")
    });
    assert_eq!(toolbars_shown(&alice), Json::from(0u64));

    // A tap on her own message: the sheet offers everything, below the message, not over it.
    let note = message_id(&alice, "My own note");
    alice.touch(
        &format!("{} .message-text", message_css(&note)),
        Duration::ZERO,
    );
    alice.wait_for("the sheet", LIVE, sheet_open);
    assert_eq!(
        sheet_actions(&alice),
        ["reply", "pin", "copy", "edit", "delete"]
    );
    let (sheet, text, height) = boxes(&alice, &note);
    assert!(
        (sheet[1] - height).abs() < 1.0,
        "anchored at the bottom: {sheet:?}, {height}"
    );
    assert!(
        !overlaps(&sheet, &text),
        "the sheet {sheet:?} covers the text {text:?}"
    );
    assert!(text[0] >= 0.0, "the text is on screen: {text:?}");
    assert_eq!(
        toolbars_shown(&alice),
        Json::from(0u64),
        "no toolbar besides the sheet"
    );
    save_screenshot(&alice, "phone-sheet");

    // A tap elsewhere closes it.
    // (The dialog's close event, which unmarks the message, comes a moment after it closes.)
    alice.tap_at(195, 60);
    alice.wait_for("the sheet to close and let go of the message", LIVE, |b| {
        !sheet_open(b)
            && b.execute("return document.querySelectorAll('#messages .message.selected').length;")
                == Json::from(0u64)
    });

    // A long press on bob's message: no edit or delete; lifting the finger does not act.
    let ready = message_id(&alice, "Ready for launch?");
    alice.touch(
        &format!("{} .message-text", message_css(&ready)),
        LONG_PRESS,
    );
    alice.wait_for("the sheet", LIVE, sheet_open);
    assert_eq!(sheet_actions(&alice), ["reply", "pin", "copy"]);
    let (sheet, text, _) = boxes(&alice, &ready);
    assert!(
        !overlaps(&sheet, &text),
        "the sheet {sheet:?} covers the text {text:?}"
    );
    assert!(sheet_open(&alice), "lifting the finger acted on the sheet");

    // Acting closes it: a quick reaction, then a reply.
    alice.touch(
        "#action-sheet [data-sheet=\"reaction\"][data-emoji=\"thumbsup\"]",
        Duration::ZERO,
    );
    alice.wait_for("the reaction", LIVE, |b| {
        b.find(&format!(
            "{} .reaction[data-emoji=\"thumbsup\"]",
            message_css(&ready)
        ))
        .is_some()
    });
    assert!(!sheet_open(&alice));
    alice.touch(
        &format!("{} .message-text", message_css(&ready)),
        Duration::ZERO,
    );
    alice.wait_for("the sheet", LIVE, sheet_open);
    alice.touch("#action-sheet [data-sheet=\"reply\"]", Duration::ZERO);
    alice.wait_for("the reply", LIVE, |b| {
        b.find("#composer-context")
            .and_then(|e| e.try_text())
            .is_some_and(|t| t.starts_with("Replying to bob: Ready for launch?"))
    });
    assert!(!sheet_open(&alice));

    // No keyboard shortcuts on a touch screen; Log out is in the profile menu.
    for hint in [
        "#help-button",
        ".composer-hint",
        "#search-button kbd",
        "#logout",
    ] {
        assert!(!displayed(&alice, hint), "{hint} shows on a phone");
    }
    alice.touch("#account-button", Duration::ZERO);
    alice.wait_for("the profile menu", LIVE, |b| displayed(b, "#profile-menu"));
    assert!(displayed(&alice, "#open-settings"));
    assert!(!displayed(&alice, "#open-help"), "keyboard help on a phone");
    save_screenshot(&alice, "phone-menu");
    alice.touch("#logout", Duration::ZERO);
    alice.wait_for_path("/login");
    assert_eq!(alice.page_problems(), Vec::<String>::new());
}
