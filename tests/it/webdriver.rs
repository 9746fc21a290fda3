//! A small W3C WebDriver client for the browser tests: each `Browser` starts its own
//! `chromedriver` on a free localhost port, opens one headless Chromium session with a fresh
//! profile (so its own cookies), and speaks JSON over plain HTTP/1.1. Helpers name what a person
//! does (go to a page, type, click, read); it holds no test logic and never sleeps to synchronise.

use crate::harness::{self, TempDir};
use crate::json::{self, Json};
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const INSTALL_HINT: &str = "apt-get install chromium chromium-driver";
/// The key under which W3C WebDriver passes an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const POLL_EVERY: Duration = Duration::from_millis(50);
/// Starting Chromium on a busy two-core machine can take a few seconds.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Installed before any page script runs, so problems during page load are caught too. CDP
/// scripts are exempt from the page's Content-Security-Policy.
const PROBLEM_WATCHER: &str = r#"
window.__problems = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__problems.push(`CSP ${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
});
window.addEventListener('error', (e) => {
  window.__problems.push(`uncaught error: ${e.message} at ${e.filename}:${e.lineno}`);
});
window.addEventListener('unhandledrejection', (e) => {
  window.__problems.push(`unhandled rejection: ${e.reason}`);
});
"#;

/// Whether the browser tests can run here. Under CI a missing browser fails the test; a
/// developer without one gets a notice and the test returns early.
pub fn available() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "browser tests need {} (install with `{INSTALL_HINT}`)",
        missing.join(" and ")
    );
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("skipping browser test: {message}");
    false
}

/// A `chromedriver` process in its own process group, killed with everything it started.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        // Another process may take the free port between our probe and chromedriver's bind.
        for _ in 0..3 {
            let port = free_port();
            let mut child = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("spawn {CHROMEDRIVER}: {e} (install with `{INSTALL_HINT}`)")
                });
            let stdout = child.stdout.take().expect("stdout is piped");
            let (ready_tx, ready) = mpsc::channel();
            std::thread::Builder::new()
                .name("chromedriver-stdout".into())
                .spawn(move || {
                    let mut lines = BufReader::new(stdout).lines();
                    for line in lines.by_ref() {
                        if line.is_ok_and(|l| l.contains("started successfully")) {
                            let _ = ready_tx.send(());
                            break;
                        }
                    }
                    // Keep draining so chromedriver never blocks on a full pipe; ends when it exits.
                    lines.for_each(drop);
                })
                .expect("spawn the chromedriver-stdout thread");
            let driver = Driver { child, port };
            if ready.recv_timeout(Duration::from_secs(20)).is_ok() {
                return driver;
            }
            // Dropping it kills it; try another port.
        }
        panic!("chromedriver did not start listening in three attempts");
    }

    /// Sends one command; `Err` carries the WebDriver error code and message.
    fn call(&self, method: &str, path: &str, body: Option<&Json>) -> Result<Json, String> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))
            .map_err(|e| format!("connect to chromedriver: {e}"))?;
        stream
            .set_read_timeout(Some(COMMAND_TIMEOUT))
            .expect("a non-zero timeout is valid");
        let body = body.map(Json::to_json_string).unwrap_or_default();
        let headers = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Connection", "close"),
        ];
        harness::send_request(
            &mut stream,
            self.port,
            method,
            path,
            &headers,
            body.as_bytes(),
        );
        let res = harness::read_response(&mut stream)
            .ok_or_else(|| format!("no response from chromedriver to {method} {path}"))?;
        let json = json::parse(&res.text())
            .map_err(|e| format!("chromedriver sent invalid JSON ({e}): {}", res.text()))?;
        let value = json.get("value").cloned().unwrap_or(Json::Null);
        if res.status == 200 {
            return Ok(value);
        }
        let code = value
            .get("error")
            .and_then(Json::as_str)
            .unwrap_or("unknown error");
        let message = value
            .get("message")
            .and_then(Json::as_str)
            .unwrap_or_default();
        Err(format!("{code}: {message}"))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // SAFETY: signalling the process group our own child leads (it was started with
        // process_group(0)), so Chromium and its helpers go too.
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free localhost port");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

/// One headless Chromium session with its own profile directory.
pub struct Browser {
    session: String,
    // Dropped in this order: the driver (and Chromium) first, then the profile it wrote to.
    driver: Driver,
    _profile: TempDir,
}

impl Browser {
    pub fn start() -> Browser {
        let profile = TempDir::new();
        let driver = Driver::start();
        let args: Vec<Json> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
            // Calls: a fake camera and microphone (a test pattern and a beep), permission
            // prompts answered yes, and the whole screen picked for screen sharing.
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--auto-select-desktop-capture-source=Entire screen",
        ]
        .into_iter()
        .map(Json::from)
        .chain([Json::from(format!(
            "--user-data-dir={}",
            profile.path().display()
        ))])
        .collect();
        let chrome_options = Json::obj([("binary", CHROMIUM.into()), ("args", args.into())]);
        let capabilities = Json::obj([
            ("browserName", "chrome".into()),
            // The server's certificate is signed by its own local CA.
            ("acceptInsecureCerts", true.into()),
            ("goog:chromeOptions", chrome_options),
        ]);
        let body = Json::obj([("capabilities", Json::obj([("alwaysMatch", capabilities)]))]);
        let created = driver
            .call("POST", "/session", Some(&body))
            .unwrap_or_else(|e| panic!("start a Chromium session: {e}"));
        let session = created
            .get("sessionId")
            .and_then(Json::as_str)
            .expect("a new session has an id")
            .to_owned();
        let browser = Browser {
            session,
            driver,
            _profile: profile,
        };
        let watcher = Json::obj([
            ("cmd", "Page.addScriptToEvaluateOnNewDocument".into()),
            ("params", Json::obj([("source", PROBLEM_WATCHER.into())])),
        ]);
        browser.command("POST", "/goog/cdp/execute", Some(&watcher));
        browser
    }

    fn try_command(&self, method: &str, path: &str, body: Option<&Json>) -> Result<Json, String> {
        self.driver
            .call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn command(&self, method: &str, path: &str, body: Option<&Json>) -> Json {
        self.try_command(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Opens `url` and waits for the page to load.
    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(&Json::obj([("url", url.into())])));
    }

    pub fn current_url(&self) -> String {
        self.command("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The path part of the current URL (`/login`), without query or fragment.
    pub fn current_path(&self) -> String {
        let url = self.current_url();
        let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
        path.split(['?', '#']).next().unwrap_or(path).to_owned()
    }

    /// The element matching `css`, or `None` if there is none right now.
    pub fn find(&self, css: &str) -> Option<Element<'_>> {
        let by = Json::obj([("using", "css selector".into()), ("value", css.into())]);
        let found = self.try_command("POST", "/element", Some(&by)).ok()?;
        let id = found.get(ELEMENT_KEY).and_then(Json::as_str)?.to_owned();
        Some(Element {
            browser: self,
            id,
            css: css.to_owned(),
        })
    }

    fn expect(&self, css: &str) -> Element<'_> {
        self.find(css)
            .unwrap_or_else(|| panic!("no element matches {css} on {}", self.current_url()))
    }

    /// Types `text` key by key into the field, as a person would (input events fire per key).
    pub fn type_into(&self, css: &str, text: &str) {
        self.expect(css).type_text(text);
    }

    /// Empties the field, then types `text`.
    pub fn replace_text(&self, css: &str, text: &str) {
        let field = self.expect(css);
        field.clear();
        field.type_text(text);
    }

    pub fn click(&self, css: &str) {
        self.expect(css).click();
    }

    /// The rendered text of the element matching `css`.
    pub fn text(&self, css: &str) -> String {
        self.expect(css).text()
    }

    /// The element's classes, empty if it does not exist.
    pub fn classes(&self, css: &str) -> Vec<String> {
        let class = self
            .find(css)
            .and_then(|e| e.attribute("class"))
            .unwrap_or_default();
        class.split_whitespace().map(str::to_owned).collect()
    }

    pub fn has_class(&self, css: &str, class: &str) -> bool {
        self.classes(css).iter().any(|c| c == class)
    }

    /// Runs `script` as a function body in the page and returns its `return` value.
    pub fn execute(&self, script: &str) -> Json {
        let body = Json::obj([("script", script.into()), ("args", Json::Arr(vec![]))]);
        self.command("POST", "/execute/sync", Some(&body))
    }

    /// Runs `script` as an async function body in the page and returns what it resolves to
    /// (the default script timeout, 30 s, bounds it).
    pub fn execute_async(&self, script: &str) -> Json {
        let wrapped = format!(
            "const done = arguments[arguments.length - 1]; \
             (async () => {{ {script} }})().then(done, (e) => done(`rejected: ${{e}}`));"
        );
        let body = Json::obj([("script", wrapped.into()), ("args", Json::Arr(vec![]))]);
        self.command("POST", "/execute/async", Some(&body))
    }

    /// Puts files (absolute paths) into the `<input type="file">` matching `css`, as if picked
    /// in the file chooser; the page hears one `change` event.
    pub fn choose_files(&self, css: &str, paths: &[&Path]) {
        let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        self.expect(css).type_text(&list.join("\n"));
    }

    /// CSP violations and uncaught script errors seen since the current page started loading.
    pub fn page_problems(&self) -> Vec<String> {
        match self.execute("return window.__problems || ['the problem watcher is not installed'];")
        {
            Json::Arr(items) => items
                .iter()
                .map(|p| p.as_str().unwrap_or("?").to_owned())
                .collect(),
            other => vec![format!(
                "unexpected problem list: {}",
                other.to_json_string()
            )],
        }
    }

    /// Polls `condition` every 50 ms until it holds; panics naming `what` after `timeout`.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        mut condition: impl FnMut(&Browser) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        loop {
            if condition(self) {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "waited {timeout:?} for {what}; the page is {}",
                    self.current_url()
                );
            }
            std::thread::sleep(POLL_EVERY);
        }
    }

    /// Waits until the element matching `css` shows exactly `expected`.
    pub fn wait_for_text(&self, css: &str, expected: &str) {
        let mut last = None;
        let what = format!("{css} to read {expected:?}");
        self.wait_for(&what, Duration::from_secs(5), |b| {
            last = b.find(css).and_then(|e| e.try_text());
            last.as_deref() == Some(expected)
        });
    }

    /// Waits until the browser is on `path` of any origin.
    pub fn wait_for_path(&self, path: &str) {
        self.wait_for(&format!("the page {path}"), Duration::from_secs(5), |b| {
            b.current_path() == path
        });
    }

    /// Moves the mouse over the element matching `css` (to show what appears on hover).
    pub fn hover(&self, css: &str) {
        self.expect(css).hover();
    }

    /// Resizes the browser window (its outer size, in CSS pixels).
    pub fn set_window_size(&self, width: u64, height: u64) {
        let rect = Json::obj([("width", width.into()), ("height", height.into())]);
        self.command("POST", "/window/rect", Some(&rect));
    }

    /// Sends a Chrome DevTools Protocol command (`Emulation.…`, `Page.…`) and returns its result.
    pub fn cdp(&self, cmd: &str, params: Json) -> Json {
        let body = Json::obj([("cmd", cmd.into()), ("params", params)]);
        self.command("POST", "/goog/cdp/execute", Some(&body))
    }

    /// Makes the page see a phone: a 390 × 844 viewport, a touch screen as its only pointer
    /// (so `(hover: none) and (pointer: coarse)` match) and touch events.
    pub fn emulate_phone(&self) {
        let metrics = Json::obj([
            ("width", 390u64.into()),
            ("height", 844u64.into()),
            ("deviceScaleFactor", 2u64.into()),
            ("mobile", true.into()),
        ]);
        self.cdp("Emulation.setDeviceMetricsOverride", metrics);
        let touch = Json::obj([("enabled", true.into()), ("maxTouchPoints", 5u64.into())]);
        self.cdp("Emulation.setTouchEmulationEnabled", touch);
    }

    /// Makes the page see the system preferring `scheme` ("light" or "dark").
    pub fn prefer_color_scheme(&self, scheme: &str) {
        let feature = Json::obj([
            ("name", "prefers-color-scheme".into()),
            ("value", scheme.into()),
        ]);
        self.cdp(
            "Emulation.setEmulatedMedia",
            Json::obj([("features", Json::Arr(vec![feature]))]),
        );
    }

    /// Reloads the current page and waits for it to load.
    pub fn reload(&self) {
        self.command("POST", "/refresh", Some(&Json::obj([])));
    }

    /// A finger touching the middle of the element matching `css`, held for `hold`, then lifted.
    pub fn touch(&self, css: &str, hold: Duration) {
        let origin = Json::obj([(ELEMENT_KEY, self.expect(css).id.as_str().into())]);
        self.finger(origin, 0, 0, hold);
    }

    /// A tap at a point of the viewport, in CSS pixels.
    pub fn tap_at(&self, x: u64, y: u64) {
        self.finger("viewport".into(), x, y, Duration::ZERO);
    }

    fn finger(&self, origin: Json, x: u64, y: u64, hold: Duration) {
        let mut steps = vec![
            Json::obj([
                ("type", "pointerMove".into()),
                ("duration", 0u64.into()),
                ("origin", origin),
                ("x", x.into()),
                ("y", y.into()),
            ]),
            Json::obj([("type", "pointerDown".into()), ("button", 0u64.into())]),
        ];
        if !hold.is_zero() {
            let pause = u64::try_from(hold.as_millis()).expect("a short hold");
            steps.push(Json::obj([
                ("type", "pause".into()),
                ("duration", pause.into()),
            ]));
        }
        steps.push(Json::obj([
            ("type", "pointerUp".into()),
            ("button", 0u64.into()),
        ]));
        let finger = Json::obj([
            ("type", "pointer".into()),
            ("id", "finger".into()),
            ("parameters", Json::obj([("pointerType", "touch".into())])),
            ("actions", Json::Arr(steps)),
        ]);
        let body = Json::obj([("actions", Json::Arr(vec![finger]))]);
        self.command("POST", "/actions", Some(&body));
        // Lifts everything, so the next touch starts afresh.
        self.command("DELETE", "/actions", None);
    }

    /// Saves a PNG of the viewport.
    pub fn screenshot(&self, path: &Path) {
        let encoded = self.command("GET", "/screenshot", None);
        let png = base64_decode(encoded.as_str().expect("a screenshot is a base64 string"));
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Lets Chromium quit cleanly; the driver's drop kills whatever is left.
        let _ = self.try_command("DELETE", "", None);
    }
}

/// A reference to one element of the current page.
pub struct Element<'b> {
    browser: &'b Browser,
    id: String,
    css: String,
}

impl Element<'_> {
    fn command(&self, method: &str, action: &str, body: Option<&Json>) -> Result<Json, String> {
        self.browser
            .try_command(method, &format!("/element/{}{action}", self.id), body)
    }

    fn expect(&self, method: &str, action: &str, body: Option<&Json>) -> Json {
        self.command(method, action, body)
            .unwrap_or_else(|e| panic!("{method} {action} on {}: {e}", self.css))
    }

    pub fn type_text(&self, text: &str) {
        self.expect("POST", "/value", Some(&Json::obj([("text", text.into())])));
    }

    pub fn clear(&self) {
        self.expect("POST", "/clear", Some(&Json::obj([])));
    }

    pub fn click(&self) {
        self.expect("POST", "/click", Some(&Json::obj([])));
    }

    pub fn text(&self) -> String {
        self.expect("GET", "/text", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The text, or `None` if the element went away (the page changed under us).
    pub fn try_text(&self) -> Option<String> {
        self.command("GET", "/text", None)
            .ok()?
            .as_str()
            .map(str::to_owned)
    }

    pub fn attribute(&self, name: &str) -> Option<String> {
        self.command("GET", &format!("/attribute/{name}"), None)
            .ok()?
            .as_str()
            .map(str::to_owned)
    }

    pub fn is_displayed(&self) -> bool {
        self.command("GET", "/displayed", None).ok() == Some(Json::Bool(true))
    }

    /// Moves the mouse to the middle of the element.
    pub fn hover(&self) {
        let origin = Json::obj([(ELEMENT_KEY, self.id.as_str().into())]);
        let moves = Json::obj([
            ("type", "pointerMove".into()),
            ("duration", 0u64.into()),
            ("origin", origin),
            ("x", 0u64.into()),
            ("y", 0u64.into()),
        ]);
        let mouse = Json::obj([
            ("type", "pointer".into()),
            ("id", "mouse".into()),
            ("parameters", Json::obj([("pointerType", "mouse".into())])),
            ("actions", Json::Arr(vec![moves])),
        ]);
        let body = Json::obj([("actions", Json::Arr(vec![mouse]))]);
        self.browser
            .try_command("POST", "/actions", Some(&body))
            .unwrap_or_else(|e| panic!("hover over {}: {e}", self.css));
    }
}

/// Decodes standard base64 (with or without padding); WebDriver screenshots are PNGs in it.
fn base64_decode(text: &str) -> Vec<u8> {
    fn sextet(c: u8) -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {:?}", char::from(c)),
        }
    }
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let bits = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, c)| acc | sextet(*c) << (18 - 6 * i));
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[test]
fn base64_decodes_padded_and_unpadded_text() {
    assert_eq!(base64_decode("TWFu"), b"Man");
    assert_eq!(base64_decode("TWE="), b"Ma");
    assert_eq!(base64_decode("TQ=="), b"M");
    assert_eq!(base64_decode("iVBORw0KGgo"), b"\x89PNG\r\n\x1a\n");
}
