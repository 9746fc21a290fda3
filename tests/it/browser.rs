//! The web UI in headless Chromium against the real server: what a person sees on the signup,
//! login, reset and app pages — chat, conversations, files, search, visual mode, settings,
//! account deletion, the installable app. Each test skips with a notice when no browser is
//! installed, and fails under CI (see `webdriver::available`). Screenshots of the last run are
//! left in target/tmp.

use crate::harness::{cli, s, Options, Server, TempDir, PASSWORD};
use crate::json::Json;
use crate::webdriver::{self, Browser};
use std::path::PathBuf;
use std::time::Duration;

const PASSWORD_RULES: [&str; 5] = ["length", "digit", "upper", "special", "match"];

/// The password rules the signup checklist shows as met, checking that the hidden text read by
/// screen readers agrees with the class.
pub(crate) fn met_rules(browser: &Browser) -> Vec<String> {
    let state = browser.execute(
        "return [...document.querySelectorAll('#rules li[data-rule], #match-rule li[data-rule]')].map((li) => \
           [li.dataset.rule, li.classList.contains('met'), li.querySelector('.rule-state').textContent]);",
    );
    let Json::Arr(items) = state else {
        panic!("no rule list: {}", state.to_json_string())
    };
    let mut met = Vec::new();
    for item in &items {
        let Json::Arr(fields) = item else {
            panic!("bad rule state: {}", item.to_json_string())
        };
        let (rule, is_met, spoken) = (
            fields[0].as_str().unwrap_or("?"),
            fields[1] == Json::Bool(true),
            fields[2].as_str(),
        );
        assert_eq!(
            spoken,
            Some(if is_met { "met" } else { "not met" }),
            "screen-reader text of rule {rule}"
        );
        if is_met {
            met.push(rule.to_owned());
        }
    }
    let shown: Vec<&str> = items
        .iter()
        .filter_map(|i| {
            if let Json::Arr(f) = i {
                f[0].as_str()
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        shown, PASSWORD_RULES,
        "the checklist shows every rule, in the server's order"
    );
    met
}

fn screenshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("browser-{name}.png"))
}

/// Saves a screenshot to target/tmp and checks that it is a PNG.
pub(crate) fn save_screenshot(browser: &Browser, name: &str) {
    let path = screenshot_path(name);
    browser.screenshot(&path);
    let png = std::fs::read(&path).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000,
        "{} is not a PNG",
        path.display()
    );
}

/// Logs `name` in through the login form and waits for the app's live connection.
pub(crate) fn log_in(browser: &Browser, server: &Server, name: &str) {
    browser.goto(&format!("{}/login", server.origin()));
    browser.type_into("#username", name);
    browser.type_into("#password", PASSWORD);
    browser.click("#submit");
    browser.wait_for_path("/");
    // Read from the DOM: a phone shows the picture only, not the name.
    browser.wait_for(&format!("the app to say {name} is signed in"), LIVE, |b| {
        b.execute("return document.getElementById('me')?.textContent ?? null;") == Json::from(name)
    });
    browser.wait_for("the live connection", LIVE, |b| {
        b.execute("return document.getElementById('connection')?.dataset.state ?? null;")
            == Json::from("connected")
    });
}

fn online_names(browser: &Browser) -> Vec<String> {
    match browser.execute(
        "return [...document.querySelectorAll('#online li')].map((li) => li.dataset.user);",
    ) {
        Json::Arr(names) => names
            .iter()
            .map(|n| n.as_str().unwrap_or("?").to_owned())
            .collect(),
        other => panic!("no online list: {}", other.to_json_string()),
    }
}

#[test]
fn signup_page_checks_the_rules_live_and_shows_the_server_errors() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    server.signup("bob");
    let browser = Browser::start();
    browser.goto(&format!("{}/signup", server.origin()));
    assert_eq!(met_rules(&browser), Vec::<String>::new());

    browser.type_into("#username", "no spaces");
    assert!(!browser.has_class("#username-rules li[data-rule=username]", "met"));
    browser.replace_text("#username", "alice");
    assert!(browser.has_class("#username-rules li[data-rule=username]", "met"));

    browser.type_into("#password", "abc");
    assert_eq!(met_rules(&browser), Vec::<String>::new());
    browser.type_into("#password", "D");
    assert_eq!(met_rules(&browser), ["upper"]);
    browser.type_into("#password", "1!");
    assert_eq!(met_rules(&browser), ["digit", "upper", "special"]);
    browser.type_into("#password", "xy");
    assert_eq!(met_rules(&browser), ["length", "digit", "upper", "special"]);
    browser.type_into("#confirm-password", "abcD1!x");
    assert_eq!(
        met_rules(&browser),
        ["length", "digit", "upper", "special"],
        "a prefix does not match"
    );
    browser.type_into("#confirm-password", "y");
    assert_eq!(met_rules(&browser), PASSWORD_RULES);
    browser.type_into("#password", "z");
    assert_eq!(
        met_rules(&browser),
        ["length", "digit", "upper", "special"],
        "editing the password unmatches"
    );
    save_screenshot(&browser, "signup");

    // The page lets a weak password through to the server, which names the first failing rule.
    browser.replace_text("#password", "Sh0rt!");
    browser.replace_text("#confirm-password", "Sh0rt!");
    browser.click("#submit");
    browser.wait_for_text("#error", "Password must be at least 8 characters long");
    assert_eq!(browser.current_path(), "/signup");

    browser.replace_text("#username", "Bob");
    browser.replace_text("#password", PASSWORD);
    browser.replace_text("#confirm-password", PASSWORD);
    browser.click("#submit");
    browser.wait_for_text(
        "#error",
        "That username is already taken (names are case-insensitive)",
    );
    assert_eq!(browser.current_path(), "/signup");

    browser.replace_text("#username", "alice");
    browser.click("#submit");
    browser.wait_for_path("/");
    browser.wait_for_text("#me", "alice");
    browser.wait_for_text("#conn-status", "connected");
    assert_eq!(online_names(&browser), ["alice"]);
    save_screenshot(&browser, "app");
}

#[test]
fn login_page_refuses_a_wrong_password_and_opens_the_app() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    server.signup("alice");
    let browser = Browser::start();
    browser.goto(&format!("{}/", server.origin()));
    assert_eq!(
        browser.current_path(),
        "/login",
        "a logged-out visitor is sent to the login page"
    );

    browser.type_into("#username", "alice");
    browser.type_into("#password", "Wr0ng-password");
    browser.click("#submit");
    browser.wait_for_text("#error", "Invalid credentials");
    assert_eq!(browser.current_path(), "/login");

    // Enter in the password field submits the form, as in any login form.
    browser.replace_text("#password", &format!("{PASSWORD}\u{E007}"));
    browser.wait_for_path("/");
    browser.wait_for_text("#me", "alice");
    browser.wait_for_text("#conn-status", "connected");
}

#[test]
fn presence_shows_who_comes_online_and_leaves_without_reloading() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    server.signup("alice");
    server.signup("bob");
    let alice = Browser::start();
    let bob = Browser::start();
    log_in(&alice, &server, "alice");
    assert_eq!(online_names(&alice), ["alice"]);
    // A reload would lose this.
    alice.execute("window.__sameDocument = true;");

    log_in(&bob, &server, "bob");
    alice.wait_for("bob in alice's online list", Duration::from_secs(5), |b| {
        online_names(b) == ["alice", "bob"]
    });
    bob.wait_for("alice in bob's online list", Duration::from_secs(5), |b| {
        online_names(b) == ["alice", "bob"]
    });

    bob.click("#account-button");
    bob.click("#logout");
    bob.wait_for_path("/login");
    alice.wait_for(
        "bob to leave alice's online list",
        Duration::from_secs(5),
        |b| online_names(b) == ["alice"],
    );
    assert_eq!(
        alice.execute("return window.__sameDocument === true;"),
        Json::Bool(true),
        "alice's page was reloaded"
    );
    assert_eq!(alice.text("#conn-status"), "connected");
}

#[test]
fn pages_keep_to_the_content_security_policy() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    server.signup("alice");
    let browser = Browser::start();
    let no_inline_scripts = "return document.querySelectorAll('script:not([src])').length === 0;";
    // The stylesheet loaded: the body has the theme's background, not the default transparent.
    let styled = "return getComputedStyle(document.body).backgroundColor !== 'rgba(0, 0, 0, 0)';";

    for (path, form) in [("/signup", "#signup-form"), ("/login", "#login-form")] {
        browser.goto(&format!("{}{path}", server.origin()));
        assert!(
            browser.find(form).is_some_and(|f| f.is_displayed()),
            "{path} shows {form}"
        );
        assert!(
            browser.find("#submit").is_some_and(|b| b.is_displayed()),
            "{path} shows its submit button"
        );
        assert_eq!(
            browser.execute(no_inline_scripts),
            Json::Bool(true),
            "{path}"
        );
        assert_eq!(
            browser.execute(styled),
            Json::Bool(true),
            "{path} is styled"
        );
        assert_eq!(browser.page_problems(), Vec::<String>::new(), "{path}");
    }

    log_in(&browser, &server, "alice");
    browser.click("#account-button");
    assert!(browser.find("#logout").is_some_and(|b| b.is_displayed()));
    assert_eq!(browser.execute(no_inline_scripts), Json::Bool(true), "/");
    assert_eq!(browser.execute(styled), Json::Bool(true), "/ is styled");
    assert_eq!(browser.page_problems(), Vec::<String>::new(), "/");

    // The policy is enforced and the watcher sees it: an inline script is refused and reported.
    browser.execute(
        "const s = document.createElement('script'); s.textContent = 'window.__inlineRan = true;'; \
         document.head.append(s);",
    );
    browser.wait_for(
        "the inline script to be reported",
        Duration::from_secs(5),
        |b| !b.page_problems().is_empty(),
    );
    let problems = browser.page_problems();
    assert!(
        problems[0].starts_with("CSP script-src-elem blocked inline"),
        "{problems:?}"
    );
    assert_eq!(
        browser.execute("return window.__inlineRan === true;"),
        Json::Bool(false),
        "the inline script ran"
    );
}

/// How long a change may take to reach the other browser (two Chromiums share two cores).
pub(crate) const LIVE: Duration = Duration::from_secs(10);

/// Logs in and waits until the conversation list is shown and #general is open.
pub(crate) fn open_chat(browser: &Browser, server: &Server, name: &str) {
    log_in(browser, server, name);
    browser.wait_for("the sidebar and #general", LIVE, |b| {
        b.find(".channel-link[data-channel=\"general\"][aria-current=\"page\"]")
            .is_some()
            && b.find("#channel-title")
                .and_then(|e| e.try_text())
                .as_deref()
                == Some("general")
    });
}

/// Alice and Bob, signed up, each in a browser of their own with the chat open.
fn alice_and_bob(server: &Server) -> (Browser, Browser) {
    server.signup("alice");
    server.signup("bob");
    let (alice, bob) = (Browser::start(), Browser::start());
    open_chat(&alice, server, "alice");
    open_chat(&bob, server, "bob");
    (alice, bob)
}

pub(crate) fn strings(value: Json) -> Vec<String> {
    match value {
        Json::Arr(items) => items
            .iter()
            .map(|i| i.as_str().unwrap_or("?").to_owned())
            .collect(),
        other => panic!("not a list: {}", other.to_json_string()),
    }
}

/// The messages the open conversation shows, oldest first, as "sender: text".
pub(crate) fn shown_messages(browser: &Browser) -> Vec<String> {
    strings(browser.execute(
        "return [...document.querySelectorAll('#messages .message:not(.system)')].map((m) => \
           `${m.querySelector('.message-sender').textContent}: ${m.querySelector('.message-text')?.textContent ?? ''}`);",
    ))
}

/// The id of the shown message whose text is exactly `text`.
pub(crate) fn message_id(browser: &Browser, text: &str) -> String {
    let script = format!(
        "return [...document.querySelectorAll('#messages .message')].find((m) => \
           m.querySelector('.message-text')?.textContent === {}).dataset.id;",
        Json::from(text).to_json_string()
    );
    browser
        .execute(&script)
        .as_str()
        .unwrap_or_else(|| panic!("no message reads {text:?}"))
        .to_owned()
}

pub(crate) fn message_css(id: &str) -> String {
    format!(".message[data-id=\"{id}\"]")
}

/// Clicks one of the buttons that appear when hovering over message `id` (reply, react, …).
fn message_action(browser: &Browser, id: &str, action: &str) {
    let message = message_css(id);
    let button = format!("{message} .message-actions [data-action=\"{action}\"]");
    browser.hover(&message);
    browser.wait_for(&format!("the {action} button to show"), LIVE, |b| {
        b.find(&button).is_some_and(|e| e.is_displayed())
    });
    browser.click(&button);
}

/// Sends `text` from the composer with the Enter key.
pub(crate) fn send(browser: &Browser, text: &str) {
    browser.type_into("#composer", &format!("{text}\u{E007}"));
}

pub(crate) fn wait_for_messages(browser: &Browser, who: &str, expected: &[&str]) {
    browser.wait_for(&format!("{who} to see {expected:?}"), LIVE, |b| {
        shown_messages(b) == expected
    });
}

#[test]
fn two_people_chat_live_with_replies_reactions_edits_and_deletes() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    let (alice, bob) = alice_and_bob(&server);

    // Live both ways, Markdown rendered as elements, never as HTML.
    send(&alice, "Hello **bob** <b>hi</b>");
    wait_for_messages(&bob, "bob", &["alice: Hello bob <b>hi</b>"]);
    assert_eq!(
        bob.execute(
            "return document.querySelector('#messages .message-text strong')?.textContent;"
        ),
        Json::from("bob")
    );
    assert_eq!(
        bob.execute("return document.querySelector('#messages .message-text b');"),
        Json::Null,
        "user text became HTML"
    );
    send(&bob, "Hi alice");
    let both = ["alice: Hello bob <b>hi</b>", "bob: Hi alice"];
    wait_for_messages(&alice, "alice", &both);

    // Bob's page is open, so he has read alice's message, and she is told.
    let hello = message_id(&alice, "Hello bob <b>hi</b>");
    let receipt = format!("{} .message-receipt", message_css(&hello));
    alice.wait_for("alice to see that bob read her message", LIVE, |b| {
        b.find(&receipt).and_then(|e| e.try_text()).as_deref() == Some("✓ Read by bob")
    });

    // Typing shows up on the other side.
    bob.type_into("#composer", "Let me th");
    alice.wait_for_text("#typing", "bob is typing…");
    bob.replace_text("#composer", "");

    // A reply quotes its parent; clicking the quote goes to the parent.
    message_action(&bob, &hello, "reply");
    assert!(bob
        .text("#composer-context")
        .starts_with("Replying to alice"));
    send(&bob, "A reply");
    let with_reply = [
        "alice: Hello bob <b>hi</b>",
        "bob: Hi alice",
        "bob: A reply",
    ];
    wait_for_messages(&alice, "alice", &with_reply);
    let reply = message_id(&alice, "A reply");
    let quote = format!("{} .reply-quote", message_css(&reply));
    assert_eq!(alice.text(&format!("{quote} .reply-sender")), "alice");
    assert_eq!(
        alice.text(&format!("{quote} .reply-snippet")),
        "Hello bob <b>hi</b>"
    );
    alice.click(&quote);
    alice.wait_for("the quote to focus its parent", LIVE, |b| {
        b.execute("return document.activeElement.dataset.id ?? null;") == Json::from(hello.as_str())
    });

    // Reactions: the picker searches the server's list; chips count and name who reacted.
    let hi = message_id(&alice, "Hi alice");
    message_action(&alice, &hi, "react");
    alice.type_into("#reaction-search", "thumbs up\u{E007}");
    let chip = format!(
        "{} .reactions .reaction[data-emoji=\"thumbsup\"]",
        message_css(&hi)
    );
    bob.wait_for("alice's reaction to reach bob", LIVE, |b| {
        b.find(&chip)
            .and_then(|e| e.try_text())
            .is_some_and(|t| t.ends_with('1'))
    });
    assert_eq!(
        bob.find(&chip)
            .and_then(|e| e.attribute("title"))
            .as_deref(),
        Some("Thumbs Up — alice")
    );
    bob.click(&chip);
    alice.wait_for("bob's reaction to reach alice", LIVE, |b| {
        b.find(&chip).and_then(|e| e.attribute("title")).as_deref()
            == Some("Thumbs Up — you and bob")
    });
    assert!(alice.text(&chip).ends_with('2'));

    // The Up arrow edits alice's last message in place; bob sees the new text.
    alice.click("#composer");
    alice.type_into("#composer", "\u{E013}");
    let editor = format!("{} .edit-input", message_css(&hello));
    alice.replace_text(&editor, "Hello bob, edited\u{E007}");
    let edited = ["alice: Hello bob, edited", "bob: Hi alice", "bob: A reply"];
    wait_for_messages(&bob, "bob", &edited);
    assert_eq!(
        bob.text(&format!("{} .message-edited", message_css(&hello))),
        "(edited)"
    );
    wait_for_messages(&alice, "alice", &edited);
    assert!(alice.find(&editor).is_none(), "the edit box stays open");

    // Bob deletes his message after confirming; it disappears for alice too.
    message_action(&bob, &hi, "delete");
    bob.click("#confirm-ok");
    let after_delete = ["alice: Hello bob, edited", "bob: A reply"];
    wait_for_messages(&alice, "alice", &after_delete);
    wait_for_messages(&bob, "bob", &after_delete);

    save_screenshot(&alice, "chat-alice");
    save_screenshot(&bob, "chat-bob");
    assert_eq!(alice.page_problems(), Vec::<String>::new());
    assert_eq!(bob.page_problems(), Vec::<String>::new());
}

pub(crate) fn sidebar_link(channel: &str) -> String {
    format!("#sidebar .channel-link[data-channel=\"{channel}\"]")
}

fn badge(browser: &Browser, channel: &str) -> Option<String> {
    browser
        .find(&format!("{} .badge", sidebar_link(channel)))
        .and_then(|e| e.try_text())
}

#[test]
fn private_channels_and_direct_messages_appear_live_in_the_other_sidebar() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    let (alice, bob) = alice_and_bob(&server);

    // Alice creates a private channel with bob, picking him from the autocomplete.
    alice.click("#new-private-channel");
    alice.type_into("#private-name", "plans");
    alice.type_into("#private-users", "bo");
    alice.wait_for("bob to be suggested", LIVE, |b| {
        b.find("#private-picker .suggestion[data-user=\"bob\"]")
            .is_some()
    });
    alice.type_into("#private-users", "\u{E007}");
    alice.click("#private-create");
    alice.wait_for_text("#channel-title", "plans");
    let plans = alice
        .execute(
            "return document.querySelector('#private-channels .channel-link').dataset.channel;",
        )
        .as_str()
        .expect("the new channel is listed")
        .to_owned();
    assert!(plans.starts_with("private:"), "{plans}");
    assert_eq!(alice.text("#channel-members"), "alice, bob");

    // It appears in bob's sidebar at once, unread (the "created" notice counts): in bold, with
    // no badge, as nobody mentioned him.
    bob.wait_for("the private channel in bob's sidebar", LIVE, |b| {
        b.has_class(&sidebar_link(&plans), "unread")
    });
    assert_eq!(badge(&bob, &plans), None);
    assert_eq!(
        bob.text(&format!("{} .channel-name", sidebar_link(&plans))),
        "plans"
    );
    send(&alice, "Secret plan");
    bob.wait_for("a second unread message", LIVE, |b| {
        b.execute("return document.title;")
            .as_str()
            .is_some_and(|t| t.starts_with("(2) "))
    });
    bob.click(&sidebar_link(&plans));
    wait_for_messages(&bob, "bob", &["alice: Secret plan"]);
    bob.wait_for("the channel to be read", LIVE, |b| {
        !b.has_class(&sidebar_link(&plans), "unread")
    });
    assert_eq!(
        bob.execute("return document.title;"),
        Json::from("plans · MiniMost")
    );

    // Alice starts a DM with bob from the dialog; it appears in his sidebar with the message.
    alice.click("#new-dm");
    alice.type_into("#dm-users", "bob\u{E007}");
    alice.click("#dm-start");
    alice.wait_for_text("#channel-title", "bob");
    send(&alice, "psst");
    bob.wait_for("the DM in bob's sidebar", LIVE, |b| {
        badge(b, "dm:alice:bob").as_deref() == Some("1")
    });
    bob.click(&sidebar_link("dm:alice:bob"));
    bob.wait_for_text("#channel-title", "alice");
    wait_for_messages(&bob, "bob", &["alice: psst"]);
    send(&bob, "hey");
    wait_for_messages(&alice, "alice", &["alice: psst", "bob: hey"]);
    save_screenshot(&bob, "conversations");

    // On a phone-sized screen the sidebar is a drawer behind a menu button.
    bob.set_window_size(360, 740);
    bob.wait_for("the sidebar to fold away", LIVE, |b| {
        !b.find("#sidebar").is_some_and(|e| e.is_displayed())
    });
    bob.click("#menu-toggle");
    // Open means slid all the way in, so the click below lands where it aims.
    bob.wait_for("the drawer to open", LIVE, |b| {
        b.find(&sidebar_link("general"))
            .is_some_and(|e| e.is_displayed())
            && b.execute("return getComputedStyle(document.getElementById('sidebar')).transform;")
                == Json::from("none")
    });
    save_screenshot(&bob, "drawer");
    bob.click(&sidebar_link("general"));
    bob.wait_for_text("#channel-title", "general");
    bob.wait_for("the drawer to close", LIVE, |b| {
        !b.find("#sidebar").is_some_and(|e| e.is_displayed())
    });
    save_screenshot(&bob, "narrow");

    assert_eq!(alice.page_problems(), Vec::<String>::new());
    assert_eq!(bob.page_problems(), Vec::<String>::new());
}

/// A real PNG from the app's own icons: 192 × 192 pixels.
fn icon_png(size: u32) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("www/icons/icon-{size}.png"))
}

/// The natural width of the image matching `css` once it has loaded, else 0.
fn loaded_width(browser: &Browser, css: &str) -> u64 {
    let script = format!(
        "const img = document.querySelector({}); return img && img.complete ? img.naturalWidth : 0;",
        Json::from(css).to_json_string()
    );
    browser.execute(&script).as_u64().unwrap_or(0)
}

#[test]
fn files_upload_with_progress_and_show_inline_for_the_other_person() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start_with(Options {
        settings: Some(r#"{"max_upload_size_mb": 1}"#.into()),
        ..Options::default()
    });
    server.signup("alice");
    server.signup("bob");
    let files = TempDir::new();
    let big = files.path().join("too-big.bin");
    std::fs::write(&big, vec![7u8; 1536 * 1024]).unwrap();
    let notes = files.path().join("notes.txt");
    std::fs::write(&notes, "milk, eggs\n").unwrap();
    let alice = Browser::start();
    let bob = Browser::start();
    open_chat(&alice, &server, "alice");
    open_chat(&bob, &server, "bob");

    // Past the limit: refused in the browser, before a byte is sent, saying why.
    alice.choose_files("#file-input", &[&big]);
    let refused = ".attachment[data-status=\"failed\"] .attachment-detail";
    alice.wait_for("the size limit to be explained", LIVE, |b| {
        b.find(refused)
            .and_then(|e| e.try_text())
            .is_some_and(|t| t.contains("over the 1 MB upload limit"))
    });
    alice.click(".attachment-remove");
    assert!(alice.find(".attachment").is_none());

    // An image and a text file upload at once and go out with the message.
    alice.choose_files("#file-input", &[&icon_png(192), &notes]);
    alice.wait_for("both uploads to finish", LIVE, |b| {
        b.execute("return document.querySelectorAll('.attachment[data-status=\"done\"]').length;")
            == Json::from(2u64)
    });
    save_screenshot(&alice, "attachments");
    send(&alice, "Here are the files");
    alice.wait_for("the tray to empty", LIVE, |b| {
        b.find("#attachments").is_some_and(|e| !e.is_displayed())
    });

    wait_for_messages(&bob, "bob", &["alice: Here are the files"]);
    let id = message_id(&bob, "Here are the files");
    let image = format!("{} .file-image img", message_css(&id));
    bob.wait_for("the picture to show inline", LIVE, |b| {
        loaded_width(b, &image) == 192
    });
    let card = format!("{} .file-card", message_css(&id));
    assert_eq!(bob.text(&format!("{card} .file-name")), "notes.txt");
    assert_eq!(bob.text(&format!("{card} .file-size")), "11 B");
    assert_eq!(
        bob.find(&card)
            .and_then(|e| e.attribute("download"))
            .as_deref(),
        Some("notes.txt")
    );
    save_screenshot(&bob, "files");

    // A click shows the picture full size; Esc goes back.
    bob.click(&format!("{} .file-image", message_css(&id)));
    bob.wait_for("the image viewer", LIVE, |b| {
        loaded_width(b, "#lightbox[open] #lightbox-image") == 192
    });
    assert_eq!(bob.text("#lightbox-name"), "icon-192.png");
    save_screenshot(&bob, "lightbox");
    bob.type_into("#lightbox .lightbox-close", "\u{E00C}");
    bob.wait_for("the viewer to close", LIVE, |b| {
        b.find("#lightbox[open]").is_none()
    });

    // Files dropped onto the conversation or pasted into the box are attached too, and a
    // message may be only files.
    alice.execute(
        "const files = (name) => { const dt = new DataTransfer(); \
           dt.items.add(new File(['hello'], name, { type: 'text/plain' })); return dt; }; \
         document.getElementById('main').dispatchEvent(new DragEvent('drop', \
           { dataTransfer: files('dropped.txt'), bubbles: true, cancelable: true })); \
         document.getElementById('composer').dispatchEvent(new ClipboardEvent('paste', \
           { clipboardData: files('pasted.txt'), bubbles: true, cancelable: true }));",
    );
    alice.wait_for("the dropped and pasted files", LIVE, |b| {
        strings(b.execute(
            "return [...document.querySelectorAll('.attachment[data-status=\"done\"] .attachment-name')] \
               .map((n) => n.textContent);",
        )) == ["dropped.txt", "pasted.txt"]
    });
    send(&alice, "");
    wait_for_messages(&bob, "bob", &["alice: Here are the files", "alice: "]);
    let cards =
        "return [...document.querySelectorAll('#messages .message:last-child .file-name')] \
                   .map((n) => n.textContent);";
    assert_eq!(strings(bob.execute(cards)), ["dropped.txt", "pasted.txt"]);

    // Once the server has cleaned a file up, the message says so.
    let uploads = server.data_dir().join("uploads");
    for entry in std::fs::read_dir(&uploads).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with("notes.txt") {
            std::fs::remove_file(path).unwrap();
        }
    }
    bob.goto(&server.origin());
    bob.wait_for("the deleted file", LIVE, |b| {
        b.find(".file-gone")
            .and_then(|e| e.try_text())
            .is_some_and(|t| t.starts_with("File deleted"))
    });
    assert_eq!(alice.page_problems(), Vec::<String>::new());
    assert_eq!(bob.page_problems(), Vec::<String>::new());
}

/// The text of the message selected in visual mode, if any.
fn visual_selection(browser: &Browser) -> Option<String> {
    browser
        .execute(
            "return document.querySelector('.message.visual .message-text')?.textContent ?? null;",
        )
        .as_str()
        .map(str::to_owned)
}

#[test]
fn search_opens_a_result_in_older_history_and_visual_mode_acts_on_messages() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    server.signup("alice");
    let mut bob = server.signup("bob");
    let rocket = bob.say("general", "We deploy the rocket tonight");
    let rocket = s(&rocket, "id").to_owned();
    for n in 0..150 {
        bob.say("general", &format!("filler {n}"));
    }
    bob.say("random", "Deployment notes are in the wiki");
    let alice = Browser::start();
    open_chat(&alice, &server, "alice");
    alice.click(&sidebar_link("random"));
    alice.wait_for_text("#channel-title", "random");

    // `/` opens the search; the last word matches as a prefix, and matches are highlighted.
    alice.type_into("#messages", "/");
    alice.wait_for("the search box", LIVE, |b| {
        b.execute("return document.activeElement.id;") == Json::from("search-input")
    });
    alice.type_into("#search-input", "deplo");
    let marks = "return [...document.querySelectorAll('#search-results .search-result')].map((r) => \
                   [r.dataset.channel, [...r.querySelectorAll('mark')].map((m) => m.textContent).join(' ')].join(': '));";
    alice.wait_for("two results", LIVE, |b| {
        strings(b.execute(marks)) == ["random: Deployment", "general: deploy"]
    });
    assert_eq!(
        alice.text("#search-results [data-channel=\"general\"] .search-result-text"),
        "We deploy the rocket tonight"
    );
    save_screenshot(&alice, "search");

    // The result opens its channel at the message, loading the older pages it is in.
    alice.click("#search-results [data-channel=\"general\"]");
    alice.wait_for("the jump to the old message", LIVE, |b| {
        b.execute("return document.activeElement.dataset.id ?? null;")
            == Json::from(rocket.as_str())
    });
    assert_eq!(alice.text("#channel-title"), "general");
    assert!(alice.has_class(&message_css(&rocket), "flash"));
    assert!(alice.find("#search-dialog[open]").is_none());

    // Visual mode: `v` selects the newest message on screen, j/k move, Esc leaves.
    send(&alice, "one");
    send(&alice, "two");
    alice.wait_for("alice's messages", LIVE, |b| {
        shown_messages(b).ends_with(&["alice: one".to_owned(), "alice: two".to_owned()])
    });
    alice.type_into("#messages", "Gv");
    alice.wait_for("two to be selected", LIVE, |b| {
        visual_selection(b).as_deref() == Some("two")
    });
    assert!(alice.text("#visual-hint").starts_with("Visual mode"));
    alice.type_into("#messages", "\u{E00C}");
    alice.wait_for("visual mode to end", LIVE, |b| {
        visual_selection(b).is_none()
    });

    // `c` edits the selected message.
    alice.type_into("#messages", "vk");
    alice.wait_for("one to be selected", LIVE, |b| {
        visual_selection(b).as_deref() == Some("one")
    });
    save_screenshot(&alice, "visual-mode");
    let one = message_id(&alice, "one");
    alice.type_into("#messages", "c");
    let editor = format!("{} .edit-input", message_css(&one));
    alice.wait_for("the edit box", LIVE, |b| b.find(&editor).is_some());
    alice.replace_text(&editor, "one, edited\u{E007}");
    alice.wait_for("the edit to be saved", LIVE, |b| {
        shown_messages(b).ends_with(&["alice: one, edited".to_owned(), "alice: two".to_owned()])
    });

    // `e` reacts, `d` deletes (after confirming).
    let two = message_id(&alice, "two");
    alice.type_into("#messages", "v");
    alice.wait_for("two to be selected", LIVE, |b| {
        visual_selection(b).as_deref() == Some("two")
    });
    alice.type_into("#messages", "e");
    alice.type_into("#reaction-search", "thumbs up\u{E007}");
    alice.wait_for("the reaction", LIVE, |b| {
        b.find(&format!(
            "{} .reaction[data-emoji=\"thumbsup\"]",
            message_css(&two)
        ))
        .is_some()
    });
    assert_eq!(visual_selection(&alice).as_deref(), Some("two"));
    alice.type_into("#messages", "d");
    alice.click("#confirm-ok");
    alice.wait_for("two to be deleted", LIVE, |b| {
        shown_messages(b).last().map(String::as_str) == Some("alice: one, edited")
    });

    // `o` replies to the selected message.
    alice.type_into("#messages", "vo");
    alice.wait_for("the reply", LIVE, |b| {
        b.find("#composer-context")
            .and_then(|e| e.try_text())
            .is_some_and(|t| t.starts_with("Replying to alice: one, edited"))
    });
    assert_eq!(
        alice.execute("return document.activeElement.id;"),
        Json::from("composer")
    );
    assert_eq!(alice.page_problems(), Vec::<String>::new());
}

/// The computed colour of the sender name on the first message `sender` sent.
fn sender_color(browser: &Browser, sender: &str) -> Json {
    browser.execute(&format!(
        "const name = document.querySelector('.message[data-sender={}] .message-sender'); \
         return name ? getComputedStyle(name).color : null;",
        Json::from(sender).to_json_string()
    ))
}

#[test]
fn settings_change_what_others_see_then_the_account_is_deleted() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    server.signup("alice");
    server.signup("bob");
    let mut carol = server.signup("carol");
    let alice = Browser::start();
    let bob = Browser::start();
    // Names show in the exact colour picked on the dark theme (the light one darkens them).
    bob.prefer_color_scheme("dark");
    open_chat(&alice, &server, "alice");
    open_chat(&bob, &server, "bob");
    send(&alice, "Colour me in");
    wait_for_messages(&bob, "bob", &["alice: Colour me in"]);

    // A colour from the palette reaches bob at once.
    alice.click("#account-button");
    alice.click("#open-settings");
    alice.wait_for("the settings", LIVE, |b| {
        b.find("#settings-dialog[open]").is_some()
    });
    alice.click("#color-palette .swatch:has(input[value=\"#ff8a80\"])");
    alice.wait_for_text("#profile-status", "Name colour saved.");
    bob.wait_for("alice's new colour", LIVE, |b| {
        sender_color(b, "alice") == Json::from("rgb(255, 138, 128)")
    });

    // A picture is cropped and scaled to 128 × 128 before it is uploaded.
    alice.choose_files("#avatar-input", &[&icon_png(512)]);
    alice.wait_for_text("#profile-status", "Picture saved.");
    bob.wait_for("alice's picture", LIVE, |b| {
        loaded_width(b, ".message[data-sender=\"alice\"] .avatar img") == 128
    });

    alice.type_into("#bio-input", "Builds rockets");
    assert_eq!(alice.text("#bio-count"), "14 / 160");
    alice.click("#bio-save");
    alice.wait_for_text("#profile-status", "Bio saved.");
    let users = carol.get("/api/users").json();
    let Json::Arr(users) = users else {
        panic!("no user list")
    };
    let profile = users
        .iter()
        .find(|u| s(u, "username") == "alice")
        .expect("alice is listed");
    assert_eq!(s(profile, "bio"), "Builds rockets");
    assert_eq!(s(profile, "name_color"), "#ff8a80");
    save_screenshot(&alice, "settings");

    // The password changes, checked against the rules as it is typed.
    let new_password = "Rocket-Launch9";
    alice.click("#tab-password");
    alice.type_into("#current-password", PASSWORD);
    alice.type_into("#new-password", new_password);
    alice.type_into("#confirm-new-password", new_password);
    assert_eq!(
        alice.execute(
            "return document.querySelectorAll('#settings-rules li.met, #settings-match-rule li.met').length;"
        ),
        Json::from(5u64)
    );
    alice.click("#password-save");
    alice.wait_for_text(
        "#password-status",
        "Password changed. You were logged out everywhere else.",
    );
    assert_eq!(server.client().login("alice", new_password).status, 200);
    assert_eq!(server.client().login("alice", PASSWORD).status, 401);

    // Deleting the account (keeping the messages) needs the password and a confirmation.
    alice.click("#tab-danger");
    save_screenshot(&alice, "danger-zone");
    alice.type_into("#delete-password", new_password);
    alice.click("#delete-account");
    alice.wait_for("the confirmation", LIVE, |b| {
        b.find("#confirm-dialog[open]").is_some()
    });
    alice.click("#confirm-ok");
    alice.wait_for_path("/login");
    wait_for_messages(&bob, "bob", &["Deleted User: Colour me in"]);
    assert_eq!(server.client().login("alice", new_password).status, 401);
    assert_eq!(bob.page_problems(), Vec::<String>::new());
}

#[test]
fn the_app_is_installable_and_its_worker_caches_only_static_files() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    server.signup("alice");
    let browser = Browser::start();
    open_chat(&browser, &server, "alice");

    // The manifest names the app and its icons, and every icon is what it says it is.
    let icons = browser.execute_async(
        "const link = document.querySelector('link[rel=manifest]'); \
         const manifest = await (await fetch(link.href)).json(); \
         const checks = []; \
         for (const icon of manifest.icons) { \
           const res = await fetch(icon.src); \
           const img = new Image(); img.src = icon.src; await img.decode(); \
           checks.push(`${icon.src} ${res.status} ${res.headers.get('content-type')} ${icon.sizes} ${img.naturalWidth}x${img.naturalHeight}`); \
         } \
         return [manifest.name, manifest.start_url, manifest.display, ...checks];",
    );
    assert_eq!(
        strings(icons),
        [
            "MiniMost",
            "/",
            "standalone",
            "/icons/icon.svg 200 image/svg+xml any 512x512",
            "/icons/icon-192.png 200 image/png 192x192 192x192",
            "/icons/icon-512.png 200 image/png 512x512 512x512",
            "/icons/icon-maskable-512.png 200 image/png 512x512 512x512",
        ]
    );

    // The worker takes over; what it caches is the app's own files, never API answers.
    let worker = browser.execute_async(
        "const registration = await navigator.serviceWorker.ready; \
         if (!navigator.serviceWorker.controller) { \
           await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true })); \
         } \
         await fetch('/api/me'); await fetch('/api/channels'); await fetch('/css/app.css'); \
         const cache = await caches.open('minimost-static-v1'); \
         const paths = (await cache.keys()).map((r) => new URL(r.url).pathname); \
         return [registration.scope, navigator.serviceWorker.controller.scriptURL, \
                 paths.includes('/css/app.css') ? 'css cached' : 'css missing', \
                 ...paths.filter((p) => !/^\\/(css|js|icons|img)\\//.test(p))];",
    );
    assert_eq!(
        strings(worker),
        [
            format!("{}/", server.origin()),
            format!("{}/sw.js", server.origin()),
            "css cached".to_owned(),
        ]
    );
    assert_eq!(browser.page_problems(), Vec::<String>::new());
}

#[test]
fn a_reset_link_sets_a_new_password_and_the_login_page_confirms_it() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    server.signup("alice");
    let origin = server.origin();
    let out = cli(
        server.data_dir(),
        &["reset-password", "alice", "--base-url", &origin],
    );
    assert!(out.status.success(), "{}", out.stderr);
    let link = out.stdout.lines().nth(1).expect("the link is printed");
    let browser = Browser::start();
    browser.goto(link);
    browser.wait_for_text("#reset-intro", "Choose a new password for alice.");
    let new_password = "Fresh-Start7";
    browser.type_into("#password", new_password);
    browser.type_into("#confirm-password", new_password);
    browser.click("#submit");
    browser.wait_for_path("/login");
    browser.wait_for_text(
        "#notice",
        "Your password was changed. Log in with the new one.",
    );
    save_screenshot(&browser, "password-reset");
    browser.type_into("#username", "alice");
    browser.type_into("#password", new_password);
    browser.click("#submit");
    browser.wait_for_path("/");
    browser.wait_for_text("#me", "alice");
    assert_eq!(browser.page_problems(), Vec::<String>::new());
}

#[test]
fn history_that_expires_leaves_the_open_conversation_at_once() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    let mut alice = server.signup("alice");
    server.signup("bob");
    let old = alice.say("general", "ancient history");
    alice.say("general", "fresh news");
    // The first message past the 770-day retention in every copy.
    crate::harness::age_message(&server, &["alice", "bob"], &old, 800);
    let bob = Browser::start();
    open_chat(&bob, &server, "bob");
    wait_for_messages(
        &bob,
        "bob",
        &["alice: ancient history", "alice: fresh news"],
    );
    let clean = cli(server.data_dir(), &["clean"]);
    assert!(clean.status.success(), "{}", clean.stderr);
    // The cleanup tells open clients; bob's page drops the message without a reload.
    wait_for_messages(&bob, "bob", &["alice: fresh news"]);
    save_screenshot(&bob, "history-expired");
}

/// A UDP port free right now, for the STUN responder.
fn free_udp_port() -> u16 {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    probe.local_addr().unwrap().port()
}

/// Bytes received so far on each of the page's call connections, as [audio, video] per peer
/// (read through the debug hook documented at the top of www/js/calls.js).
fn inbound_bytes(browser: &Browser) -> Vec<(u64, u64)> {
    let stats = browser.execute_async(
        "const result = []; \
         for (const pc of window.__minimostCalls.peerConnections()) { \
           let audio = 0, video = 0; \
           (await pc.getStats()).forEach((r) => { \
             if (r.type !== 'inbound-rtp') return; \
             if (r.kind === 'audio') audio += r.bytesReceived || 0; else video += r.bytesReceived || 0; \
           }); \
           result.push([audio, video]); \
         } \
         return result;",
    );
    let Json::Arr(peers) = stats else {
        panic!("no stats: {}", stats.to_json_string())
    };
    peers
        .iter()
        .map(|p| match p {
            Json::Arr(kinds) => (
                kinds[0].as_u64().unwrap_or(0),
                kinds[1].as_u64().unwrap_or(0),
            ),
            other => panic!("bad stats: {}", other.to_json_string()),
        })
        .collect()
}

/// Waits until `who` receives sound and pictures from `peers` people, and both keep coming.
fn wait_for_media(browser: &Browser, who: &str, peers: usize) {
    let mut first = Vec::new();
    browser.wait_for(&format!("{who} to receive from {peers}"), CALL, |b| {
        first = inbound_bytes(b);
        first.len() == peers && first.iter().all(|&(a, v)| a > 0 && v > 0)
    });
    browser.wait_for(&format!("{who}'s media to keep flowing"), CALL, |b| {
        let now = inbound_bytes(b);
        now.len() == peers && now.iter().zip(&first).all(|(n, f)| n.0 > f.0 && n.1 > f.1)
    });
}

/// How long call set-up may take: three Chromiums encode video on two cores.
const CALL: Duration = Duration::from_secs(30);

fn displayed(browser: &Browser, css: &str) -> bool {
    browser.find(css).is_some_and(|e| e.is_displayed())
}

/// The usernames of the tiles in the call view, in order.
fn call_tiles(browser: &Browser) -> Vec<String> {
    strings(browser.execute(
        "return [...document.querySelectorAll('#call-tiles .call-tile')].map((t) => t.dataset.user);",
    ))
}

/// The notices (system messages) the open conversation shows.
fn notices(browser: &Browser) -> Vec<String> {
    strings(browser.execute(
        "return [...document.querySelectorAll('#messages .message.system .message-text')] \
           .map((m) => m.textContent);",
    ))
}

fn ringing(browser: &Browser) -> bool {
    browser.execute("return window.__minimostCalls.ringing();") == Json::Bool(true)
}

/// Opens the DM with `other` through the new-message dialog.
fn open_dm(browser: &Browser, other: &str) {
    browser.click("#new-dm");
    browser.type_into("#dm-users", &format!("{other}\u{E007}"));
    browser.click("#dm-start");
    browser.wait_for_text("#channel-title", other);
}

/// Waits for the incoming-call dialog and answers it with `button` (#call-accept or
/// #call-decline).
fn answer(browser: &Browser, who: &str, caller: &str, button: &str) {
    browser.wait_for(&format!("the call to ring for {who}"), LIVE, |b| {
        displayed(b, "#call-incoming[open]")
    });
    assert_eq!(
        browser.text("#call-incoming-title"),
        format!("{caller} is calling you")
    );
    assert!(ringing(browser), "{who}'s page rings");
    browser.click(button);
    browser.wait_for(&format!("{who}'s ring to stop"), LIVE, |b| {
        !displayed(b, "#call-incoming[open]") && !ringing(b)
    });
}

#[test]
fn a_call_connects_two_then_three_people_shares_a_screen_and_ends_with_the_last_one_out() {
    if !webdriver::available() {
        return;
    }
    let port = free_udp_port();
    let server = Server::start_with(Options {
        env: vec![("MINIMOST_STUN_PORT".into(), port.to_string())],
        ..Options::default()
    });
    server.signup("carol");
    let (alice, bob) = alice_and_bob(&server);

    // No calls in public channels; a call button in a DM.
    assert!(!displayed(&alice, "#call-start"));
    open_dm(&alice, "bob");
    alice.click("#call-start");
    alice.wait_for("alice's call view", LIVE, |b| displayed(b, "#call-view"));
    assert_eq!(alice.text("#call-status"), "Ringing…");
    answer(&bob, "bob", "alice", "#call-accept");
    bob.wait_for("bob's call view", LIVE, |b| displayed(b, "#call-view"));
    bob.wait_for_text("#channel-title", "alice");
    wait_for_media(&alice, "alice", 1);
    wait_for_media(&bob, "bob", 1);
    // Both ask our STUN server, and nothing outside.
    let stun = format!(r#"[["stun:localhost:{port}"]]"#);
    for page in [&alice, &bob] {
        let config = page.execute(
            "return JSON.stringify(window.__minimostCalls.peerConnections()[0] \
               .getConfiguration().iceServers.map((s) => s.urls));",
        );
        assert_eq!(config.as_str(), Some(stun.as_str()));
    }
    // Pictures show in the tiles, and the fake microphone's beeps light the speaking ring.
    bob.wait_for("alice's picture on bob's page", CALL, |b| {
        b.execute(
            "const v = document.querySelector('.call-tile[data-user=\"alice\"].has-video video'); \
             return v ? v.videoWidth : 0;",
        )
        .as_u64()
        .unwrap_or(0)
            > 0
    });
    bob.wait_for("alice to be seen speaking", CALL, |b| {
        b.find(".call-tile[data-user=\"alice\"].speaking").is_some()
    });
    bob.click("#call-mute");
    alice.wait_for("bob shown muted", LIVE, |b| {
        b.find(".call-tile[data-user=\"bob\"] .call-name-note")
            .and_then(|e| e.try_text())
            .as_deref()
            == Some("muted")
    });
    bob.click("#call-mute");

    // Alice adds carol, who is not in the DM; everyone reaches everyone.
    let carol = Browser::start();
    open_chat(&carol, &server, "carol");
    alice.click("#call-add");
    alice.type_into("#call-invite-users", "carol\u{E007}");
    alice.click("#call-invite-submit");
    carol.wait_for("the call to ring for carol", LIVE, |b| {
        displayed(b, "#call-incoming[open]")
    });
    assert_eq!(carol.text("#call-incoming-where"), "A call with alice, bob");
    save_screenshot(&carol, "call-incoming");
    answer(&carol, "carol", "alice", "#call-accept");
    wait_for_media(&carol, "carol", 2);
    wait_for_media(&alice, "alice", 2);
    wait_for_media(&bob, "bob", 2);
    assert_eq!(call_tiles(&carol), ["carol", "alice", "bob"]);
    save_screenshot(&alice, "call-three");

    // Alice shares her screen: it shows large on the others' pages.
    alice.click("#call-screen");
    let screen_width =
        "const v = document.querySelector('.call-screen[data-user=\"alice\"] video'); \
                        return v ? v.videoWidth : 0;";
    for (page, who) in [(&bob, "bob"), (&carol, "carol")] {
        page.wait_for(&format!("alice's screen on {who}'s page"), CALL, |b| {
            b.execute(screen_width).as_u64().unwrap_or(0) > 0
        });
    }
    carol.set_window_size(360, 740);
    save_screenshot(&carol, "call-phone");
    alice.click("#call-screen");
    bob.wait_for("the shared screen to go", LIVE, |b| {
        b.find(".call-screen").is_none()
    });

    // Carol and bob leave; bob's DM offers to join again while alice is still in.
    carol.click("#call-leave");
    carol.wait_for("carol's view to close", LIVE, |b| {
        !displayed(b, "#call-view")
    });
    alice.wait_for("carol's tile to go", LIVE, |b| {
        call_tiles(b) == ["alice", "bob"]
    });
    bob.click("#call-leave");
    bob.wait_for("the join banner", LIVE, |b| {
        !displayed(b, "#call-view") && displayed(b, "#call-banner")
    });
    assert_eq!(bob.text("#call-banner-text"), "A call is in progress.");
    assert_eq!(
        bob.execute("return window.__minimostCalls.peerConnections().length;"),
        Json::from(0u64)
    );
    alice.wait_for("bob's tile to go", LIVE, |b| call_tiles(b) == ["alice"]);

    // The last one out ends the call.
    alice.click("#call-leave");
    alice.wait_for("alice's view to close", LIVE, |b| {
        !displayed(b, "#call-view")
    });
    bob.wait_for("the banner to go and the end notice", LIVE, |b| {
        !displayed(b, "#call-banner")
            && notices(b)
                .last()
                .is_some_and(|n| n.starts_with("Call ended after"))
    });
    for page in [&alice, &bob, &carol] {
        assert_eq!(page.page_problems(), Vec::<String>::new());
    }
}

#[test]
fn a_declined_call_closes_the_callers_view_and_a_missing_camera_means_sound_only() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    let (alice, bob) = alice_and_bob(&server);
    // Alice's computer has no camera.
    alice.execute(
        "const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices); \
         navigator.mediaDevices.getUserMedia = (c) => c.video \
           ? Promise.reject(new DOMException('Requested device not found', 'NotFoundError')) : real(c);",
    );
    open_dm(&alice, "bob");
    alice.click("#call-start");
    alice.wait_for("alice's call view", LIVE, |b| displayed(b, "#call-view"));
    assert_eq!(
        alice.text("#call-notice"),
        "No camera was found. Plug one in or turn it on, then try again. \
         You are in the call with sound only."
    );
    assert!(!alice.has_class(".call-tile[data-user=\"alice\"]", "has-video"));
    save_screenshot(&alice, "call-sound-only");

    answer(&bob, "bob", "alice", "#call-decline");
    alice.wait_for("alice's view to close", LIVE, |b| {
        !displayed(b, "#call-view")
    });
    alice.wait_for("the notice", LIVE, |b| {
        notices(b).last().map(String::as_str) == Some("bob declined the call")
    });
    assert_eq!(
        alice.execute("return window.__minimostCalls.peerConnections().length;"),
        Json::from(0u64)
    );
    assert!(!displayed(&bob, "#call-view"));
    assert_eq!(alice.page_problems(), Vec::<String>::new());
    assert_eq!(bob.page_problems(), Vec::<String>::new());
}
