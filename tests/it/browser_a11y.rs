//! Accessibility of the web UI, checked by axe-core (vendored for the tests in tests/data/axe,
//! never served by the binary) in headless Chromium: the login and signup pages, the chat with a
//! channel open (a mention, a pin, the "New" divider), the profile menu, the keyboard help,
//! Settings, search with results, the Mentions view, the pins panel, the notification-level
//! menu, the @ autocomplete and, on a phone, the action sheet — in the light and the dark
//! theme. No violation of impact "serious"
//! or "critical" is allowed; the failure lists each one with the elements it found.

use crate::browser::{message_css, message_id, open_chat, LIVE};
use crate::harness::Server;
use crate::json::Json;
use crate::webdriver::{self, Browser};
use std::time::Duration;

const AXE: &str = include_str!("../data/axe/axe.min.js");

/// Runs axe on the page as it is now; returns one line per serious or critical violation.
fn serious_violations(browser: &Browser, screen: &str) -> Vec<String> {
    if browser.execute("return typeof window.axe;") != Json::from("object") {
        browser.execute(AXE);
    }
    let found = browser.execute_async(
        "const result = await axe.run(document, { resultTypes: ['violations'] }); \
         return result.violations \
           .filter((v) => v.impact === 'serious' || v.impact === 'critical') \
           .map((v) => `${v.impact} ${v.id}: ${v.help}\\n` + v.nodes.map((n) => \
             `    ${n.target.join(' ')}: ${n.failureSummary.replace(/\\s+/g, ' ')}`).join('\\n'));",
    );
    match found {
        Json::Arr(items) => items
            .iter()
            .map(|v| format!("{screen}: {}", v.as_str().unwrap_or("?")))
            .collect(),
        other => vec![format!(
            "{screen}: axe did not run: {}",
            other.to_json_string()
        )],
    }
}

fn wait_open(browser: &Browser, dialog: &str) {
    browser.wait_for(&format!("{dialog} to open"), LIVE, |b| {
        b.find(&format!("{dialog}[open]")).is_some()
    });
}

/// Every screen of the app in one theme; returns what axe found.
fn check_screens(server: &Server, scheme: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let browser = Browser::start();
    browser.prefer_color_scheme(scheme);
    let mut check = |browser: &Browser, screen: &str| {
        let theme = browser.execute("return document.documentElement.dataset.theme;");
        assert_eq!(theme, Json::from(scheme), "{screen} follows the system");
        problems.extend(serious_violations(browser, &format!("{scheme} {screen}")));
    };

    browser.goto(&format!("{}/login", server.origin()));
    browser.click("#submit");
    browser.wait_for_text("#error", "Enter your username and password");
    check(&browser, "login (empty, with its message)");
    browser.goto(&format!("{}/signup", server.origin()));
    browser.type_into("#username", "new one");
    browser.type_into("#password", "abc");
    check(&browser, "signup (rules unmet)");

    open_chat(&browser, server, "alice");
    browser.wait_for("the messages", LIVE, |b| {
        b.find("#messages .message-text ul").is_some()
    });
    check(&browser, "chat");
    browser.click("#account-button");
    check(&browser, "profile menu");
    browser.click("#open-help");
    wait_open(&browser, "#help-dialog");
    check(&browser, "keyboard help");
    browser.click("#help-dialog [data-close]");
    browser.click("#account-button");
    browser.click("#open-settings");
    wait_open(&browser, "#settings-dialog");
    check(&browser, "settings");
    for tab in ["appearance", "password", "notifications", "danger"] {
        browser.click(&format!("#tab-{tab}"));
        if tab == "password" {
            browser.type_into("#new-password", "abc");
        }
        check(&browser, &format!("settings, {tab}"));
    }
    browser.click("#settings-dialog [data-close]");
    browser.click("#search-button");
    browser.type_into("#search-input", "launch");
    browser.wait_for("search results", LIVE, |b| {
        b.find("#search-results [data-system]").is_some()
    });
    check(&browser, "search");
    browser.type_into("#search-input", "\u{E00C}");

    browser.click("#mentions-button");
    browser.wait_for("the mentions", LIVE, |b| {
        b.find("#mentions-list .mention-result").is_some()
    });
    check(&browser, "mentions view");
    browser.click("#mentions-dialog [data-close]");
    browser.click("#pins-button");
    browser.wait_for("the pins", LIVE, |b| {
        b.find("#pins-list .pin-item").is_some()
    });
    check(&browser, "pins panel");
    browser.click("#pins-dialog [data-close]");
    browser.click("#level-button");
    check(&browser, "notification levels");
    browser.type_into("#level-menu [aria-checked=\"true\"]", "\u{E00C}");
    browser.type_into("#composer", "@");
    browser.wait_for("the mention list", LIVE, |b| {
        b.find("#mention-popup .mention-option").is_some()
    });
    check(&browser, "mention autocomplete");
    browser.type_into("#composer", "\u{E00C}");
    browser.replace_text("#composer", "");

    browser.emulate_phone();
    browser.reload();
    browser.wait_for("the live connection", LIVE, |b| {
        b.execute("return document.getElementById('connection').dataset.state;")
            == Json::from("connected")
    });
    browser.wait_for("the messages", LIVE, |b| {
        b.find("#messages .message-text ul").is_some()
    });
    check(&browser, "phone");
    let id = message_id(&browser, "Launch at noon, @alice");
    browser.touch(
        &format!("{} .message-text", message_css(&id)),
        Duration::ZERO,
    );
    wait_open(&browser, "#action-sheet");
    check(&browser, "phone, action sheet");
    assert_eq!(browser.page_problems(), Vec::<String>::new());
    problems
}

#[test]
fn axe_finds_nothing_serious_on_the_main_screens_in_either_theme() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let created = alice.post(
        "/api/private-channels",
        &Json::obj([
            ("name", "launch".into()),
            ("members", Json::Arr(vec!["bob".into()])),
        ]),
    );
    assert_eq!(created.status, 201);
    bob.say(
        "general",
        "Checklist for _today_:\n- fuel **on**\n1. count\n> quoted\n`code` ~~old~~ https://example.org",
    );
    let launch = bob.say("general", "Launch at noon, @alice");
    let launch_path = format!(
        "/api/channels/general/messages/{}",
        crate::harness::s(&launch, "id")
    );
    let react = format!("{launch_path}/reactions");
    assert_eq!(
        alice
            .post(&format!("{launch_path}/pin"), &Json::obj([]))
            .status,
        200
    );
    assert_eq!(
        alice
            .post(&react, &Json::obj([("emoji", "thumbsup".into())]))
            .status,
        200
    );
    alice.say("general", "See you there");

    let mut problems = check_screens(&server, "light");
    problems.extend(check_screens(&server, "dark"));
    assert!(
        problems.is_empty(),
        "axe found {} serious or critical problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
