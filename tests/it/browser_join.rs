//! The join page in headless Chromium, as a phone that scanned its code sees it: no login, the
//! server's address, the certificate authority's fingerprint checked against the one the code
//! carried, the certificate to download, and the steps for each system.

use crate::harness::Server;
use crate::json::Json;
use crate::webdriver::{self, Browser};
use std::time::Duration;

fn str_of(info: &Json, key: &str) -> String {
    info.get(key)
        .and_then(Json::as_str)
        .unwrap_or_else(|| panic!("/api/join has no {key}: {}", info.to_json_string()))
        .to_owned()
}

#[test]
fn a_phone_that_scans_the_code_sees_the_server_checked_and_how_to_trust_it() {
    if !webdriver::available() {
        return;
    }
    let server = Server::start();
    let info = server.request("GET", "/api/join", &[], b"").json();
    let (url, fingerprint) = (str_of(&info, "url"), str_of(&info, "fingerprint"));
    let scanned = fingerprint.replace(':', "");
    let browser = Browser::start();
    browser.set_window_size(390, 844);

    // What the code opens: the join page with the fingerprint after '#', never sent to a server.
    browser.goto(&format!("{}/join#sha256={scanned}", server.origin()));
    browser.wait_for_text(
        "#check",
        "This is the server the code points to: the fingerprints match.",
    );
    assert_eq!(browser.current_path(), "/join", "no login was asked for");
    assert_eq!(browser.text("#url"), url, "the address people open");
    assert_eq!(browser.text("#fingerprint"), fingerprint);
    let download = browser.execute("return document.getElementById('download').href;");
    assert_eq!(download.as_str(), Some(format!("{url}/ca.pem").as_str()));
    let systems = browser.execute(
        "return [...document.querySelectorAll('#trust details summary')].map((s) => s.textContent);",
    );
    assert_eq!(
        systems.to_json_string(),
        r#"["Android","iPhone and iPad","Windows","macOS","Linux"]"#
    );
    // The steps open on a tap.
    browser.click("#trust details:nth-of-type(1) summary");
    assert!(browser
        .find("#trust details:nth-of-type(1) ol")
        .is_some_and(|steps| steps.is_displayed()));

    // The code itself is drawn, and fits a phone's screen.
    let qr = browser.execute(
        "const img = document.getElementById('qr'); const r = img.getBoundingClientRect(); \
         return [img.complete && img.naturalWidth > 0, r.left >= 0 && r.right <= window.innerWidth];",
    );
    assert_eq!(
        qr.to_json_string(),
        "[true,true]",
        "the QR code loads and fits"
    );
    // The certificate downloads as what it says.
    let pem = browser.execute_async(
        "const response = await fetch(document.getElementById('download').href); \
         return await response.text();",
    );
    assert!(
        pem.as_str()
            .is_some_and(|p| p.starts_with("-----BEGIN CERTIFICATE-----")),
        "ca.pem: {}",
        pem.to_json_string()
    );
    assert_eq!(browser.page_problems(), Vec::<String>::new());

    // A code from another server (or a tampered one) gets a warning, not a welcome.
    browser.goto("about:blank");
    browser.goto(&format!(
        "{}/join#sha256={}",
        server.origin(),
        "AB".repeat(32)
    ));
    browser.wait_for("the mismatch warning", Duration::from_secs(5), |b| {
        b.text("#check")
            .starts_with("Warning: this server’s fingerprint is NOT the one in the code.")
    });

    // Opened by hand (no code), the page still shows the fingerprint to compare, without a verdict.
    browser.goto("about:blank");
    browser.goto(&format!("{}/join", server.origin()));
    browser.wait_for_text("#fingerprint", &fingerprint);
    assert_eq!(browser.text("#check"), "");
}
