//! HTML to PDF through headless Chromium's print-to-PDF, where the machine has Chromium: the
//! page's own print stylesheet lays it out, with its fonts, so Kazakh letters print as they
//! show on screen.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long Chromium may take to print one document.
const PRINT_TIME: Duration = Duration::from_secs(90);

/// The Chromium to print with: `DERBES_CHROMIUM`, else the first of the usual names on `PATH`.
pub fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("DERBES_CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| {
            [
                "chromium",
                "chromium-browser",
                "google-chrome",
                "google-chrome-stable",
            ]
            .map(|name| dir.join(name))
        })
        .find(|p| p.is_file())
}

/// A directory of our own under the system's temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("derbes-pdf-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&dir)
            .with_context(|| format!("cannot create the directory {}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Prints `html` to the PDF file `out`.
pub fn print(html: &str, out: &Path) -> Result<()> {
    let Some(browser) = chromium() else {
        bail!(
            "--format pdf needs headless Chromium, and none was found (looked for DERBES_CHROMIUM, \
             then chromium, chromium-browser, google-chrome on PATH). Install it (Debian: \
             `apt-get install chromium`) or set DERBES_CHROMIUM to its path; or render \
             --format html and print that page to PDF from any browser"
        );
    };
    let scratch = Scratch::new()?;
    let page = scratch.0.join("document.html");
    std::fs::write(&page, html).with_context(|| format!("cannot write {}", page.display()))?;
    let pdf = scratch.0.join("document.pdf");
    let mut cmd = Command::new(&browser);
    cmd.arg("--headless")
        .arg("--disable-gpu")
        .arg("--no-first-run")
        .arg("--no-pdf-header-footer")
        .arg(format!(
            "--user-data-dir={}",
            scratch.0.join("profile").display()
        ))
        .arg(format!("--print-to-pdf={}", pdf.display()));
    if running_as_root() {
        // Chromium refuses to start its sandbox as root; the page is our own, without scripts.
        cmd.arg("--no-sandbox");
    }
    // Its messages go to a file: a pipe nobody reads while it runs could fill and stop it.
    let log = scratch.0.join("chromium.log");
    let log_file =
        std::fs::File::create(&log).with_context(|| format!("cannot write {}", log.display()))?;
    cmd.arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", browser.display()))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > PRINT_TIME {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{} did not print the document within {} s",
                browser.display(),
                PRINT_TIME.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    let printed = std::fs::read(&pdf).unwrap_or_default();
    if !status.success() || !printed.starts_with(b"%PDF-") {
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        bail!(
            "{} could not print the document ({status}){}",
            browser.display(),
            if tail.is_empty() {
                String::new()
            } else {
                format!(
                    ": {}",
                    tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
                )
            }
        );
    }
    std::fs::write(out, printed).with_context(|| format!("cannot write {}", out.display()))
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
