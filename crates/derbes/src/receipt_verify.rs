//! `derbes receipt verify`: check a downloaded consent receipt offline.

use crate::config::Config;
use crate::setup;
use anyhow::{bail, Context, Result};
use derbes_core::text::Lang;
use derbes_crypto::PublicKey;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The receipt (JSON, as downloaded from …/consents/{id}/receipt)
    file: PathBuf,
    /// The operator's published key set, saved from /.well-known/derbes-receipt-keys.json
    /// [default: the key of this installation's key file]
    #[arg(long)]
    keys: Option<PathBuf>,
    /// Language of the receipt text printed after a successful check: kk, ru or en
    #[arg(long, default_value = "kk")]
    lang: String,
}

/// The keys a receipt may be signed with: the saved key set, or this installation's own key.
fn trusted(config: &Config, args: &VerifyArgs) -> Result<(Vec<PublicKey>, String)> {
    if let Some(path) = &args.keys {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the key set {}", path.display()))?;
        let set: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let keys =
            derbes_service::keys_from_set(&set).with_context(|| format!("{}", path.display()))?;
        if keys.is_empty() {
            bail!("{} lists no Ed25519 key", path.display());
        }
        return Ok((keys, format!("the key set {}", path.display())));
    }
    if !config.key_file.exists() {
        bail!(
            "no key to check the receipt against: save the operator's key set from \
             https://<operator>{} and pass it with --keys",
            derbes_service::RECEIPT_KEYS_PATH
        );
    }
    let ring = setup::key_ring(&config.key_file, false)?;
    let own = ring.receipt_signer().public();
    Ok((
        vec![own],
        format!("the key file {}", config.key_file.display()),
    ))
}

pub fn run(config: &Config, args: &VerifyArgs) -> Result<ExitCode> {
    let lang: Lang = args.lang.parse().map_err(anyhow::Error::msg)?;
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let (keys, source) = trusted(config, args)?;
    match derbes_service::verify_receipt(&text, &keys) {
        Ok(signed) => {
            let r = &signed.receipt;
            println!(
                "{}: valid: receipt {} for consent record {} ({}, {}), signed by key {} from {source}\n",
                args.file.display(),
                r.receipt_id,
                r.consent_record_id,
                r.purpose.key,
                r.event.action,
                signed.signature.key_id,
            );
            print!("{}", r.readable.get(lang));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}: NOT valid: {e}", args.file.display());
            Ok(ExitCode::FAILURE)
        }
    }
}
