//! Never missing a message, in headless Chromium: a conversation opened with unread messages
//! shows the "New" divider above the first of them, scrolled into view; only what has been on
//! screen is marked read on the server (messages below the fold stay unread until scrolled to);
//! a message arriving while scrolled up brings the "N new messages ↓" pill, which scrolls to
//! the bottom and goes away; nothing is read while the tab is hidden.

use crate::browser::{log_in, save_screenshot, sidebar_link, LIVE};
use crate::harness::count;
use crate::harness::Server;
use crate::json::Json;
use crate::webdriver::{self, Browser};
use std::time::Duration;

/// The text of the first message below the "New" divider.
fn first_below_divider(browser: &Browser) -> Json {
    browser.execute(
        "let node = document.querySelector('#message-list .new-divider'); \
         while (node && !node.classList.contains('message')) node = node.nextElementSibling; \
         return node?.querySelector('.message-text')?.textContent ?? null;",
    )
}

/// Whether the divider is wholly inside the visible part of the list.
fn divider_on_screen(browser: &Browser) -> bool {
    browser.execute(
        "const list = document.getElementById('messages').getBoundingClientRect(); \
         const line = document.querySelector('#message-list .new-divider')?.getBoundingClientRect(); \
         return Boolean(line) && line.top >= list.top && line.bottom <= list.bottom;",
    ) == Json::Bool(true)
}

/// How many messages start below the visible part of the list (none of them can have been
/// seen), and how many are not at least 24 px into it (these may not count as seen).
fn below_the_fold(browser: &Browser) -> (u64, u64) {
    let counts = browser.execute(
        "const bottom = document.getElementById('messages').getBoundingClientRect().bottom; \
         const tops = [...document.querySelectorAll('#message-list .message')].map((m) => m.getBoundingClientRect().top); \
         return [tops.filter((t) => t >= bottom).length, tops.filter((t) => t + 24 > bottom).length];",
    );
    let n = |i: usize| match &counts {
        Json::Arr(items) => items[i].as_u64().expect("a count"),
        other => panic!("not counts: {}", other.to_json_string()),
    };
    (n(0), n(1))
}

/// The pill's words, when it shows.
fn pill(browser: &Browser) -> Option<String> {
    browser
        .find("#new-messages")
        .filter(|e| e.is_displayed())
        .and_then(|e| e.try_text())
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[test]
fn the_new_divider_and_pill_show_what_is_unread_and_only_seen_messages_are_read() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    let mut alice_api = server.signup("alice");
    let mut bob = server.signup("bob");
    alice_api.say("general", "Morning, everyone");
    for n in 1..=40 {
        bob.say("general", &format!("Update {n} on the migration"));
    }
    assert_eq!(count(&mut alice_api, "general", "unread"), 40);

    // Alice opens #general: the divider sits above bob's first update, in view.
    let alice = Browser::start();
    log_in(&alice, &server, "alice");
    alice.wait_for("the divider", LIVE, |b| {
        first_below_divider(b) == Json::from("Update 1 on the migration")
    });
    assert!(
        divider_on_screen(&alice),
        "the divider is scrolled into view"
    );
    assert_eq!(
        alice
            .find("#message-list .new-divider")
            .and_then(|e| e.attribute("aria-label"))
            .as_deref(),
        Some("New messages")
    );
    save_screenshot(&alice, "new-divider");

    // What was on screen is read; what waits below the fold is not.
    alice.wait_for("the first read mark", LIVE, |_| {
        count(&mut alice_api, "general", "unread") < 40
    });
    let unread = count(&mut alice_api, "general", "unread");
    let (surely_unseen, maybe_unseen) = below_the_fold(&alice);
    assert!(surely_unseen > 0, "the test needs messages below the fold");
    assert!(
        (surely_unseen..=maybe_unseen).contains(&unread),
        "{unread} unread, {surely_unseen}..={maybe_unseen} below the fold"
    );
    assert!(alice.has_class(&sidebar_link("general"), "unread"));

    // A message arriving while she reads higher up brings the pill; it counts every
    // message not seen yet.
    bob.say("general", "Update 41: done");
    alice.wait_for("the pill", LIVE, |b| {
        pill(b).as_deref() == Some(format!("{} new messages ↓", unread + 1).as_str())
    });
    save_screenshot(&alice, "new-messages-pill");
    alice.click("#new-messages");
    alice.wait_for("the pill to go", LIVE, |b| pill(b).is_none());
    assert_eq!(
        alice.execute(
            "const list = document.getElementById('messages'); \
             return list.scrollHeight - list.scrollTop - list.clientHeight < 2;"
        ),
        Json::Bool(true),
        "scrolled to the bottom"
    );
    alice.wait_for("everything to be read", LIVE, |_| {
        count(&mut alice_api, "general", "unread") == 0
    });
    assert!(!alice.has_class(&sidebar_link("general"), "unread"));
    assert!(
        alice.find("#message-list .new-divider").is_some(),
        "the divider stays while the conversation is open"
    );

    // Leaving and coming back: nothing is new any more.
    alice.click(&sidebar_link("random"));
    alice.wait_for_text("#channel-title", "random");
    alice.click(&sidebar_link("general"));
    alice.wait_for_text("#channel-title", "general");
    alice.wait_for("the list", LIVE, |b| {
        b.find("#message-list .message").is_some()
    });
    assert!(alice.find("#message-list .new-divider").is_none());

    // With the tab hidden, what arrives is not read, even at the bottom, and the line marks
    // where it starts; showing the tab reads it.
    alice.execute(
        "Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true }); \
         document.dispatchEvent(new Event('visibilitychange'));",
    );
    let mut bobs_socket = bob.ws();
    bob.say("general", "Anyone around?");
    alice.wait_for("the line above the message that came", LIVE, |b| {
        first_below_divider(b) == Json::from("Anyone around?")
    });
    // Reading it would tell bob (a receipt): nothing comes while the tab stays hidden.
    bobs_socket.expect_no_event("receipts", Duration::from_millis(800));
    assert_eq!(count(&mut alice_api, "general", "unread"), 1);
    assert!(alice.has_class(&sidebar_link("general"), "unread"));
    alice.execute(
        "delete document.visibilityState; document.dispatchEvent(new Event('visibilitychange'));",
    );
    let receipt = bobs_socket.expect_event("receipts");
    assert_eq!(receipt.get("reader"), Some(&Json::from("alice")));
    assert_eq!(count(&mut alice_api, "general", "unread"), 0);
    assert_eq!(alice.page_problems(), Vec::<String>::new());
}
