//! `derbes policy render`: the privacy policy from the declaration, in one language and format.

use crate::config::Config;
use anyhow::{bail, Context, Result};
use derbes_core::text::Lang;
use derbes_service::Document;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// policy, data-list (the list of personal data, Art. 25), consent-forms (Art. 8(4)) or
    /// processing-record (the record of processing activities)
    #[arg(long, default_value = "policy")]
    pub document: String,
    /// kk, ru or en
    #[arg(long, default_value = "kk")]
    pub lang: String,
    /// html (a page with a print stylesheet), md (Markdown) or pdf (through headless Chromium;
    /// needs --out)
    #[arg(long, default_value = "html")]
    pub format: String,
    /// Write to this file instead of standard output
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn render(config: &Config, args: &RenderArgs) -> Result<ExitCode> {
    let lang: Lang = args
        .lang
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--lang: {e}"))?;
    let doc: Document = args
        .document
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--document: {e}"))?;
    if !matches!(args.format.as_str(), "html" | "md" | "markdown" | "pdf") {
        bail!("--format `{}`: use html, md or pdf", args.format);
    }
    if args.format == "pdf" && args.out.is_none() {
        bail!("--format pdf writes a file: name it with --out FILE");
    }
    let (declaration, _) = crate::setup::declaration(config)?;
    let templates =
        derbes_service::PolicyTemplates::load(config.templates.as_deref(), &declaration)
            .context("a document template cannot be used")?;
    let text = match args.format.as_str() {
        "md" | "markdown" => templates.markdown(doc, &declaration, lang)?,
        _ => templates.html(doc, &declaration, lang)?,
    };
    let what = format!(
        "the {lang} {}, version {},",
        doc.title(Lang::En).to_lowercase(),
        declaration.version
    );
    if let ("pdf", Some(path)) = (args.format.as_str(), &args.out) {
        crate::pdf::print(&text, path)?;
        eprintln!("derbes: printed {what} to {}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    match &args.out {
        Some(path) => {
            std::fs::write(path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("derbes: wrote {what} to {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The earlier declaration file
    pub old: PathBuf,
    /// The later declaration file
    pub new: PathBuf,
    /// kk, ru or en
    #[arg(long, default_value = "kk")]
    pub lang: String,
    /// md (Markdown) or html
    #[arg(long, default_value = "md")]
    pub format: String,
}

fn load(path: &std::path::Path) -> Result<derbes_core::Declaration> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    derbes_core::Declaration::load(&text)
        .map(|l| l.declaration)
        .map_err(|problems| {
            for p in &problems {
                eprintln!("{}:{p}", path.display());
            }
            anyhow::anyhow!(
                "{} has errors; `derbes check` explains each one",
                path.display()
            )
        })
}

/// `derbes policy diff OLD NEW`: what changed, in words, and which purposes need fresh consent.
/// How many subjects' consents it touches is the server's to count, on its ledger
/// (`GET /api/v1/policy/consent-impact`).
pub fn diff(args: &DiffArgs) -> Result<ExitCode> {
    let lang: Lang = args
        .lang
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--lang: {e}"))?;
    let (old, new) = (load(&args.old)?, load(&args.new)?);
    let report = derbes_core::policy_diff::diff(&old, &new, lang);
    let md = derbes_service::changes_markdown(&report, lang);
    match args.format.as_str() {
        "md" | "markdown" => print!("{md}"),
        "html" => print!("{}", derbes_service::markdown_page(lang, &md)),
        other => bail!("--format `{other}`: use md or html"),
    }
    Ok(if report.consent_impact.is_empty() {
        ExitCode::SUCCESS
    } else {
        // Scripts can tell that the change needs fresh consent.
        ExitCode::from(3)
    })
}
