//! Delivery of messages to requesters (one-time codes, answers): a trait with an outbox
//! directory for development and tests, where each message is an `.eml` file.

use std::path::PathBuf;
use thiserror::Error;

/// A plain-text message.
#[derive(Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl std::fmt::Debug for Mail {
    // Addresses and bodies are personal data (and may hold codes): never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mail { .. }")
    }
}

#[derive(Debug, Error)]
pub enum MailError {
    #[error("the message could not be delivered: {0}")]
    Delivery(String),
}

/// Delivers messages.
pub trait Mailer: Send + Sync {
    /// Delivers `mail`; returns an id of the delivery (the file name, the SMTP queue id).
    fn send(&self, mail: &Mail) -> Result<String, MailError>;
    /// What the channel is, for logs and answers (`outbox /path`, `smtp host`).
    fn describe(&self) -> String;
}

/// Writes each message as an RFC 5322 file into a directory instead of sending it.
pub struct Outbox {
    dir: PathBuf,
    from: String,
}

impl Outbox {
    pub fn new(dir: impl Into<PathBuf>, from: impl Into<String>) -> Self {
        Self {
            dir: dir.into(),
            from: from.into(),
        }
    }
}

/// A header value in RFC 2047 encoded words when it is not plain ASCII.
fn header_text(s: &str) -> String {
    use base64::Engine;
    if s.is_ascii() {
        s.to_owned()
    } else {
        format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
    }
}

/// The message as an RFC 5322 text with a UTF-8 body.
pub fn to_eml(from: &str, mail: &Mail, id: &str, date: time::OffsetDateTime) -> String {
    let date = date
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default();
    let body = mail.body.replace("\r\n", "\n").replace('\n', "\r\n");
    format!(
        "From: {from}\r\nTo: {}\r\nSubject: {}\r\nDate: {date}\r\nMessage-ID: <{id}@derbes>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n",
        mail.to.replace(['\r', '\n'], ""),
        header_text(&mail.subject.replace(['\r', '\n'], " ")),
    )
}

impl Mailer for Outbox {
    fn send(&self, mail: &Mail) -> Result<String, MailError> {
        let id = uuid::Uuid::now_v7().to_string();
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| MailError::Delivery(format!("cannot create the outbox: {e}")))?;
        let text = to_eml(&self.from, mail, &id, time::OffsetDateTime::now_utc());
        let name = format!("{id}.eml");
        // Written under a temporary name and renamed, so a reader never sees half a message.
        let tmp = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, self.dir.join(&name)))
            .map_err(|e| MailError::Delivery(format!("cannot write to the outbox: {e}")))?;
        Ok(name)
    }

    fn describe(&self) -> String {
        format!("outbox {}", self.dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_writes_a_utf8_message_file() {
        let dir = std::env::temp_dir().join(format!("derbes-outbox-{}", uuid::Uuid::now_v7()));
        let outbox = Outbox::new(&dir, "derbes@school.kz");
        let name = outbox
            .send(&Mail {
                to: "ata-ana@example.kz".into(),
                subject: "Растау коды".into(),
                body: "Код: 123456\nҚұрметпен".into(),
            })
            .unwrap();
        let text = std::fs::read_to_string(dir.join(&name)).unwrap();
        assert!(text.contains("To: ata-ana@example.kz\r\n"));
        assert!(text.contains("Subject: =?UTF-8?B?"));
        assert!(text.ends_with("Код: 123456\r\nҚұрметпен\r\n"));
        assert_eq!(
            format!(
                "{:?}",
                Mail {
                    to: "a".into(),
                    subject: "b".into(),
                    body: "c".into()
                }
            ),
            "Mail { .. }"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
