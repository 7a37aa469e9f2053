//! What derbes sends out of itself: mail (SMTP, or an outbox of files) and the webhook
//! connectors' messages.

pub(crate) mod mail;
pub(crate) mod webhook;
