//! The web UI in headless Chromium against the real server: what a person sees on the signup,
//! login and app pages. Each test skips with a notice when no browser is installed, and fails
//! under CI (see `webdriver::available`). Screenshots of the last run are left in target/tmp.

use crate::harness::{Server, PASSWORD};
use crate::json::Json;
use crate::webdriver::{self, Browser};
use std::path::PathBuf;
use std::time::Duration;

const PASSWORD_RULES: [&str; 5] = ["length", "digit", "upper", "special", "match"];

/// The password rules the signup checklist shows as met, checking that the hidden text read by
/// screen readers agrees with the class.
fn met_rules(browser: &Browser) -> Vec<String> {
    let state = browser.execute(
        "return [...document.querySelectorAll('#rules li[data-rule]')].map((li) => \
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
fn save_screenshot(browser: &Browser, name: &str) {
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
fn log_in(browser: &Browser, server: &Server, name: &str) {
    browser.goto(&format!("{}/login", server.origin()));
    browser.type_into("#username", name);
    browser.type_into("#password", PASSWORD);
    browser.click("#submit");
    browser.wait_for_path("/");
    browser.wait_for_text("#me", name);
    browser.wait_for_text("#conn-status", "connected");
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
