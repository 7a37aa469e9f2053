//! Opening what every command needs: the key ring, the declaration, the store, the vault.

use crate::config::{Config, DEMO_DECLARATION};
use anyhow::{bail, Context, Result};
use derbes_core::Declaration;
use derbes_crypto::KeyRing;
use derbes_service::Vault;
use derbes_store::{Store, StoreError};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// Reads the key file, or creates it (mode 0600) when `create` and it does not exist.
pub fn key_ring(path: &Path, create: bool) -> Result<KeyRing> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            warn_if_readable_by_others(path);
            parse_key_file(path, &text)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let ring = KeyRing::generate()?;
            write_key_file(path, &ring, true)?;
            eprintln!("derbes: generated a new key file at {} (mode 0600); back it up separately from the database", path.display());
            Ok(ring)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "the key file {} does not exist; start `derbes serve` once to create it, or pass --key-file",
            path.display()
        ),
        Err(e) => Err(e).with_context(|| format!("cannot read the key file {}", path.display())),
    }
}

fn parse_key_file(path: &Path, text: &str) -> Result<KeyRing> {
    KeyRing::from_file_text(text)
        .with_context(|| format!("cannot use the key file {}", path.display()))
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            if m.permissions().mode() & 0o077 != 0 {
                eprintln!(
                    "derbes: warning: the key file {} can be read by other users; run `chmod 600 {}`",
                    path.display(),
                    path.display()
                );
            }
        }
    }
}

/// Writes the key file with mode 0600: a new file, or atomically replacing the old one.
pub fn write_key_file(path: &Path, ring: &KeyRing, new: bool) -> Result<()> {
    // A directory made for the key file (the data directory, in the demo) is private too.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        derbes_service::files::private_dir(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = path.with_extension("key.tmp");
    let target = if new { path.to_path_buf() } else { tmp.clone() };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    if !new {
        let _ = std::fs::remove_file(&tmp);
    }
    let mut f = opts
        .open(&target)
        .with_context(|| format!("cannot create the key file {}", target.display()))?;
    f.write_all(ring.to_file_text().as_bytes())?;
    f.sync_all()?;
    if !new {
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot replace the key file {}", path.display()))?;
    }
    Ok(())
}

/// The declaration text and where it came from.
pub fn declaration_source(config: &Config) -> Result<(String, String)> {
    match &config.declaration {
        Some(p) => Ok((
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the declaration {}", p.display()))?,
            p.display().to_string(),
        )),
        None => Ok((
            DEMO_DECLARATION.to_owned(),
            "the bundled demo declaration (examples/shoqan-school.toml)".into(),
        )),
    }
}

/// Loads and checks the declaration; prints its problems and fails when it has errors.
pub fn declaration(config: &Config) -> Result<(Declaration, String)> {
    let (text, origin) = declaration_source(config)?;
    match Declaration::load(&text) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{origin}:{w}");
            }
            Ok((loaded.declaration, text))
        }
        Err(problems) => {
            for p in &problems {
                eprintln!("{origin}:{p}");
            }
            bail!("the declaration {origin} has errors; `derbes check` explains each one")
        }
    }
}

pub async fn store(config: &Config, keys: &Arc<KeyRing>) -> Result<Arc<dyn Store>> {
    if config.database_url.is_none() {
        derbes_service::files::private_dir(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                config.data_dir.display()
            )
        })?;
    }
    let store = derbes_store::open(&config.store_url(), Arc::clone(keys) as derbes_store::Keys)
        .await
        .with_context(|| format!("cannot open the store ({})", config.store_description()))?;
    if let derbes_store::ChainStatus::Broken(reason) = store.chain().status() {
        eprintln!(
            "derbes: THE AUDIT CHAIN IS BROKEN: {reason}\n\
             derbes: nothing that must be recorded can be done until this is looked into: \
             `derbes audit verify` names the first bad event; restore the database from a backup, \
             or investigate"
        );
    }
    Ok(store)
}

/// The working-day calendar in `path`, or the bundled Kazakhstan calendar.
pub fn calendar(path: Option<&Path>) -> Result<derbes_core::calendar::Calendar> {
    let Some(path) = path else {
        return Ok(derbes_core::calendar::Calendar::kazakhstan());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the calendar {}", path.display()))?;
    derbes_core::calendar::Calendar::parse(&text)
        .with_context(|| format!("the calendar {} is not valid", path.display()))
}

/// Everything a command that touches subjects needs.
pub struct Opened {
    pub app: Arc<derbes_service::App>,
}

/// Opens key ring, declaration and store, and records the declaration version in the store.
#[allow(
    clippy::too_many_lines,
    reason = "the composition root: every adapter opened and wired into the vault in one place"
)]
pub async fn open(config: &Config, create_keys: bool) -> Result<Opened> {
    let keys = Arc::new(key_ring(&config.key_file, create_keys)?);
    let (declaration, text) = declaration(config)?;
    let store = store(config, &keys).await?;
    let key_file = config.key_file.clone();
    let loader: derbes_service::KeyLoader = Arc::new(move || {
        let text = std::fs::read_to_string(&key_file)
            .map_err(|e| format!("{}: {e}", key_file.display()))?;
        parse_key_file(&key_file, &text).map_err(|e| format!("{e:#}"))
    });
    let calendar = calendar(config.calendar.as_deref())?;
    let mut connectors = Vec::with_capacity(config.connectors.len());
    for path in &config.connectors {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the dataset map {}", path.display()))?;
        let map = derbes_connect::DatasetMap::parse(
            &text,
            |f| declaration.field(f).is_some(),
            |p| declaration.purpose(p).is_some(),
        )
        .map_err(|problems| {
            let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
            anyhow::anyhow!(
                "the dataset map {} is not valid:\n{}",
                path.display(),
                list.join("\n")
            )
        })?;
        connectors.push(
            derbes_connect::SqlConnector::new(map)
                .with_context(|| format!("the dataset map {}", path.display()))?,
        );
    }
    let mut webhooks: Vec<derbes_service::Webhook> = Vec::with_capacity(config.webhooks.len());
    for (i, w) in config.webhooks.iter().enumerate() {
        let place = format!("[[webhooks]] #{} ({})", i + 1, w.name);
        if w.name.trim().is_empty() || webhooks.iter().any(|h| h.name == w.name) {
            bail!("{place}: give each webhook a name of its own");
        }
        if !(w.url.starts_with("https://") || w.url.starts_with("http://")) {
            bail!("{place}: url `{}` is not an http(s):// address", w.url);
        }
        if let Some(f) = w
            .identify_by
            .iter()
            .find(|f| declaration.field(f).is_none())
        {
            bail!("{place}: identify_by names `{f}`, which is not a declared field");
        }
        if w.identify_by.is_empty() {
            bail!("{place}: identify_by is empty; name the declared fields the system finds the subject by (e.g. [\"iin\"])");
        }
        let text = std::fs::read_to_string(&w.secret_file).with_context(|| {
            format!(
                "{place}: cannot read the secret file {}",
                w.secret_file.display()
            )
        })?;
        let secret = derbes_crypto::WebhookSecret::from_text(&text)
            .map_err(|e| anyhow::anyhow!("{place}: {}: {e}", w.secret_file.display()))?;
        webhooks.push(derbes_service::Webhook {
            name: w.name.clone(),
            url: w.url.clone(),
            secret,
            events: w.events.clone().unwrap_or_else(|| {
                vec![
                    derbes_service::WebhookEvent::Access,
                    derbes_service::WebhookEvent::Destruction,
                ]
            }),
            identify_by: w.identify_by.clone(),
        });
    }
    let policy_templates =
        derbes_service::PolicyTemplates::load(config.templates.as_deref(), &declaration)
            .context("a policy template cannot be used")?;
    let templates = derbes_service::AnswerTemplates::load(config.templates.as_deref())
        .context("an answer template cannot be used")?;
    let report_templates = derbes_service::ReportTemplates::load(config.templates.as_deref())
        .context("an access report template cannot be used")?;
    let mailer: Arc<dyn derbes_service::Mailer> = match &config.smtp {
        Some(url) => {
            let password = match &config.smtp_password_file {
                Some(p) => Some(std::fs::read_to_string(p).with_context(|| {
                    format!("cannot read the SMTP password file {}", p.display())
                })?),
                None => None,
            };
            Arc::new(
                derbes_service::Smtp::new(url, password.as_deref(), &config.mail_from)
                    .context("[mail] smtp")?,
            )
        }
        None => Arc::new(derbes_service::Outbox::new(
            &config.outbox,
            config.mail_from.clone(),
        )),
    };
    let vault = Arc::new(
        Vault::new(Arc::new(declaration), keys, store)
            .with_key_loader(loader)
            .with_calendar(calendar)
            .with_mailer(mailer)
            .with_connectors(connectors)
            .with_checkpoint_file(derbes_service::CheckpointFile::new(&config.checkpoint_file)),
    );
    let app = Arc::new(derbes_service::App::new(
        Arc::clone(&vault),
        derbes_service::Settings {
            token_lifetimes: config.token_lifetimes,
            policy_templates,
            destruction_log: Some(derbes_service::DestructionLog::new(&config.destruction_log)),
            requests: derbes_service::RequestSettings {
                four_eyes: config.four_eyes,
                answer_templates: templates,
                report_templates,
                webhooks,
                package_ttl: time::Duration::days(config.package_days.into()),
            },
            sessions: config.sessions,
            retention: derbes_service::RetentionSettings {
                four_eyes: config.retention_four_eyes,
            },
        },
    ));
    // A broken chain takes no declaration record (nor any other write); the server still
    // starts, to report it.
    if vault.chain_broken().is_none() {
        match vault.record_declaration(text).await {
            Ok(_) => {}
            Err(StoreError::DeclarationChanged { version }) => bail!(
                "declaration version `{version}` is already recorded with different content; \
                 give the changed declaration a new `version` (earlier versions stay on record)"
            ),
            Err(e) => return Err(e).context("cannot record the declaration"),
        }
    }
    Ok(Opened { app })
}
