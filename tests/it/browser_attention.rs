//! Mentions and notification levels in the web UI, with two or three people in headless
//! Chromium: the @ autocomplete, the red mention badge and the alert (sound or notification)
//! for a mention in another conversation, the Mentions view with "Load more" and its jump to
//! the message, muted conversations (no alert, out of the title's count), the "Mentions and
//! DMs" level, do-not-disturb, and choices showing live in a second tab of the same person.
//! Alerts are read from `window.__minimostAlerts`, where the page records each one it gives.

use crate::browser::{message_css, open_chat, save_screenshot, sidebar_link, strings, LIVE};
use crate::harness::{conversation, count, s, Client, Server};
use crate::json::Json;
use crate::webdriver::{self, Browser};

/// The ids of the messages this page has alerted its user to, oldest first.
pub(crate) fn alerts(browser: &Browser) -> Vec<String> {
    strings(browser.execute("return window.__minimostAlerts || [];"))
}

/// The red mention badge of conversation `id` in the sidebar, if it shows one.
pub(crate) fn mention_badge(browser: &Browser, id: &str) -> Option<String> {
    browser
        .find(&format!("{} .badge-mention", sidebar_link(id)))
        .and_then(|e| e.try_text())
}

fn title(browser: &Browser) -> String {
    browser
        .execute("return document.title;")
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Makes the page believe its window lost the focus (another application is in front), as
/// only a person switching windows could otherwise do.
fn look_away(browser: &Browser) {
    browser.execute("document.hasFocus = () => false;");
}

fn private_channel(owner: &mut Client, name: &str, members: &[&str]) -> String {
    let members = Json::Arr(members.iter().map(|m| Json::from(*m)).collect());
    let res = owner.post(
        "/api/private-channels",
        &Json::obj([("name", name.into()), ("members", members)]),
    );
    assert_eq!(res.status, 201, "{}", res.text());
    s(&res.json(), "id").to_owned()
}

#[test]
fn a_mention_completes_alerts_the_person_and_is_found_in_the_mentions_view() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    let mut alice_api = server.signup("alice");
    let mut bob_api = server.signup("bob");
    server.signup("carol");
    let (alice, bob) = (Browser::start(), Browser::start());
    open_chat(&alice, &server, "alice");
    open_chat(&bob, &server, "bob");
    alice.click(&sidebar_link("random"));
    alice.wait_for_text("#channel-title", "random");

    // Bob types "@al": the list offers alice (carol does not match), and Enter takes her.
    bob.type_into("#composer", "Hi @al");
    let chosen = "#mention-popup .mention-option[aria-selected=\"true\"] .mention-option-name";
    bob.wait_for("alice to be suggested", LIVE, |b| {
        b.find(chosen).and_then(|e| e.try_text()).as_deref() == Some("alice")
    });
    assert_eq!(
        strings(bob.execute(
            "return [...document.querySelectorAll('#mention-popup .mention-option-name')].map((o) => o.textContent);"
        )),
        ["alice"]
    );
    assert_eq!(
        bob.execute(
            "const box = document.getElementById('composer'); \
             return [box.getAttribute('aria-activedescendant'), \
                     document.querySelector('#mention-popup[role=listbox] [aria-selected=true]').id];"
        ),
        Json::Arr(vec!["mention-option-0".into(), "mention-option-0".into()])
    );
    save_screenshot(&bob, "mention-autocomplete");
    bob.type_into("#composer", "\u{E007}");
    assert_eq!(
        bob.execute("return document.getElementById('composer').value;"),
        Json::from("Hi @alice ")
    );
    assert!(!bob.find("#mention-popup").unwrap().is_displayed());

    // Esc closes the list without leaving the box; the broad names are offered too.
    bob.type_into("#composer", "and @e");
    bob.wait_for("@everyone to be suggested", LIVE, |b| {
        b.find(chosen).and_then(|e| e.try_text()).as_deref() == Some("@everyone")
    });
    bob.type_into("#composer", "\u{E00C}");
    assert!(!bob.find("#mention-popup").unwrap().is_displayed());
    assert_eq!(
        bob.execute("return document.activeElement.id;"),
        Json::from("composer")
    );
    bob.replace_text("#composer", "Hi @al");
    bob.wait_for("alice to be suggested again", LIVE, |b| {
        b.find(chosen).is_some_and(|e| e.is_displayed())
    });
    // A click picks too.
    bob.click("#mention-popup .mention-option");
    bob.type_into("#composer", "the launch plan is ready\u{E007}");

    // The edit box completes names too (Tab takes the highlighted one).
    bob.type_into("#composer", "Note for later\u{E007}");
    bob.wait_for("the note", LIVE, |b| {
        b.find("#messages .message:last-child .message-text")
            .and_then(|e| e.try_text())
            .as_deref()
            == Some("Note for later")
    });
    bob.type_into("#composer", "\u{E013}");
    let editor = "#messages .message .edit-input";
    bob.wait_for("the edit box", LIVE, |b| b.find(editor).is_some());
    bob.type_into(editor, " @car");
    bob.wait_for("carol to be suggested", LIVE, |b| {
        b.find(chosen).and_then(|e| e.try_text()).as_deref() == Some("carol")
    });
    bob.type_into(editor, "\u{E004}");
    assert_eq!(
        bob.execute(&format!("return document.querySelector('{editor}').value;")),
        Json::from("Note for later @carol ")
    );
    bob.type_into(editor, "\u{E00C}");
    bob.wait_for("the edit to be cancelled", LIVE, |b| {
        b.find(editor).is_none()
    });

    // Alice, in #random, gets the red badge on #general and one alert; bob, none.
    alice.wait_for("the mention badge", LIVE, |b| {
        mention_badge(b, "general").as_deref() == Some("1")
    });
    let Json::Arr(mentions) = alice_api.get("/api/mentions").json() else {
        panic!("GET /api/mentions is not a list")
    };
    let mention_id = s(&mentions[0], "id").to_owned();
    assert_eq!(
        s(&mentions[0], "text"),
        "Hi @alice the launch plan is ready"
    );
    alice.wait_for("the alert", LIVE, |b| alerts(b) == [mention_id.clone()]);
    assert_eq!(alerts(&bob), Vec::<String>::new(), "bob's own message");
    save_screenshot(&alice, "mention-badge");

    // More talk buries the mention under a page of history; mentions elsewhere fill a page of
    // the Mentions view, so the first one is behind "Load more".
    for n in 1..=60 {
        bob_api.say("general", &format!("Status update {n}"));
    }
    let ops = private_channel(&mut bob_api, "ops", &["alice"]);
    for n in 1..=30 {
        bob_api.say(&ops, &format!("@alice ping {n}"));
    }
    alice.wait_for("the ops pings", LIVE, |b| {
        mention_badge(b, &ops).as_deref() == Some("30")
    });

    alice.click("#mentions-button");
    alice.wait_for("the Mentions view", LIVE, |b| {
        b.find("#mentions-list .mention-result").is_some()
    });
    let listed = "return [...document.querySelectorAll('#mentions-list .mention-result')].map((r) => \
                    `${r.querySelector('.search-result-channel').textContent} ${r.querySelector('.search-result-sender').textContent}: \
                     ${r.querySelector('.search-result-text').textContent}${r.classList.contains('mention-unread') ? ' (unread)' : ''}`);";
    let first_page = strings(alice.execute(listed));
    assert_eq!(first_page.len(), 30);
    assert_eq!(first_page[0], "ops bob: @alice ping 30 (unread)");
    assert!(alice.find("#mentions-more").unwrap().is_displayed());
    save_screenshot(&alice, "mentions-view");
    alice.click("#mentions-more");
    alice.wait_for("the older mention", LIVE, |b| {
        strings(b.execute(listed)).len() == 31
    });
    assert_eq!(
        strings(alice.execute(listed))[30],
        "#general bob: Hi @alice the launch plan is ready (unread)"
    );
    assert!(!alice.find("#mentions-more").unwrap().is_displayed());

    // Choosing it opens #general at the message, older than the newest page, flashed.
    alice.click(&format!(
        "#mentions-list .mention-result[data-id=\"{mention_id}\"]"
    ));
    alice.wait_for("the jump to the mention", LIVE, |b| {
        b.execute("return document.activeElement.dataset.id ?? null;")
            == Json::from(mention_id.as_str())
    });
    assert!(alice.find("#mentions-dialog[open]").is_none());
    assert_eq!(alice.text("#channel-title"), "general");
    let shown = message_css(&mention_id);
    assert!(alice.has_class(&shown, "flash"));
    assert!(alice.has_class(&shown, "mentions-me"));
    assert_eq!(
        alice.text(&format!("{shown} .mention.mention-me")),
        "@alice"
    );
    // Having been on screen, it is read: #general's mention count is gone.
    alice.wait_for("the mention to be read", LIVE, |_| {
        count(&mut alice_api, "general", "mentions") == 0
    });
    assert!(
        count(&mut alice_api, "general", "unread") > 0,
        "the rest is below"
    );
    assert_eq!(mention_badge(&alice, "general"), None);
    assert_eq!(alice.page_problems(), Vec::<String>::new());
    assert_eq!(bob.page_problems(), Vec::<String>::new());
}

/// Opens the bell menu of the open conversation and chooses `level` ("all", "mentions",
/// "muted").
fn choose_level(browser: &Browser, level: &str) {
    browser.click("#level-button");
    let item = format!("#level-menu [data-level=\"{level}\"]");
    browser.wait_for("the level menu", LIVE, |b| {
        b.find(&item).is_some_and(|e| e.is_displayed())
    });
    browser.click(&item);
}

fn bell_level(browser: &Browser) -> Option<String> {
    browser
        .find("#level-button")
        .and_then(|e| e.attribute("data-level"))
}

fn do_not_disturb_shown(browser: &Browser) -> bool {
    browser.find("#dnd-sign").is_some_and(|e| e.is_displayed())
}

#[test]
fn muted_conversations_stay_quiet_and_do_not_disturb_silences_every_alert() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    let mut alice_api = server.signup("alice");
    let mut bob = server.signup("bob");
    let (tab, other_tab) = (Browser::start(), Browser::start());
    open_chat(&tab, &server, "alice");
    open_chat(&other_tab, &server, "alice");

    // Muting #general in one tab shows in the other at once: the bell, and the dimmed name.
    choose_level(&tab, "muted");
    other_tab.wait_for("the muted bell in the other tab", LIVE, |b| {
        bell_level(b).as_deref() == Some("muted")
    });
    assert!(other_tab.has_class(&sidebar_link("general"), "muted-conversation"));
    other_tab.click("#level-button");
    assert_eq!(
        other_tab
            .find("#level-menu [data-level=\"muted\"]")
            .and_then(|e| e.attribute("aria-checked"))
            .as_deref(),
        Some("true")
    );
    save_screenshot(&other_tab, "level-menu");
    other_tab.type_into("#level-menu [data-level=\"muted\"]", "\u{E00C}");
    assert_eq!(
        conversation(&mut alice_api, "general").get("level"),
        Some(&Json::from("muted"))
    );

    // #random alerts for mentions only; alice looks at a DM from another window.
    tab.click(&sidebar_link("random"));
    tab.wait_for_text("#channel-title", "random");
    choose_level(&tab, "mentions");
    tab.wait_for("the mentions bell", LIVE, |b| {
        bell_level(b).as_deref() == Some("mentions")
    });
    // A direct message alerts even with MiniMost in front, in another conversation.
    let hello = bob.say("dm:alice:bob", "hello alice");
    tab.wait_for("the DM badge", LIVE, |b| {
        mention_badge(b, "dm:alice:bob").as_deref() == Some("1")
    });
    assert_eq!(alerts(&tab), [s(&hello, "id")]);
    tab.click(&sidebar_link("dm:alice:bob"));
    tab.wait_for_text("#channel-title", "bob");
    look_away(&tab);

    // A mention in muted #general alerts nobody, and counts only quietly; plain talk in
    // #random neither; a mention there does (the events arrive in order, so the last alert
    // proves the first two were heard and passed over).
    bob.say("general", "@alice the muted channel calls");
    bob.say("random", "just chatting");
    let wanted = bob.say("random", "@alice over here");
    tab.wait_for("the alert from #random", LIVE, |b| {
        alerts(b).last().map(String::as_str) == Some(s(&wanted, "id"))
    });
    assert_eq!(alerts(&tab), [s(&hello, "id"), s(&wanted, "id")]);
    assert_eq!(mention_badge(&tab, "general"), None, "muted: no red badge");
    assert_eq!(
        tab.text(&format!("{} .badge-quiet", sidebar_link("general"))),
        "1"
    );
    // The title counts #random's two unread messages, not muted #general's.
    tab.wait_for("the title count", LIVE, |b| title(b).starts_with("(2) "));
    save_screenshot(&tab, "muted-sidebar");

    // Do not disturb, switched on in the other tab: the sign shows in both, badges still
    // count, and nothing alerts until it is switched off again.
    other_tab.click("#account-button");
    other_tab.click("#toggle-dnd");
    tab.wait_for("the do-not-disturb sign", LIVE, do_not_disturb_shown);
    assert!(do_not_disturb_shown(&other_tab));
    tab.click("#account-button");
    assert_eq!(
        tab.find("#toggle-dnd")
            .and_then(|e| e.attribute("aria-pressed"))
            .as_deref(),
        Some("true")
    );
    save_screenshot(&tab, "do-not-disturb");
    tab.type_into("#toggle-dnd", "\u{E00C}");
    tab.click(&sidebar_link("random"));
    tab.wait_for_text("#channel-title", "random");
    look_away(&tab);
    bob.say("dm:alice:bob", "are you there?");
    tab.wait_for("the DM badge under do not disturb", LIVE, |b| {
        mention_badge(b, "dm:alice:bob").as_deref() == Some("1")
    });
    other_tab.click("#account-button");
    other_tab.click("#toggle-dnd");
    tab.wait_for("do not disturb to end", LIVE, |b| !do_not_disturb_shown(b));
    let after = bob.say("dm:alice:bob", "now?");
    tab.wait_for("the alert after do not disturb", LIVE, |b| {
        alerts(b).last().map(String::as_str) == Some(s(&after, "id"))
    });
    assert_eq!(
        alerts(&tab),
        [s(&hello, "id"), s(&wanted, "id"), s(&after, "id")]
    );
    assert_eq!(
        alice_api.get("/api/notifications").json().to_json_string(),
        r#"{"dnd":false,"levels":{"general":"muted","random":"mentions"}}"#
    );
    assert_eq!(tab.page_problems(), Vec::<String>::new());
    assert_eq!(other_tab.page_problems(), Vec::<String>::new());
}
