//! `derbes keys rotate` and `derbes keys retire`: key epochs. Data keys are rewrapped under the
//! newest key-encryption key, and older versions are deleted from the key file once no data key
//! and no backup still kept needs them; a copy of the database made before (a backup, old WAL,
//! dead rows) then opens nothing, including what was destroyed since.

use crate::config::Config;
use crate::setup;
use anyhow::{Context, Result};
use std::process::ExitCode;

/// `derbes keys rotate`: a new key version, and every data key rewrapped under it.
pub async fn rotate(config: &Config) -> Result<()> {
    let mut ring = setup::key_ring(&config.key_file, false)?;
    let version = ring.add_kek()?;
    // The new key is on disk before any data key is wrapped under it.
    setup::write_key_file(&config.key_file, &ring, false)?;
    let written = std::time::Instant::now();
    let written_at = std::time::SystemTime::now();
    eprintln!(
        "derbes: added key version {version} to {}",
        config.key_file.display()
    );
    let opened = setup::open(config, false).await?;
    let total = opened.app.subjects.count_subjects().await?;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "rewrapping data keys {bar:40} {pos}/{len} ({per_sec}, {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut n = opened
        .app
        .keys
        .rewrap_all(None, |done| bar.set_position(done))
        .await?;
    bar.finish_and_clear();
    // A server running meanwhile wraps the keys of subjects it creates under the old version
    // until it reads the key file again. Once it surely has, a second pass over the subjects
    // created since shortly before the key was added catches those.
    let settle = derbes_service::KEY_RELOAD_PERIOD + std::time::Duration::from_secs(1);
    if let Some(wait) = settle.checked_sub(written.elapsed()) {
        eprintln!(
            "derbes: waiting {} s for running servers to read key version {version}",
            wait.as_secs_f64().ceil()
        );
        tokio::time::sleep(wait).await;
    }
    let since = written_at
        .checked_sub(std::time::Duration::from_secs(60))
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .unwrap_or_default();
    let after = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        since.as_secs(),
        0,
    ));
    n += opened.app.keys.rewrap_all(Some(after), |_| {}).await?;
    opened.app.keys.record_rotation("cli", n).await?;
    println!("derbes: rewrapped {n} data key(s) under key version {version}; older versions stay in the key file for backups");
    Ok(())
}

/// What `keys retire` decided about one key version.
enum Fate {
    Retired,
    /// Kept, and why.
    Kept(String),
}

/// `derbes keys retire`: rewraps any data key still under an older version, then deletes the
/// versions whose last backup has expired.
pub async fn retire(config: &Config, dry_run: bool) -> Result<ExitCode> {
    let mut ring = setup::key_ring(&config.key_file, false)?;
    let opened = setup::open(config, false).await?;
    let rewrapped = if dry_run {
        0
    } else {
        opened.app.keys.rewrap_all(None, |_| {}).await?
    };
    let live = opened.app.keys.key_versions().await?;
    let now = time::OffsetDateTime::now_utc();
    let retention = time::Duration::days(config.backup_retention_days.into());
    let current = ring.current_version();
    let mut fates = Vec::new();
    let mut changed = false;
    for v in ring.versions().into_iter().filter(|v| *v != current) {
        let wrapped = live.get(&v).copied().unwrap_or(0);
        let superseded = ring.dates(v).superseded.and_then(|s| {
            time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339).ok()
        });
        let fate = match superseded {
            _ if wrapped > 0 => Fate::Kept(format!(
                "{wrapped} data key(s) are still wrapped under it (a server that has not read the key file since the rotation wrapped them); run `derbes keys retire` again in a minute"
            )),
            None => {
                ring.set_superseded(v, derbes_core::audit::format_timestamp(now));
                changed = true;
                Fate::Kept(format!(
                    "the key file did not say since when it is no longer current; counted from now, backups that may need it expire on {}",
                    (now + retention).date()
                ))
            }
            Some(at) if at + retention > now => Fate::Kept(format!(
                "backups taken before {} may need it; it can be retired on {} ([keys] backup_retention_days = {})",
                at.date(),
                (at + retention).date(),
                config.backup_retention_days
            )),
            Some(_) => {
                ring.retire(v)?;
                changed = true;
                Fate::Retired
            }
        };
        fates.push((v, fate));
    }
    let retired: Vec<u32> = fates
        .iter()
        .filter(|(_, f)| matches!(f, Fate::Retired))
        .map(|(v, _)| *v)
        .collect();
    if changed && !dry_run {
        setup::write_key_file(&config.key_file, &ring, false)?;
        opened
            .app
            .keys
            .record_retirement("cli", &retired, rewrapped)
            .await
            .context("the key file was changed, but the audit event was not recorded")?;
    }
    if rewrapped > 0 {
        println!("derbes: rewrapped {rewrapped} data key(s) under key version {current}");
    }
    for (v, fate) in &fates {
        match fate {
            Fate::Retired if dry_run => println!("key version {v}: would be retired"),
            Fate::Retired => println!(
                "key version {v}: retired (deleted from {})",
                config.key_file.display()
            ),
            Fate::Kept(why) => println!("key version {v}: kept: {why}"),
        }
    }
    println!("key version {current}: current");
    if !ring.retired().is_empty() {
        println!(
            "retired before: {}",
            ring.retired()
                .iter()
                .filter(|v| !retired.contains(v))
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
