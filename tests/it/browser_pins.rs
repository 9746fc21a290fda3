//! Pins in the web UI, with two people in headless Chromium: pinning from a message's toolbar,
//! the header's count and the pins panel following live on the other side (who pinned, the
//! jump to the message, Unpin), the pin marker in the list, and the pin leaving with its
//! deleted message. Then a phone (390 × 844): pinning from the action sheet, the panel and the
//! Mentions view fitting the screen.

use crate::browser::{
    message_css, message_id, open_chat, save_screenshot, send, sidebar_link, strings, LIVE,
};
use crate::harness::{s, Server};
use crate::json::Json;
use crate::webdriver::{self, Browser};
use std::time::Duration;

/// The header's pin count, or None while it is hidden.
fn pin_count(browser: &Browser) -> Option<String> {
    browser
        .find("#pins-button")
        .filter(|e| e.is_displayed())
        .and_then(|e| e.try_text())
}

/// The pins panel's rows as "sender: text (pinned by …)".
fn panel_rows(browser: &Browser) -> Vec<String> {
    strings(browser.execute(
        "return [...document.querySelectorAll('#pins-list .pin-item')].map((li) => \
           `${li.querySelector('.pin-sender').textContent}: ${li.querySelector('.pin-text').textContent} \
            (${li.querySelector('.pin-by').textContent.split(' · ')[0]})`);",
    ))
}

fn marked_pinned(browser: &Browser, id: &str) -> bool {
    browser
        .find(&format!("{} .pin-marker", message_css(id)))
        .is_some()
}

/// Clicks a button of message `id`'s toolbar (shown on hover).
fn toolbar(browser: &Browser, id: &str, action: &str) {
    let message = message_css(id);
    let button = format!("{message} .message-actions [data-action=\"{action}\"]");
    browser.hover(&message);
    browser.wait_for(&format!("the {action} button"), LIVE, |b| {
        b.find(&button).is_some_and(|e| e.is_displayed())
    });
    browser.click(&button);
}

#[test]
fn a_pin_shows_live_for_everyone_and_leaves_with_its_message() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    server.signup("alice");
    let mut bob_api = server.signup("bob");
    let checklist = bob_api.say("general", "Deploy checklist: tests, tag, announce");
    for n in 1..=30 {
        bob_api.say("general", &format!("Chatter {n}"));
    }
    let (alice, bob) = (Browser::start(), Browser::start());
    open_chat(&alice, &server, "alice");
    open_chat(&bob, &server, "bob");
    assert_eq!(pin_count(&alice), None, "hidden at 0");

    // Alice pins the checklist from its toolbar; bob's header counts it at once.
    send(&alice, "Let us keep the checklist at hand");
    let checklist_id = s(&checklist, "id").to_owned();
    alice.execute(&format!(
        "document.querySelector('{}').scrollIntoView();",
        message_css(&checklist_id)
    ));
    toolbar(&alice, &checklist_id, "pin");
    alice.wait_for("alice's count", LIVE, |b| {
        pin_count(b).as_deref() == Some("1")
    });
    assert!(marked_pinned(&alice, &checklist_id));
    assert_eq!(
        alice
            .find(&format!(
                "{} .message-actions [data-action=\"pin\"]",
                message_css(&checklist_id)
            ))
            .and_then(|e| e.attribute("aria-label"))
            .as_deref(),
        Some("Unpin")
    );
    bob.wait_for("bob's count", LIVE, |b| {
        pin_count(b).as_deref() == Some("1")
    });
    bob.wait_for("the marker on bob's side", LIVE, |b| {
        marked_pinned(b, &checklist_id)
    });
    assert_eq!(
        bob.find("#pins-button")
            .and_then(|e| e.attribute("aria-label"))
            .as_deref(),
        Some("1 pinned message")
    );

    // Bob opens the panel; alice pins another message, and the open panel follows.
    bob.click("#pins-button");
    bob.wait_for("the panel", LIVE, |b| {
        panel_rows(b) == ["bob: Deploy checklist: tests, tag, announce (Pinned by alice)"]
    });
    let chatter = message_id(&alice, "Chatter 30");
    toolbar(&alice, &chatter, "pin");
    bob.wait_for("the second pin in the open panel", LIVE, |b| {
        panel_rows(b)
            == [
                "bob: Chatter 30 (Pinned by alice)",
                "bob: Deploy checklist: tests, tag, announce (Pinned by alice)",
            ]
    });
    assert_eq!(pin_count(&bob).as_deref(), Some("2"));
    save_screenshot(&bob, "pins-panel");

    // Unpin from the panel; then jump to the checklist, far up the conversation.
    bob.click(&format!("#pins-list [data-unpin][data-id=\"{chatter}\"]"));
    bob.wait_for("the unpinned row to go", LIVE, |b| panel_rows(b).len() == 1);
    alice.wait_for("alice's count to fall", LIVE, |b| {
        pin_count(b).as_deref() == Some("1")
    });
    assert!(!marked_pinned(&alice, &chatter));
    bob.click(&format!("#pins-list .pin-jump[data-id=\"{checklist_id}\"]"));
    bob.wait_for("the jump to the pinned message", LIVE, |b| {
        b.execute("return document.activeElement.dataset.id ?? null;")
            == Json::from(checklist_id.as_str())
    });
    assert!(bob.find("#pins-dialog[open]").is_none());
    assert!(bob.has_class(&message_css(&checklist_id), "flash"));

    // Deleting the message takes its pin away, for everyone, even with the panel open.
    alice.click("#pins-button");
    alice.wait_for("alice's panel", LIVE, |b| panel_rows(b).len() == 1);
    let res = bob_api.delete(&format!(
        "/api/channels/general/messages/{}",
        crate::harness::enc(&checklist_id)
    ));
    assert_eq!(res.status, 204);
    alice.wait_for("the empty panel", LIVE, |b| {
        panel_rows(b).is_empty()
            && b.find("#pins-status")
                .and_then(|e| e.try_text())
                .is_some_and(|t| t.starts_with("Nothing is pinned here"))
    });
    bob.wait_for("bob's count to hide", LIVE, |b| pin_count(b).is_none());
    assert_eq!(pin_count(&alice), None);
    assert_eq!(alice.page_problems(), Vec::<String>::new());
    assert_eq!(bob.page_problems(), Vec::<String>::new());
}

fn sheet_open(browser: &Browser) -> bool {
    browser.execute("return document.getElementById('action-sheet').open;") == Json::Bool(true)
}

/// Whether the element matching `css` lies wholly on screen, and the page is no wider than it.
fn within_screen(browser: &Browser, css: &str) -> bool {
    let found = browser.execute(&format!(
        "const r = document.querySelector('{css}').getBoundingClientRect(); \
         return r.left >= 0 && r.right <= innerWidth && r.top >= 0 && r.bottom <= innerHeight \
           && document.documentElement.scrollWidth <= innerWidth;"
    ));
    found == Json::Bool(true)
}

#[test]
fn on_a_phone_pins_and_mentions_fit_the_screen() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    server.signup("alice");
    let mut bob = server.signup("bob");
    bob.say("general", "Where are the release notes, @alice?");
    let alice = Browser::start();
    alice.emulate_phone();
    open_chat(&alice, &server, "alice");

    // A tap on the message opens the sheet; Pin pins it, and the header counts it.
    let question = message_id(&alice, "Where are the release notes, @alice?");
    assert!(alice.has_class(&message_css(&question), "mentions-me"));
    alice.touch(
        &format!("{} .message-text", message_css(&question)),
        Duration::ZERO,
    );
    alice.wait_for("the sheet", LIVE, sheet_open);
    assert_eq!(alice.text("#action-sheet [data-sheet=\"pin\"]"), "Pin");
    alice.touch("#action-sheet [data-sheet=\"pin\"]", Duration::ZERO);
    alice.wait_for("the count", LIVE, |b| pin_count(b).as_deref() == Some("1"));
    assert!(!sheet_open(&alice));
    alice.touch(
        &format!("{} .message-text", message_css(&question)),
        Duration::ZERO,
    );
    alice.wait_for("the sheet again", LIVE, sheet_open);
    assert_eq!(alice.text("#action-sheet [data-sheet=\"pin\"]"), "Unpin");
    alice.touch("#action-sheet [data-close]", Duration::ZERO);
    alice.wait_for("the sheet to close", LIVE, |b| !sheet_open(b));
    save_screenshot(&alice, "phone-pinned");

    // The panel fits the screen.
    alice.touch("#pins-button", Duration::ZERO);
    alice.wait_for("the panel", LIVE, |b| panel_rows(b).len() == 1);
    assert!(within_screen(&alice, "#pins-dialog"));
    assert!(within_screen(&alice, "#pins-list .pin-unpin"));
    save_screenshot(&alice, "phone-pins");
    alice.touch("#pins-dialog [data-close]", Duration::ZERO);

    // Mentions is in the drawer; the view fits the screen too and opens the message.
    alice.touch("#menu-toggle", Duration::ZERO);
    alice.wait_for("the drawer", LIVE, |b| {
        b.find("#mentions-button").is_some_and(|e| e.is_displayed())
            && b.execute("return getComputedStyle(document.getElementById('sidebar')).transform;")
                == Json::from("none")
    });
    alice.touch("#mentions-button", Duration::ZERO);
    alice.wait_for("the Mentions view", LIVE, |b| {
        b.find("#mentions-list .mention-result").is_some()
    });
    assert!(within_screen(&alice, "#mentions-dialog"));
    save_screenshot(&alice, "phone-mentions");
    alice.touch("#mentions-list .mention-result", Duration::ZERO);
    alice.wait_for("the message", LIVE, |b| {
        b.execute("return document.activeElement.dataset.id ?? null;")
            == Json::from(question.as_str())
    });
    assert!(!alice.find(&sidebar_link("general")).unwrap().is_displayed());
    assert_eq!(alice.page_problems(), Vec::<String>::new());
}
