//! Headless Chromium driven through ChromeDriver's WebDriver protocol, for the web UI's
//! end-to-end tests: open a page, read the DOM with a script, take screenshots, and list
//! every request the page made (from Chromium's performance log).
//!
//! Chromium and ChromeDriver are Debian's `chromium` and `chromium-driver`, which `.ci/run`
//! installs. Where they are missing a test skips, saying so, unless `WEIR_REQUIRE_BROWSER`
//! is set (as CI sets it): then a missing browser fails the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use super::http::request;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A browser session; the browser and its driver end when it is dropped.
pub struct Browser {
    driver: Child,
    address: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A headless browser, or `None` (the test skips) where none is installed.
    pub fn start() -> Option<Browser> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            assert!(
                std::env::var_os("WEIR_REQUIRE_BROWSER").is_none(),
                "WEIR_REQUIRE_BROWSER is set but {CHROMIUM} or {CHROMEDRIVER} is missing"
            );
            eprintln!("skipped: no {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)");
            return None;
        }
        let port = super::free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let address = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&address).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1400,2200",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            "goog:loggingPrefs": {"performance": "ALL"}
        }}});
        let mut browser = Browser {
            driver,
            address,
            session: String::new(),
            _profile: profile,
        };
        let created = browser.call("POST", "/session", Some(capabilities));
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_string();
        Some(browser)
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let text = body.map(|b| b.to_string());
        let answer = request(&self.address, method, path, text.as_deref());
        let value: Value = serde_json::from_str(&answer.body)
            .unwrap_or_else(|e| panic!("WebDriver {path}: {e}: {}", answer.body));
        assert_eq!(answer.status, 200, "WebDriver {method} {path}: {value}");
        value["value"].clone()
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Opens `url`.
    pub fn open(&self, url: &str) {
        self.call(
            "POST",
            &self.session_path("/url"),
            Some(json!({"url": url})),
        );
    }

    /// Runs `script` (a function body) in the page and returns its value.
    pub fn eval(&self, script: &str) -> Value {
        let body = json!({"script": script, "args": []});
        self.call("POST", &self.session_path("/execute/sync"), Some(body))
    }

    /// The number of elements `selector` matches.
    pub fn count(&self, selector: &str) -> u64 {
        let script = format!(
            "return document.querySelectorAll({}).length;",
            Value::from(selector)
        );
        self.eval(&script).as_u64().unwrap_or(0)
    }

    /// Waits until `selector` matches at least `n` elements.
    pub fn wait_for(&self, selector: &str, n: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        loop {
            let have = self.count(selector);
            if have >= n {
                return have;
            }
            assert!(
                Instant::now() < deadline,
                "{selector}: {have} of {n} elements after {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a screenshot of the page as `path` (a PNG).
    pub fn screenshot(&self, path: &Path) {
        let data = self.call("GET", &self.session_path("/screenshot"), None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().expect("base64 PNG"))
            .expect("valid base64");
        std::fs::write(path, png).unwrap();
    }

    /// The URLs of every request made so far, but the browser's own pages (`chrome://`, its
    /// new tab page before the test's page opened).
    pub fn requests(&self) -> Vec<String> {
        let entries = self.call(
            "POST",
            &self.session_path("/se/log"),
            Some(json!({"type": "performance"})),
        );
        let mut urls = Vec::new();
        for entry in entries.as_array().into_iter().flatten() {
            let Some(message) = entry["message"].as_str() else {
                continue;
            };
            let Ok(m) = serde_json::from_str::<Value>(message) else {
                continue;
            };
            if m["message"]["method"] == "Network.requestWillBeSent" {
                if let Some(url) = m["message"]["params"]["request"]["url"].as_str() {
                    let internal = ["chrome://", "chrome-untrusted://", "about:"];
                    if !internal.iter().any(|p| url.starts_with(p)) {
                        urls.push(url.to_string());
                    }
                }
            }
        }
        urls
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = self.session_path("");
            let _ = std::panic::catch_unwind(|| request(&self.address, "DELETE", &path, None));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Where the tests keep their screenshots: `target/ui-screenshots` (CI artefacts).
pub fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
