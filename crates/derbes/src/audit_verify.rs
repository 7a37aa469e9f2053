//! `derbes audit verify`: walk the whole chain and check its signed head.

use crate::config::Config;
use crate::setup;
use anyhow::Result;
use derbes_core::audit::{ChainBreak, ChainVerifier};
use std::process::ExitCode;
use std::sync::Arc;

pub async fn run(config: &Config) -> Result<ExitCode> {
    let keys = Arc::new(setup::key_ring(&config.key_file, false)?);
    let store = setup::store(config, &keys).await?;
    let mut verifier = ChainVerifier::default();
    let mut after = 0;
    loop {
        let page = store.audit_page(after, 5000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in &page {
            if let Err(b) = verifier.push(e) {
                return Ok(broken(&b, verifier.count()));
            }
        }
    }
    let head = store.audit_head().await?;
    let count = verifier.count();
    let head_break = match &head {
        None => Some(ChainBreak::HeadMismatch),
        Some(h) if h.seq != count => Some(ChainBreak::Head {
            last: count,
            head: h.seq,
        }),
        Some(h)
            if h.hash != verifier.last_hash()
                || !keys.verify_audit_head(h.seq, &h.hash, &h.mac) =>
        {
            Some(ChainBreak::HeadMismatch)
        }
        Some(_) => None,
    };
    if let Some(b) = head_break {
        return Ok(broken(&b, count));
    }
    println!("audit chain intact: {count} event(s), head signed and matching");
    Ok(ExitCode::SUCCESS)
}

fn broken(b: &ChainBreak, verified: i64) -> ExitCode {
    eprintln!("audit chain BROKEN: {b}");
    eprintln!(
        "the {verified} event(s) before it verify; everything from there on cannot be trusted"
    );
    ExitCode::FAILURE
}
