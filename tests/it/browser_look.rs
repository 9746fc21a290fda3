//! The web UI in headless Chromium, continued: how messages are formatted (lists, quotes,
//! italics, and the composer's formatting shortcuts), the light and dark themes and how the
//! choice is kept, the login and signup forms' own checks, and how search shows system notices
//! and closes. Each test skips with a notice when no browser is installed (see
//! `webdriver::available`).

use crate::browser::{
    log_in, met_rules, open_chat, save_screenshot, shown_messages, strings, LIVE,
};
use crate::harness::Server;
use crate::json::Json;
use crate::webdriver::{self, Browser};
use std::time::Duration;

/// What the newest message shows, as JSON: its formatted parts, read from the DOM.
const FORMATTED_PARTS: &str = "\
    const text = [...document.querySelectorAll('#messages .message-text')].pop(); \
    const all = (css) => [...text.querySelectorAll(css)].map((e) => e.textContent); \
    return { \
      bullets: all('ul > li'), bold: all('ul strong'), numbered: all('ol > li'), \
      quote: all('blockquote'), italic: all('em'), code: all('code'), \
      code_children: text.querySelector('code')?.childElementCount ?? -1, \
      struck: all('s'), html: text.querySelectorAll('img, script').length, \
      text: text.textContent };";

#[test]
fn messages_show_lists_quotes_and_italics_and_shortcuts_wrap_the_selection() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    server.signup("alice");
    let mut bob = server.signup("bob");
    bob.say(
        "general",
        "Plan for _today_ in snake_case and a_b_c:\n- first **step**\n* second\n1. one\n2. two\n\
         > wise words\n> more\n`keep _this_ **raw**` ~~old~~ <img src=x onerror=alert(1)>",
    );
    let alice = Browser::start();
    open_chat(&alice, &server, "alice");
    alice.wait_for("bob's message", LIVE, |b| {
        b.find("#messages .message-text ul").is_some()
    });
    let parts = alice.execute(FORMATTED_PARTS);
    let list = |key: &str| strings(parts.get(key).cloned().unwrap_or(Json::Null));
    assert_eq!(list("bullets"), ["first step", "second"]);
    assert_eq!(list("bold"), ["step"]);
    assert_eq!(list("numbered"), ["one", "two"]);
    assert_eq!(list("quote"), ["wise words\nmore"]);
    assert_eq!(list("italic"), ["today"], "underscores inside words stay");
    assert_eq!(list("code"), ["keep _this_ **raw**"]);
    assert_eq!(parts.get("code_children"), Some(&Json::from(0u64)));
    assert_eq!(list("struck"), ["old"]);
    assert_eq!(
        parts.get("html"),
        Some(&Json::from(0u64)),
        "text became HTML"
    );
    let text = parts.get("text").and_then(Json::as_str).unwrap_or_default();
    assert!(
        text.starts_with("Plan for today in snake_case and a_b_c:"),
        "{text:?}"
    );
    assert!(text.ends_with("<img src=x onerror=alert(1)>"), "{text:?}");
    save_screenshot(&alice, "formatting");

    // Ctrl+B wraps the selected words and leaves them selected; again, it unwraps them.
    alice.type_into("#composer", "make this bold");
    let select_bold =
        "const box = document.getElementById('composer'); box.focus(); box.setSelectionRange(10, 14);";
    alice.execute(select_bold);
    alice.type_into("#composer", "\u{E009}b\u{E000}");
    let composer = "const box = document.getElementById('composer'); \
                    return [box.value, box.value.slice(box.selectionStart, box.selectionEnd)];";
    assert_eq!(
        strings(alice.execute(composer)),
        ["make this **bold**", "bold"]
    );
    alice.type_into("#composer", "\u{E009}b\u{E000}");
    assert_eq!(strings(alice.execute(composer)), ["make this bold", "bold"]);

    // With nothing selected the pair goes in and the caret between: Ctrl+I, then Ctrl+Shift+X.
    alice.replace_text("#composer", "");
    alice.type_into(
        "#composer",
        "\u{E009}i\u{E000}it\u{E010} \u{E009}\u{E008}x\u{E000}gone",
    );
    assert_eq!(strings(alice.execute(composer)), ["_it_ ~~gone~~", ""]);
    alice.type_into("#composer", "\u{E007}");
    alice.wait_for("alice's message", LIVE, |b| {
        shown_messages(b).last().map(String::as_str) == Some("alice: it gone")
    });
    let mine = alice.execute(FORMATTED_PARTS);
    assert_eq!(strings(mine.get("italic").cloned().unwrap()), ["it"]);
    assert_eq!(strings(mine.get("struck").cloned().unwrap()), ["gone"]);

    // The keyboard help lists the shortcuts.
    alice.type_into("#messages", "?");
    alice.wait_for("the keyboard help", LIVE, |b| {
        b.find("#help-dialog[open]").is_some()
    });
    let help = alice.text("#help-dialog");
    for line in [
        "Ctrl + B\nBold",
        "Ctrl + I\nItalic",
        "Ctrl + Shift + X\nStrike through",
    ] {
        assert!(
            help.contains(line),
            "{line:?} missing from the help: {help}"
        );
    }
    assert_eq!(alice.page_problems(), Vec::<String>::new());
}

/// `(red, green, blue)` of a computed CSS colour such as `rgb(12, 34, 56)`.
fn rgb(css: &str) -> (f64, f64, f64) {
    let inside = css
        .trim_start_matches("rgba(")
        .trim_start_matches("rgb(")
        .trim_end_matches(')');
    let parts: Vec<f64> = inside
        .split(',')
        .map(|p| {
            p.trim()
                .parse()
                .unwrap_or_else(|_| panic!("not rgb: {css}"))
        })
        .collect();
    (parts[0], parts[1], parts[2])
}

/// The WCAG contrast ratio of two computed colours.
fn contrast(a: &str, b: &str) -> f64 {
    let luminance = |css: &str| {
        let channel = |c: f64| {
            let c = c / 255.0;
            if c <= 0.040_45 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let (r, g, b) = rgb(css);
        0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    };
    let (x, y) = (luminance(a), luminance(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

/// The theme applied, the body's background and text colours, and the muted text's colour
/// against the card it sits on (the login page's subtitle).
fn login_colours(browser: &Browser) -> (String, String, String, f64) {
    let found = strings(browser.execute(
        "const muted = document.querySelector('.card .muted'); \
         return [document.documentElement.dataset.theme, getComputedStyle(document.body).backgroundColor, \
           getComputedStyle(document.body).color, getComputedStyle(muted).color, \
           getComputedStyle(document.querySelector('.card')).backgroundColor];",
    ));
    let ratio = contrast(&found[3], &found[4]);
    (found[0].clone(), found[1].clone(), found[2].clone(), ratio)
}

/// Installed before each page's scripts: notes the theme the page had when its <body> arrived,
/// from the order of the DOM's own change records, so a later fix-up would be seen.
const THEME_AT_BODY: &str = "\
    window.__themeAtBody = 'no body seen'; \
    let theme = 'unset'; \
    new MutationObserver((records, observer) => { \
      for (const record of records) { \
        if (record.type === 'attributes') theme = document.documentElement.getAttribute('data-theme'); \
        if ([...record.addedNodes].some((n) => n.nodeName === 'BODY')) { \
          window.__themeAtBody = theme; observer.disconnect(); return; } \
      } \
    }).observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-theme'] });";

fn theme_at_body(browser: &Browser) -> Json {
    browser.execute("return window.__themeAtBody ?? null;")
}

fn chosen_theme(browser: &Browser) -> Json {
    browser.execute("return document.querySelector('#theme-choices input:checked')?.value ?? null;")
}

#[test]
fn the_theme_follows_the_system_until_one_is_chosen_and_a_reload_keeps_it() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    server.signup("alice");
    let browser = Browser::start();
    browser.cdp(
        "Page.addScriptToEvaluateOnNewDocument",
        Json::obj([("source", THEME_AT_BODY.into())]),
    );
    browser.prefer_color_scheme("dark");
    browser.goto(&format!("{}/login", server.origin()));
    let (theme, background, text, muted) = login_colours(&browser);
    assert_eq!(theme, "dark");
    assert_eq!(
        (background.as_str(), text.as_str()),
        ("rgb(15, 18, 22)", "rgb(230, 233, 238)")
    );
    assert!(
        contrast(&background, &text) >= 4.5 && muted >= 4.5,
        "{muted}"
    );
    assert_eq!(
        theme_at_body(&browser),
        Json::from("dark"),
        "set before the body"
    );

    // Following the system, the page changes with it at once.
    browser.prefer_color_scheme("light");
    browser.wait_for("the light theme", LIVE, |b| login_colours(b).0 == "light");
    let (_, background, text, muted) = login_colours(&browser);
    assert_eq!(
        (background.as_str(), text.as_str()),
        ("rgb(245, 246, 248)", "rgb(26, 31, 38)")
    );
    assert!(
        contrast(&background, &text) >= 4.5 && muted >= 4.5,
        "{muted}"
    );
    save_screenshot(&browser, "login-light");

    // Choosing Dark in Settings wins over the system, at once and after a reload.
    log_in(&browser, &server, "alice");
    browser.click("#account-button");
    browser.click("#open-settings");
    browser.click("#tab-appearance");
    assert_eq!(chosen_theme(&browser), Json::from("system"), "the default");
    browser.click("#theme-choices input[value=\"dark\"]");
    let theme = "return document.documentElement.dataset.theme;";
    assert_eq!(browser.execute(theme), Json::from("dark"));
    browser.reload();
    browser.wait_for_text("#conn-status", "connected");
    assert_eq!(browser.execute(theme), Json::from("dark"));
    assert_eq!(
        theme_at_body(&browser),
        Json::from("dark"),
        "no flash of light"
    );
    assert_eq!(
        browser.execute("return getComputedStyle(document.body).backgroundColor;"),
        Json::from("rgb(15, 18, 22)")
    );
    browser.click("#account-button");
    browser.click("#open-settings");
    browser.click("#tab-appearance");
    assert_eq!(chosen_theme(&browser), Json::from("dark"));

    // Light, then back to following the system (light), which a reload keeps too.
    browser.click("#theme-choices input[value=\"light\"]");
    assert_eq!(browser.execute(theme), Json::from("light"));
    browser.prefer_color_scheme("dark");
    browser.click("#theme-choices input[value=\"system\"]");
    browser.wait_for("the system's dark theme", LIVE, |b| {
        b.execute(theme) == Json::from("dark")
    });
    browser.reload();
    browser.wait_for_text("#conn-status", "connected");
    assert_eq!(theme_at_body(&browser), Json::from("dark"));
    assert_eq!(browser.page_problems(), Vec::<String>::new());
}

/// How many requests the page has sent to the API since it loaded.
fn api_requests(browser: &Browser) -> Json {
    browser.execute(
        "return performance.getEntriesByType('resource').filter((e) => new URL(e.name).pathname.startsWith('/api/')).length;",
    )
}

#[test]
fn an_empty_login_form_asks_for_the_fields_without_a_request() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    server.signup("alice");
    let browser = Browser::start();
    browser.goto(&format!("{}/login", server.origin()));
    browser.click("#submit");
    browser.wait_for_text("#error", "Enter your username and password");
    assert_eq!(
        browser.execute("return document.activeElement.id;"),
        Json::from("username")
    );
    assert_eq!(
        browser
            .find("#username")
            .and_then(|e| e.attribute("aria-invalid"))
            .as_deref(),
        Some("true")
    );
    browser.type_into("#username", "alice\u{E007}");
    browser.wait_for_text("#error", "Enter your password");
    assert_eq!(api_requests(&browser), Json::from(0u64), "nothing was sent");

    // A filled form is sent, and the same count sees it.
    browser.type_into("#password", "Wr0ng-password\u{E007}");
    browser.wait_for_text("#error", "Invalid credentials");
    assert_eq!(api_requests(&browser), Json::from(1u64));
    assert_eq!(browser.page_problems(), Vec::<String>::new());
}

/// The rules of the signup form marked unmet (✗), in order.
fn unmet_rules(browser: &Browser) -> Vec<String> {
    strings(browser.execute(
        "return [...document.querySelectorAll('#rules li.unmet, #match-rule li.unmet')].map((li) => li.dataset.rule);",
    ))
}

#[test]
fn signup_marks_each_unmet_rule_under_the_password_as_it_is_typed() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    let browser = Browser::start();
    browser.goto(&format!("{}/signup", server.origin()));
    assert_eq!(
        browser.execute(
            "return document.getElementById('rules').closest('.field').querySelector('input').id;"
        ),
        Json::from("password"),
        "the rules sit under the password field"
    );
    assert_eq!(
        unmet_rules(&browser),
        Vec::<String>::new(),
        "nothing typed yet"
    );

    browser.type_into("#password", "abc");
    assert_eq!(
        unmet_rules(&browser),
        ["length", "digit", "upper", "special"]
    );
    assert_eq!(
        browser
            .find("#password")
            .and_then(|e| e.attribute("aria-invalid"))
            .as_deref(),
        Some("true")
    );
    browser.type_into("#password", "D1!");
    assert_eq!(unmet_rules(&browser), ["length"]);
    assert_eq!(met_rules(&browser), ["digit", "upper", "special"]);
    browser.type_into("#password", "xy");
    assert_eq!(unmet_rules(&browser), Vec::<String>::new());
    browser.type_into("#confirm-password", "abc");
    assert_eq!(unmet_rules(&browser), ["match"]);
    browser.replace_text("#confirm-password", "abcD1!xy");
    assert_eq!(unmet_rules(&browser), Vec::<String>::new());
    assert_eq!(
        browser
            .find("#password")
            .and_then(|e| e.attribute("aria-invalid"))
            .as_deref(),
        Some("false")
    );
    assert_eq!(
        api_requests(&browser),
        Json::from(0u64),
        "checked without the server"
    );
    save_screenshot(&browser, "signup-rules");

    // The server still has the last word, in its own words.
    browser.type_into("#username", "alice");
    browser.replace_text("#password", "Sh0rt!");
    browser.replace_text("#confirm-password", "Sh0rt!");
    assert_eq!(unmet_rules(&browser), ["length"]);
    browser.click("#submit");
    browser.wait_for_text("#error", "Password must be at least 8 characters long");
    assert_eq!(browser.page_problems(), Vec::<String>::new());
}

#[test]
fn search_marks_system_notices_and_one_esc_closes_it() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    let mut alice = server.signup("alice");
    server.signup("bob");
    let created = alice.post(
        "/api/private-channels",
        &Json::obj([
            ("name", "launch".into()),
            ("members", Json::Arr(vec!["bob".into()])),
        ]),
    );
    assert_eq!(created.status, 201);
    alice.say("general", "The launch is at noon");
    let browser = Browser::start();
    open_chat(&browser, &server, "alice");

    browser.type_into("#messages", "/");
    browser.type_into("#search-input", "launch");
    let results = "return [...document.querySelectorAll('#search-results .search-result')].map((r) => \
                     [r.dataset.system ?? 'person', r.querySelector('.search-result-head').textContent.trim()].join(' | '));";
    browser.wait_for("both results", LIVE, |b| {
        strings(b.execute(results)).len() == 2
    });
    let shown = strings(browser.execute(results));
    assert!(shown[0].starts_with("person | alice#general"), "{shown:?}");
    assert!(shown[1].starts_with("true | ℹ System notice"), "{shown:?}");
    save_screenshot(&browser, "search-notice");

    // One Esc closes it, words and all.
    browser.type_into("#search-input", "\u{E00C}");
    browser.wait_for("the search to close", Duration::from_secs(5), |b| {
        b.find("#search-dialog[open]").is_none()
    });
    assert_eq!(browser.page_problems(), Vec::<String>::new());
}
