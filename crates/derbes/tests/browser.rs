//! The published pages in a real browser: Debian's headless Chromium, driven through
//! ChromeDriver's WebDriver protocol, against a real `derbes serve`, with scripts switched off
//! and a phone's screen. And the PDF that `policy render --format pdf` prints through Chromium.
//!
//! Without Chromium and ChromeDriver the suite says that it did not run; with
//! `DERBES_TEST_BROWSER=required` (as in CI) it fails instead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// An executable named by `var`, else the first of `names` on `PATH`.
fn tool(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// A headless Chromium session through ChromeDriver; both end when dropped.
struct Browser {
    /// What started it, to start another.
    tools: (PathBuf, PathBuf),
    driver: Child,
    session: String,
    base: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

/// An A4 sheet's width in CSS pixels (210 mm at 96 pixels an inch).
const A4_WIDTH: u32 = 794;

/// The key under which WebDriver names an element.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// A phone-sized browser (390 × 844 CSS pixels, as a mobile device) that runs no page
    /// scripts and asks for Russian first; without `phone`, a desktop browser the caller sizes.
    fn start(chromium: &Path, chromedriver: &Path, phone: bool) -> Browser {
        let port = free_port();
        let driver = std::process::Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let profile = tempfile::tempdir().unwrap();
        let mut browser = Browser {
            tools: (chromium.to_owned(), chromedriver.to_owned()),
            driver,
            session: String::new(),
            base,
            agent,
            _profile: profile,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while browser.get("/status").map(|v| v["ready"] == true) != Some(true) {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut args = vec![
            "--headless".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            format!("--user-data-dir={}", browser._profile.path().display()),
        ];
        if is_root() {
            args.push("--no-sandbox".to_owned());
        }
        let mut options = json!({
            "binary": chromium,
            "args": args,
            "prefs": {
                // No page scripts: the pages must work without them.
                "profile.managed_default_content_settings.javascript": 2,
                "intl.accept_languages": "ru-RU,ru",
            },
        });
        if phone {
            options["mobileEmulation"] = json!({ "deviceMetrics": {
                "width": 390, "height": 844, "pixelRatio": 2.0, "mobile": true,
                // Touch emulation makes ChromeDriver's clicks wait for scripts that are off.
                "touch": false
            }});
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
        }}});
        let v = browser.post("/session", caps);
        browser.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {v}"))
            .to_owned();
        browser
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Option<Value> {
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        let resp = match body {
            Some(b) => self.agent.run(
                req.header("Content-Type", "application/json")
                    .body(b.to_string())
                    .unwrap(),
            ),
            None => self.agent.run(req.body(()).unwrap()),
        };
        let text = match resp {
            Ok(mut r) => r.body_mut().read_to_string().ok()?,
            Err(e) => {
                if path != "/status" {
                    eprintln!("WebDriver {method} {path}: {e}");
                }
                return None;
            }
        };
        let v: Value = serde_json::from_str(&text).ok()?;
        Some(v["value"].clone())
    }

    fn get(&self, path: &str) -> Option<Value> {
        self.call("GET", path, None)
    }

    fn post(&self, path: &str, body: Value) -> Value {
        self.call("POST", path, Some(body))
            .unwrap_or_else(|| panic!("WebDriver POST {path} failed"))
    }

    fn in_session(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    fn go(&self, url: &str) {
        let v = self.post(&self.in_session("/url"), json!({ "url": url }));
        assert!(v.is_null(), "cannot open {url}: {v}");
    }

    fn url(&self) -> String {
        self.get(&self.in_session("/url"))
            .and_then(|v| v.as_str().map(str::to_owned))
            .expect("no current address")
    }

    /// Evaluates `script` in the page (WebDriver's own evaluation, which works with the
    /// page's scripts switched off).
    fn eval(&self, script: &str) -> Value {
        self.post(
            &self.in_session("/execute/sync"),
            json!({ "script": script, "args": [] }),
        )
    }

    fn find(&self, css: &str) -> String {
        let v = self.post(
            &self.in_session("/element"),
            json!({ "using": "css selector", "value": css }),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    /// Clicks the element and waits for the page it leads to.
    fn click(&self, css: &str) {
        let before = self.url();
        let el = self.find(css);
        let v = self.post(&self.in_session(&format!("/element/{el}/click")), json!({}));
        assert!(v.is_null(), "cannot click {css}: {v}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.url() == before || self.eval("return document.readyState") != "complete" {
            assert!(Instant::now() < deadline, "{css} led nowhere from {before}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A PNG of one element, base64 as WebDriver gives it.
    fn shot(&self, el: &str) -> String {
        self.get(&self.in_session(&format!("/element/{el}/screenshot")))
            .and_then(|v| v.as_str().map(str::to_owned))
            .expect("no screenshot")
    }

    /// Lays pages out as an A4 sheet (210 × 297 mm at 96 pixels an inch), printed (ChromeDriver's
    /// DevTools passage; WebDriver has no word for it).
    fn print_on_a4(&self) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": A4_WIDTH, "height": 1123, "deviceScaleFactor": 1, "mobile": false }),
        );
        self.cdp("Emulation.setEmulatedMedia", json!({ "media": "print" }));
    }

    /// A DevTools command through ChromeDriver: its result.
    fn cdp(&self, cmd: &str, params: Value) -> Value {
        let v = self.post(
            &self.in_session("/goog/cdp/execute"),
            json!({ "cmd": cmd, "params": params }),
        );
        assert!(v.is_object(), "{cmd}: {v}");
        v
    }

    /// A PNG of the whole page, below the window too.
    fn page_screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let v = self.cdp(
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": true }),
        );
        base64::engine::general_purpose::STANDARD
            .decode(v["data"].as_str().expect("no screenshot"))
            .unwrap()
    }

    /// A PNG of the whole window.
    fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let b64 = self
            .get(&self.in_session("/screenshot"))
            .and_then(|v| v.as_str().map(str::to_owned))
            .expect("no screenshot");
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &self.in_session(""), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// What every published page must be: plain HTML without scripts, in its language, as wide
/// as the phone and no wider.
fn assert_plain_page_fits_the_phone(b: &Browser, lang: &str) {
    let page = b.eval(
        "return { lang: document.documentElement.lang, scripts: document.scripts.length, \
         width: window.innerWidth, scroll: document.documentElement.scrollWidth, \
         font: parseFloat(getComputedStyle(document.body).fontSize) }",
    );
    let at = b.url();
    assert_eq!(page["lang"], lang, "{at}");
    assert_eq!(page["scripts"], 0, "{at}: a page without scripts");
    // The viewport meta tag makes the layout the phone's width…
    assert_eq!(page["width"], 390, "{at}: {page}");
    // …and nothing makes the page scroll sideways (wide tables scroll in their own box).
    assert!(
        page["scroll"].as_f64().unwrap() <= 390.0,
        "{at} is wider than the phone: {page}"
    );
    assert!(page["font"].as_f64().unwrap() >= 14.0, "{at}: {page}");
}

/// From the policy in force to each language, each document, the versions and back, by
/// following links only, with scripts off, on a phone.
fn pages_work_without_scripts_on_a_phone(b: &Browser, server: &Server) {
    b.go(&format!("{}/policy", server.base));
    // Chromium asks for Russian first; the page answers in Russian.
    assert_plain_page_fits_the_phone(b, "ru");
    let h1 = b.eval("return document.querySelector('h1').textContent");
    assert!(
        h1.as_str()
            .unwrap()
            .starts_with("Политика конфиденциальности"),
        "{h1}"
    );
    b.click("a[hreflang=kk]");
    assert!(b.url().ends_with("/policy?lang=kk"), "{}", b.url());
    assert_plain_page_fits_the_phone(b, "kk");
    for doc in ["data-list", "consent-forms", "processing-record"] {
        b.click(&format!("nav a[href^='/policy/documents/{doc}']"));
        assert!(
            b.url()
                .ends_with(&format!("/policy/documents/{doc}?lang=kk")),
            "{}",
            b.url()
        );
        assert_plain_page_fits_the_phone(b, "kk");
        b.click("nav a[href^='/policy?']");
    }
    // The record's table has more columns than a phone can show: each row stands as a block,
    // each cell after its column's name.
    b.go(&format!(
        "{}/policy/documents/processing-record?lang=en",
        server.base
    ));
    let table = b.eval(
        "const box = document.querySelector('.wide'); const td = box.querySelector('td'); \
         return { box: box.clientWidth, table: box.scrollWidth, display: getComputedStyle(td).display, \
         label: getComputedStyle(td, '::before').content }",
    );
    assert!(
        table["table"].as_f64().unwrap() <= table["box"].as_f64().unwrap(),
        "{table}"
    );
    assert_eq!(table["display"], "block", "{table}");
    assert_eq!(table["label"], "\"No.: \"", "{table}");
    assert_plain_page_fits_the_phone(b, "en");
    b.click("nav a[href^='/policy/versions']");
    assert!(b.url().contains("/policy/versions?lang=en"), "{}", b.url());
    assert_plain_page_fits_the_phone(b, "en");
    b.click("table a[href^='/policy/versions/']");
    assert!(b.url().contains("/policy/versions/2025.1"), "{}", b.url());
    assert_plain_page_fits_the_phone(b, "en");
}

/// The Kazakh letters render as letters, not as the empty boxes of a missing glyph: each,
/// drawn on the policy page with the page's own fonts, differs in a screenshot from a
/// character no font has, from the Russian letter it is built on, and from every other.
fn kazakh_letters_render(b: &Browser, server: &Server) {
    b.go(&format!("{}/policy?lang=kk", server.base));
    // For a person to look at: the top of the Kazakh policy on a phone.
    let png = b.screenshot();
    assert!(png.starts_with(b"\x89PNG"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("policy-kk-phone.png");
    std::fs::write(&out, png).unwrap();
    println!(
        "browser: a screenshot of the Kazakh policy is at {}",
        out.display()
    );
    let letters = [
        ("ә", "а"),
        ("ғ", "г"),
        ("қ", "к"),
        ("ң", "н"),
        ("ө", "о"),
        ("ұ", "у"),
        ("ү", "у"),
        ("һ", "х"),
        ("і", "и"),
        ("Ә", "А"),
        ("Ғ", "Г"),
        ("Қ", "К"),
        ("Ң", "Н"),
        ("Ө", "О"),
        ("Ұ", "У"),
        ("Ү", "У"),
        ("Һ", "Х"),
        ("І", "И"),
    ];
    // Characters in Unicode's private planes, which no font on the machine draws.
    let missing = ["\u{10FFFD}", "\u{10FFFC}"];
    let mut all: Vec<&str> = letters.iter().flat_map(|(k, r)| [*k, *r]).collect();
    all.extend(missing);
    // Each in a box of its own, in the page's font, large enough to tell glyphs apart.
    b.eval(&format!(
        "const chars = {}; \
         chars.forEach((c, i) => {{ const s = document.createElement('span'); s.id = 'glyph' + i; \
         s.textContent = c; s.style.cssText = 'display:inline-block;width:60px;height:72px;\
         font-size:48px;line-height:72px;text-align:center;background:#fff;color:#000'; \
         document.body.prepend(s); }}); return chars.length",
        serde_json::to_string(&all).unwrap()
    ));
    let shot = |c: &str| {
        let i = all.iter().position(|x| *x == c).unwrap();
        b.shot(&b.find(&format!("#glyph{i}")))
    };
    let tofu = shot(missing[0]);
    // The test can see a missing glyph: two different missing characters look the same.
    assert_eq!(
        tofu,
        shot(missing[1]),
        "missing glyphs should draw alike; the comparison would prove nothing"
    );
    let mut seen: Vec<(String, &str)> = Vec::new();
    for (kazakh, russian) in letters {
        let k = shot(kazakh);
        assert_ne!(k, tofu, "{kazakh} is drawn as a missing glyph");
        assert_ne!(k, shot(russian), "{kazakh} is drawn as {russian}");
        if let Some((_, other)) = seen.iter().find(|(s, _)| *s == k) {
            panic!("{kazakh} and {other} are drawn alike");
        }
        seen.push((k, kazakh));
    }
}

/// Identifiers, phone numbers, dates and request ids in the page, each with whether a line
/// break splits it: a range over the match that spans two lines has two tops.
const SPLIT_CHECK: &str = r#"
const re = /\+7(?:[\s\u00a0]\d+){4}|\b\d{12}\b|\b\d{1,2}[\s\u00a0][^\s\u00a0\d.,;:()«»]+[\s\u00a0]\d{4}(?:[\s\u00a0]года)?|\d{4}[\s\u00a0]жылғы[\s\u00a0]\d{1,2}[\s\u00a0][^\s\u00a0\d.,;:()«»]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gu;
const seen = [], split = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const node = walker.currentNode;
  for (const m of node.data.matchAll(re)) {
    const r = document.createRange();
    r.setStart(node, m.index);
    r.setEnd(node, m.index + m[0].length);
    const tops = new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
    seen.push(m[0]);
    if (tops.size > 1) split.push(m[0]);
  }
}
const wide = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth - 1).map(e => e.tagName + ' ' + e.textContent.slice(0, 60)).slice(-3);
return { seen, split, wide, width: window.innerWidth, scroll: document.documentElement.scrollWidth };
"#;

/// The documents a subject or an operator reads, as files: a consent receipt and the access
/// package's report, in `lang`, for a student with an IIN and a phone number. They are behind
/// a token, so the browser opens them from disk.
fn private_documents(server: &Server, dir: &Path, lang: &str, n: usize) -> Vec<(String, String)> {
    use std::io::Read;
    let token = server
        .token
        .as_deref()
        .expect("the first start prints a token");
    let iin = &student_iins(n + 1)[n];
    let student = create_student(server, token, n, "Сәрсенбаева", iin);
    let (status, given) = server.post(
        &format!("/api/v1/subjects/{student}/consents"),
        token,
        &json!({ "purpose": "extracurricular", "action": "give", "method": { "kind": "web" } }),
    );
    assert_eq!(status, 201, "{given}");
    let (status, filed) = server.post(
        "/api/v1/requests",
        token,
        &json!({ "kind": "access_export", "subject_id": student, "channel": "online", "language": lang }),
    );
    assert_eq!(status, 201, "{filed}");
    let request = filed["id"].as_str().unwrap();
    let (status, body) = server.post(
        &format!("/api/v1/requests/{request}/verification/document"),
        token,
        &json!({ "document": "id_card" }),
    );
    assert_eq!(status, 200, "{body}");
    let steps = format!("/api/v1/requests/{request}/steps");
    for step in ["submit", "approve"] {
        let (status, body) = server.post(&steps, token, &json!({ "step": step }));
        assert_eq!(status, 200, "{step}: {body}");
    }
    let raw = |path: &str| -> Vec<u8> {
        let req = ureq::http::Request::builder()
            .uri(server.url(path))
            .header("Authorization", format!("Bearer {token}"))
            .body(())
            .unwrap();
        let mut resp = agent().run(req).unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        resp.body_mut()
            .with_config()
            .limit(50 << 20)
            .read_to_vec()
            .unwrap()
    };
    let receipt = raw(&format!(
        "/api/v1/subjects/{student}/consents/{}/receipt?format=html&lang={lang}",
        given["id"].as_str().unwrap()
    ));
    let zip = raw(&format!("/api/v1/requests/{request}/package"));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut report = Vec::new();
    archive
        .by_name("report.html")
        .unwrap()
        .read_to_end(&mut report)
        .unwrap();
    let mut out = Vec::new();
    for (name, html) in [("receipt", receipt), ("report", report)] {
        let path = dir.join(format!("{name}.{lang}.html"));
        std::fs::write(&path, html).unwrap();
        out.push((
            format!("{name}.{lang}"),
            format!("file://{}", path.display()),
        ));
    }
    out
}

/// Every document, in Kazakh and Russian, on a 390-pixel phone and on an A4 sheet in print:
/// no identifier, phone number, date or request id is split between lines, and nothing is
/// wider than the page (wide tables stand as blocks of labelled lines). A screenshot of each
/// is kept for a person to look at.
fn documents_keep_identifiers_whole(b: &Browser, server: &Server) {
    let dir = tempfile::tempdir().unwrap();
    let mut pages = Vec::new();
    for (n, lang) in ["kk", "ru"].into_iter().enumerate() {
        for doc in ["policy", "data-list", "consent-forms", "processing-record"] {
            let path = match doc {
                "policy" => format!("/policy?lang={lang}"),
                _ => format!("/policy/documents/{doc}?lang={lang}"),
            };
            pages.push((format!("{doc}.{lang}"), server.url(&path)));
        }
        pages.extend(private_documents(server, dir.path(), lang, n));
    }
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("documents");
    std::fs::create_dir_all(&shots).unwrap();
    // A phone (this browser); an A4 sheet (210 mm at 96 pixels an inch), printed, in a desktop
    // browser of its own.
    let sheet = Browser::start(&b.tools.0, &b.tools.1, false);
    sheet.print_on_a4();
    for (size, b, width) in [("phone", b, 390), ("a4", &sheet, A4_WIDTH)] {
        for (name, url) in &pages {
            b.go(url);
            std::fs::write(
                shots.join(format!("{name}.{size}.png")),
                b.page_screenshot(),
            )
            .unwrap();
            let r = b.eval(SPLIT_CHECK);
            let at = format!("{name} on {size}");
            assert!(
                r["split"].as_array().unwrap().is_empty(),
                "{at}: split between lines: {}",
                r["split"]
            );
            // Each document states at least a date or an identifier the check can see.
            assert!(!r["seen"].as_array().unwrap().is_empty(), "{at}: {r}");
            assert!(
                r["scroll"].as_f64().unwrap() <= f64::from(width) && r["width"] == width,
                "{at} is wider than the page: {r}"
            );
            assert_eq!(r["width"], width, "{at}: laid out as wide as asked");
        }
    }
    println!(
        "browser: screenshots of every document are in {}",
        shots.display()
    );
}

/// `policy render --format pdf` prints through Chromium: a PDF with a page per sheet, the
/// Kazakh consent forms in it.
fn pdf_through_chromium(chromium: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("forms.pdf");
    let o = run(derbes(dir.path()).env("DERBES_CHROMIUM", chromium).args([
        "policy",
        "render",
        "--document",
        "consent-forms",
        "--lang",
        "kk",
        "--format",
        "pdf",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_ok(&o);
    assert!(text(&o.stderr).contains("printed the kk consent forms"));
    let pdf = std::fs::read(&out).unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    let pages = pdf.windows(10).filter(|w| w == b"/Type /Pag").count();
    assert!(pages >= 2, "the forms fill more than one page: {pages}");
    // Chromium embeds the fonts it drew with: the Kazakh letters came from a real font.
    assert!(
        pdf.windows(b"/FontFile2".len()).any(|w| w == b"/FontFile2"),
        "no embedded font"
    );
}

/// A browser case: it looks at the pages `Server` serves.
type Case = fn(&Browser, &Server);

fn main() -> ExitCode {
    let required = std::env::var("DERBES_TEST_BROWSER").is_ok_and(|v| v == "required");
    let chromium = tool(
        "DERBES_CHROMIUM",
        &[
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ],
    );
    let chromedriver = tool("DERBES_CHROMEDRIVER", &["chromedriver"]);
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
        let why = "Chromium and ChromeDriver were not found (Debian: apt-get install chromium chromium-driver; or set DERBES_CHROMIUM and DERBES_CHROMEDRIVER)";
        if required {
            eprintln!("browser suite: required by DERBES_TEST_BROWSER, but {why}");
            return ExitCode::FAILURE;
        }
        println!("browser suite: NOT RUN: {why}");
        return ExitCode::SUCCESS;
    };
    let cases: [(&str, Case); 3] = [
        (
            "pages_work_without_scripts_on_a_phone",
            pages_work_without_scripts_on_a_phone,
        ),
        ("kazakh_letters_render", kazakh_letters_render),
        (
            "documents_keep_identifiers_whole",
            documents_keep_identifiers_whole,
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &dir.path().join("data"));
    let browser = Browser::start(&chromium, &chromedriver, true);
    for (name, case) in cases {
        case(&browser, &server);
        println!("browser {name} ... ok");
    }
    drop(browser);
    pdf_through_chromium(&chromium);
    println!("browser pdf_through_chromium ... ok");
    ExitCode::SUCCESS
}
