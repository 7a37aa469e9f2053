//! Configuration: built-in defaults, overlaid by `derbes.toml`, overlaid by `DERBES_*`
//! environment variables, overlaid by command-line flags. Unknown keys are errors.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The bundled demo declaration (Shoqan Ualikhanov school, 2025 policy).
pub const DEMO_DECLARATION: &str = include_str!("../../../examples/shoqan-school.toml");

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    declaration: Option<PathBuf>,
    key_file: Option<PathBuf>,
    calendar: Option<PathBuf>,
    /// The destruction log, kept apart from the database and its backups.
    destruction_log: Option<PathBuf>,
    /// A directory of templates replacing the shipped ones: `answer.<lang>.txt` (written
    /// answers), `policy.<lang>.md` (the privacy policy) and the other documents,
    /// `access-report.<lang>.md` (the access package's report).
    templates: Option<PathBuf>,
    /// Dataset maps of the operator's own databases (SQL connectors).
    #[serde(default)]
    connectors: Vec<PathBuf>,
    #[serde(default)]
    webhooks: Vec<WebhookConfig>,
    #[serde(default)]
    mail: MailConfig,
    #[serde(default)]
    requests: RequestsConfig,
    #[serde(default)]
    retention: RetentionConfig,
    #[serde(default)]
    audit: AuditConfig,
    #[serde(default)]
    keys: KeysConfig,
    #[serde(default)]
    tokens: TokensConfig,
    #[serde(default)]
    limits: LimitsConfig,
    #[serde(default)]
    console: ConsoleConfig,
}

/// `[console]`: the people's console and its sessions.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsoleConfig {
    /// Session cookies only over HTTPS (default); `false` only behind plain HTTP on a trusted
    /// network.
    secure_cookies: Option<bool>,
    /// Minutes without activity that end a session (default 30).
    idle_minutes: Option<u32>,
    /// Hours a session lasts whatever the activity (default 12).
    absolute_hours: Option<u32>,
    /// An address of its own for the console (e.g. on an internal network); then the API's
    /// address does not serve it.
    listen: Option<String>,
}

/// `[limits]`: what keeps slow or abusive clients from stopping the server.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsConfig {
    header_read_seconds: Option<u64>,
    body_read_seconds: Option<u64>,
    max_connections: Option<usize>,
    connections_per_address: Option<usize>,
    shutdown_seconds: Option<u64>,
    /// Requests per second per token to the API's routes (0: unlimited), and the burst above.
    token_requests_per_second: Option<u32>,
    token_burst: Option<u32>,
    /// The same per client address.
    address_requests_per_second: Option<u32>,
    address_burst: Option<u32>,
}

/// `[tokens]`: how long API tokens live unless their creator says otherwise (0: they do not
/// expire).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensConfig {
    integration_days: Option<u32>,
    person_days: Option<u32>,
}

/// `[keys]`: key epochs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysConfig {
    /// How many days the oldest backup of the database is kept: a key version is retired that
    /// long after it stopped being current.
    backup_retention_days: Option<u32>,
}

/// `[audit]`: where the audit chain's checkpoints are kept outside the database.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditConfig {
    /// The file checkpoints are appended to; keep it outside the data directory (and its
    /// backups), on another disk or machine if you can.
    checkpoint_file: Option<PathBuf>,
    /// Seconds between checkpoints while events are written.
    checkpoint_interval: Option<u64>,
    /// Days the database keeps audit events; older ones move to signed segments in
    /// `archive_dir`. None: every event stays in the database.
    keep_days: Option<u32>,
    /// Where archived segments are written (beside the data directory by default).
    archive_dir: Option<PathBuf>,
}

/// `[[webhooks]]`: a system of the operator told of access and destruction requests.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub name: String,
    pub url: String,
    /// A file holding the shared secret (at least 32 bytes).
    pub secret_file: PathBuf,
    /// `access`, `destruction`, or both (the default).
    pub events: Option<Vec<derbes_service::WebhookEvent>>,
    /// The declared fields sent to identify the subject.
    pub identify_by: Vec<String>,
}

/// `[requests]`: how data-subject requests are handled.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestsConfig {
    /// Days an access package is kept before it is deleted.
    package_days: Option<u32>,
    /// Approval needs a second person: whoever submitted a request for approval cannot approve
    /// it.
    four_eyes: Option<bool>,
}

/// `[retention]`: how retention batches are approved.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionConfig {
    /// A batch needs the approvals of two different people.
    four_eyes: Option<bool>,
}

/// `[mail]`: where messages to requesters (one-time codes, answers) go.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MailConfig {
    /// A directory that receives each message as an `.eml` file.
    outbox: Option<PathBuf>,
    from: Option<String>,
    /// An SMTP server to send through instead of the outbox.
    smtp: Option<String>,
    /// A file holding the SMTP password, kept out of this file.
    smtp_password_file: Option<PathBuf>,
    /// Days an outbox keeps a message before it is deleted.
    outbox_days: Option<u32>,
}

/// Settings that flags can give.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct Overrides {
    /// Configuration file [default: ./derbes.toml when it exists]
    #[arg(long, global = true, env = "DERBES_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the embedded database and the generated key file [default: ./derbes-data]
    #[arg(long, global = true, env = "DERBES_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// postgres://user@host/db for PostgreSQL; default: SQLite in the data directory
    #[arg(long, global = true, env = "DERBES_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Declaration file [default: the bundled demo declaration]
    #[arg(long, global = true, env = "DERBES_DECLARATION")]
    pub declaration: Option<PathBuf>,
    /// Key file [default: <data dir>/derbes.key, generated on first start]
    #[arg(long, global = true, env = "DERBES_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, global = true, env = "DERBES_LISTEN")]
    pub listen: Option<String>,
    /// Working-day calendar file [default: the bundled Kazakhstan calendar]
    #[arg(long, global = true, env = "DERBES_CALENDAR")]
    pub calendar: Option<PathBuf>,
}

const KNOWN_ENV: [&str; 8] = [
    "DERBES_CALENDAR",
    // The Chromium that `policy render --format pdf` prints with.
    "DERBES_CHROMIUM",
    "DERBES_CONFIG",
    "DERBES_DATA_DIR",
    "DERBES_DATABASE_URL",
    "DERBES_DECLARATION",
    "DERBES_KEY_FILE",
    "DERBES_LISTEN",
];

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub declaration: Option<PathBuf>,
    pub key_file: PathBuf,
    pub calendar: Option<PathBuf>,
    /// Where messages to requesters are written.
    pub outbox: PathBuf,
    pub mail_from: String,
    pub smtp: Option<String>,
    pub smtp_password_file: Option<PathBuf>,
    pub outbox_days: u32,
    pub destruction_log: PathBuf,
    pub templates: Option<PathBuf>,
    pub connectors: Vec<PathBuf>,
    pub webhooks: Vec<WebhookConfig>,
    pub package_days: u32,
    pub four_eyes: bool,
    /// `[retention] four_eyes`: a retention batch needs two people's approvals.
    pub retention_four_eyes: bool,
    pub checkpoint_file: PathBuf,
    pub checkpoint_interval: std::time::Duration,
    /// Days the database keeps audit events before they are archived (None: never).
    pub audit_keep_days: Option<u32>,
    pub audit_archive_dir: PathBuf,
    pub backup_retention_days: u32,
    pub token_lifetimes: derbes_service::TokenLifetimes,
    pub limits: derbes_server::Limits,
    pub console: derbes_server::ConsoleOptions,
    /// The console's own address, if it has one.
    pub console_listen: Option<String>,
    pub sessions: derbes_service::SessionLimits,
}

impl Config {
    #[allow(
        clippy::too_many_lines,
        reason = "one resolution per configuration key, file then environment then flag"
    )]
    pub fn resolve(o: &Overrides) -> Result<Self> {
        for (k, _) in std::env::vars_os().filter_map(|(k, v)| k.into_string().ok().map(|k| (k, v)))
        {
            if k.starts_with("DERBES_")
                && !k.starts_with("DERBES_TEST_")
                && !KNOWN_ENV.contains(&k.as_str())
            {
                bail!(
                    "unknown environment variable {k}; derbes reads {}",
                    KNOWN_ENV.join(", ")
                );
            }
        }
        let file_path = match &o.config {
            Some(p) => Some(p.clone()),
            None => Some(PathBuf::from("derbes.toml")).filter(|p| p.exists()),
        };
        let file = match &file_path {
            Some(p) => read_file_config(p)?,
            None => FileConfig::default(),
        };
        // Relative paths in the file are relative to the file.
        let base = file_path
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let rel = |p: PathBuf| if p.is_relative() { base.join(p) } else { p };
        let data_dir = o
            .data_dir
            .clone()
            .or(file.data_dir.map(rel))
            .unwrap_or_else(|| PathBuf::from("derbes-data"));
        let key_file = o
            .key_file
            .clone()
            .or(file.key_file.map(rel))
            .unwrap_or_else(|| data_dir.join("derbes.key"));
        Ok(Self {
            listen: o
                .listen
                .clone()
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:8080".into()),
            database_url: o
                .database_url
                .clone()
                .or(file.database_url)
                .filter(|s| !s.is_empty()),
            declaration: o.declaration.clone().or(file.declaration.map(rel)),
            calendar: o.calendar.clone().or(file.calendar.map(rel)),
            outbox: file
                .mail
                .outbox
                .map(rel)
                .unwrap_or_else(|| data_dir.join("outbox")),
            mail_from: file.mail.from.unwrap_or_else(|| "derbes@localhost".into()),
            smtp: file.mail.smtp.filter(|s| !s.is_empty()),
            smtp_password_file: file.mail.smtp_password_file.map(rel),
            outbox_days: match file.mail.outbox_days {
                None => 7,
                Some(d @ 1..=366) => d,
                Some(d) => bail!("[mail] outbox_days = {d}: give from 1 to 366 days for how long the outbox keeps a message"),
            },
            destruction_log: file
                .destruction_log
                .map(rel)
                .unwrap_or_else(|| data_dir.join("destructions.log")),
            templates: file.templates.map(rel),
            connectors: file.connectors.into_iter().map(rel).collect(),
            webhooks: file
                .webhooks
                .into_iter()
                .map(|w| WebhookConfig {
                    secret_file: rel(w.secret_file),
                    ..w
                })
                .collect(),
            package_days: match file.requests.package_days {
                None => derbes_service::DEFAULT_PACKAGE_DAYS,
                Some(d @ 1..=366) => d,
                Some(d) => bail!(
                    "[requests] package_days = {d}: give from 1 to 366 days for how long access packages are kept"
                ),
            },
            four_eyes: file.requests.four_eyes.unwrap_or(false),
            retention_four_eyes: file.retention.four_eyes.unwrap_or(false),
            checkpoint_file: file
                .audit
                .checkpoint_file
                .map(rel)
                .unwrap_or_else(|| default_checkpoint_file(&data_dir)),
            checkpoint_interval: match file.audit.checkpoint_interval {
                None => std::time::Duration::from_secs(300),
                Some(s @ 10..=86_400) => std::time::Duration::from_secs(s),
                Some(s) => bail!(
                    "[audit] checkpoint_interval = {s}: give from 10 to 86400 seconds between checkpoints of the audit chain"
                ),
            },
            audit_keep_days: match file.audit.keep_days {
                None => None,
                Some(d @ 1..=36_600) => Some(d),
                Some(d) => bail!(
                    "[audit] keep_days = {d}: give from 1 to 36600 days for how long the database keeps audit events before they are archived (leave it out to keep them all)"
                ),
            },
            audit_archive_dir: file
                .audit
                .archive_dir
                .map(rel)
                .unwrap_or_else(|| beside(&data_dir, ".audit-archive")),
            backup_retention_days: match file.keys.backup_retention_days {
                None => 35,
                Some(d @ 0..=3660) => d,
                Some(d) => bail!(
                    "[keys] backup_retention_days = {d}: give from 0 to 3660 days, how long the oldest backup of the database is kept"
                ),
            },
            token_lifetimes: derbes_service::TokenLifetimes {
                integration_days: token_days("integration_days", file.tokens.integration_days, Some(365))?,
                person_days: token_days("person_days", file.tokens.person_days, None)?,
            },
            limits: limits(&file.limits)?,
            console: derbes_server::ConsoleOptions {
                secure_cookies: file.console.secure_cookies.unwrap_or(true),
                own_listener: file.console.listen.is_some(),
            },
            console_listen: file.console.listen.clone(),
            sessions: sessions(&file.console)?,
            data_dir,
            key_file,
        })
    }

    /// The store URL: PostgreSQL when configured, else the SQLite file in the data directory.
    pub fn store_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => self.data_dir.join("derbes.db").display().to_string(),
        }
    }

    /// Where the store's data lives, for messages (no credentials).
    pub fn store_description(&self) -> String {
        match &self.database_url {
            Some(u) => {
                let host = u.split('@').next_back().unwrap_or("");
                format!("PostgreSQL at {host}")
            }
            None => format!("SQLite at {}", self.data_dir.join("derbes.db").display()),
        }
    }
}

/// The listener's limits from `[limits]`, each within its bounds.
fn sessions(c: &ConsoleConfig) -> Result<derbes_service::SessionLimits> {
    let d = derbes_service::SessionLimits::default();
    let idle = match c.idle_minutes {
        None => d.idle,
        Some(m @ 5..=480) => time::Duration::minutes(m.into()),
        Some(m) => bail!("[console] idle_minutes = {m}: give from 5 to 480 minutes without activity that end a console session"),
    };
    let absolute = match c.absolute_hours {
        None => d.absolute,
        Some(h @ 1..=24) => time::Duration::hours(h.into()),
        Some(h) => bail!("[console] absolute_hours = {h}: give from 1 to 24 hours that a console session lasts at most"),
    };
    Ok(derbes_service::SessionLimits { idle, absolute })
}

fn limits(l: &LimitsConfig) -> Result<derbes_server::Limits> {
    let d = derbes_server::Limits::default();
    let within = |key: &str,
                  v: Option<u64>,
                  default: u64,
                  range: std::ops::RangeInclusive<u64>|
     -> Result<u64> {
        match v {
            None => Ok(default),
            Some(v) if range.contains(&v) => Ok(v),
            Some(v) => bail!(
                "[limits] {key} = {v}: give from {} to {}",
                range.start(),
                range.end()
            ),
        }
    };
    let seconds = |key: &str, v: Option<u64>, default: std::time::Duration| {
        within(key, v, default.as_secs(), 1..=3600).map(std::time::Duration::from_secs)
    };
    let rate = |key: &str,
                per_second: Option<u32>,
                burst: Option<u32>,
                default: (u32, u32)|
     -> Result<Option<derbes_server::Rate>> {
        let p = within(
            key,
            per_second.map(u64::from),
            u64::from(default.0),
            0..=1_000_000,
        )?;
        let b = within(
            &key.replace("requests_per_second", "burst"),
            burst.map(u64::from),
            u64::from(default.1),
            1..=10_000_000,
        )?;
        Ok((p > 0).then(|| derbes_server::Rate {
            per_second: u32::try_from(p).unwrap_or(u32::MAX),
            burst: u32::try_from(b).unwrap_or(u32::MAX),
        }))
    };
    let count = |key: &str, v: Option<usize>, default: usize| {
        within(key, v.map(|v| v as u64), default as u64, 1..=100_000).map(|v| v as usize)
    };
    Ok(derbes_server::Limits {
        header_read: seconds("header_read_seconds", l.header_read_seconds, d.header_read)?,
        body_read: seconds("body_read_seconds", l.body_read_seconds, d.body_read)?,
        max_connections: count("max_connections", l.max_connections, d.max_connections)?,
        connections_per_address: count(
            "connections_per_address",
            l.connections_per_address,
            d.connections_per_address,
        )?,
        shutdown: seconds("shutdown_seconds", l.shutdown_seconds, d.shutdown)?,
        per_token: rate(
            "token_requests_per_second",
            l.token_requests_per_second,
            l.token_burst,
            (100, 1000),
        )?,
        per_address: rate(
            "address_requests_per_second",
            l.address_requests_per_second,
            l.address_burst,
            (200, 2000),
        )?,
    })
}

/// A token lifetime from `[tokens]`: 0 means none.
fn token_days(key: &str, given: Option<u32>, default: Option<u32>) -> Result<Option<u32>> {
    match given {
        None => Ok(default),
        Some(0) => Ok(None),
        Some(d) if d <= derbes_service::MAX_TOKEN_DAYS => Ok(Some(d)),
        Some(d) => bail!(
            "[tokens] {key} = {d}: give from 1 to {} days, or 0 for tokens that do not expire",
            derbes_service::MAX_TOKEN_DAYS
        ),
    }
}

/// Beside the data directory, not in it: `./derbes-data` keeps its checkpoints in
/// `./derbes-data.checkpoints`.
fn default_checkpoint_file(data_dir: &Path) -> PathBuf {
    beside(data_dir, ".checkpoints")
}

/// `./derbes-data` with `suffix` added to its name: beside the data directory.
fn beside(data_dir: &Path, suffix: &str) -> PathBuf {
    let mut name = data_dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "derbes".into());
    name.push(suffix);
    data_dir.with_file_name(name)
}

fn read_file_config(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    toml_edit::de::from_str(&text).map_err(|e| {
        let (line, col) = e
            .span()
            .map(|s| {
                let before = &text[..s.start.min(text.len())];
                (before.matches('\n').count() + 1, before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1)
            })
            .unwrap_or((1, 1));
        anyhow::anyhow!(
            "{}:{line}:{col}: {} (known keys: listen, data_dir, database_url, declaration, key_file, calendar, destruction_log, templates, connectors, [[webhooks]], [mail] outbox, from, smtp, smtp_password_file and outbox_days, [requests] package_days and four_eyes, [retention] four_eyes, [audit] checkpoint_file, checkpoint_interval, keep_days and archive_dir, [keys] backup_retention_days, [tokens] integration_days and person_days, [limits] header_read_seconds, body_read_seconds, max_connections, connections_per_address, shutdown_seconds, token_requests_per_second, token_burst, address_requests_per_second and address_burst, [console] listen, secure_cookies, idle_minutes and absolute_hours)",
            path.display(),
            e.message().trim()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_in_the_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("derbes.toml");
        std::fs::write(&p, "listen = \"127.0.0.1:1\"\nlisten_port = 5\n").unwrap();
        let e = read_file_config(&p).unwrap_err().to_string();
        assert!(e.contains(":2:1:") && e.contains("unknown field"), "{e}");
    }

    #[test]
    fn request_settings_have_defaults_and_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("derbes.toml");
        let resolve = |text: &str| {
            std::fs::write(&p, text).unwrap();
            Config::resolve(&Overrides {
                config: Some(p.clone()),
                ..Default::default()
            })
        };
        let c = resolve("data_dir = \"d\"\n").unwrap();
        assert_eq!((c.package_days, c.four_eyes), (30, false));
        assert_eq!(
            c.destruction_log,
            dir.path().join("d").join("destructions.log")
        );
        let c = resolve("destruction_log = \"/srv/log/destructions.log\"\n[requests]\npackage_days = 7\nfour_eyes = true\n").unwrap();
        assert_eq!((c.package_days, c.four_eyes), (7, true));
        assert_eq!(
            c.destruction_log,
            PathBuf::from("/srv/log/destructions.log")
        );
        let e = resolve("[requests]\npackage_days = 0\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("package_days = 0: give from 1 to 366 days"),
            "{e}"
        );
    }

    #[test]
    fn file_paths_are_relative_to_the_file_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("derbes.toml");
        std::fs::write(&p, "data_dir = \"data\"\nlisten = \"127.0.0.1:9\"\n").unwrap();
        let o = Overrides {
            config: Some(p),
            listen: Some("127.0.0.1:10".into()),
            ..Default::default()
        };
        let c = Config::resolve(&o).unwrap();
        assert_eq!(c.data_dir, dir.path().join("data"));
        assert_eq!(c.key_file, dir.path().join("data").join("derbes.key"));
        assert_eq!(c.listen, "127.0.0.1:10");
        assert_eq!(c.checkpoint_file, dir.path().join("data.checkpoints"));
        assert!(c.store_url().ends_with("derbes.db"));
    }
}
