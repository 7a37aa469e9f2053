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

    /// Removes what the channel keeps of messages older than `older_than` (an outbox's files);
    /// returns how many.
    fn sweep(&self, _older_than: std::time::Duration) -> usize {
        0
    }
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
        crate::files::private_dir(&self.dir)
            .map_err(|e| MailError::Delivery(format!("cannot create the outbox: {e}")))?;
        let text = to_eml(&self.from, mail, &id, time::OffsetDateTime::now_utc());
        let name = format!("{id}.eml");
        // Written under a temporary name and renamed, so a reader never sees half a message;
        // only derbes's user can read it.
        let tmp = self.dir.join(format!(".{name}.tmp"));
        crate::files::write_private(&tmp, text.as_bytes())
            .and_then(|_| std::fs::rename(&tmp, self.dir.join(&name)))
            .map_err(|e| MailError::Delivery(format!("cannot write to the outbox: {e}")))?;
        Ok(name)
    }

    fn sweep(&self, older_than: std::time::Duration) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let now = std::time::SystemTime::now();
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".eml"))
            .filter(|e| {
                e.metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| now.duration_since(t).ok())
                    .is_some_and(|age| age > older_than)
            })
            .filter(|e| std::fs::remove_file(e.path()).is_ok())
            .count()
    }

    fn describe(&self) -> String {
        format!("outbox {}", self.dir.display())
    }
}

/// Sends each message through an SMTP server (`smtp://host:587?tls=required` for STARTTLS,
/// `smtps://host:465` for TLS from the start, `smtp://host:25` unencrypted, for a relay on the
/// same host only).
pub struct Smtp {
    transport: lettre::SmtpTransport,
    from: lettre::message::Mailbox,
    host: String,
}

impl Smtp {
    /// A mailer for `url`, with `password` when the URL names a user but not the password (kept
    /// out of the configuration file).
    pub fn new(url: &str, password: Option<&str>, from: &str) -> Result<Self, MailError> {
        let parsed = lettre::transport::smtp::SmtpTransport::from_url(url).map_err(|e| {
            MailError::Delivery(format!(
                "the SMTP address is not valid ({e}); write smtp://user@host:587?tls=required or smtps://user@host:465"
            ))
        })?;
        let host = url
            .rsplit('@')
            .next()
            .unwrap_or(url)
            .trim_start_matches("smtps://")
            .trim_start_matches("smtp://")
            .split(['/', '?'])
            .next()
            .unwrap_or("")
            .to_owned();
        let mut builder = parsed.timeout(Some(std::time::Duration::from_secs(20)));
        if let Some(p) = password {
            let user = url
                .split_once("://")
                .and_then(|(_, rest)| rest.split_once('@'))
                .map(|(userinfo, _)| userinfo.split(':').next().unwrap_or("").to_owned())
                .filter(|u| !u.is_empty())
                .ok_or_else(|| {
                    MailError::Delivery(
                        "a password file is given but the SMTP address names no user; write smtp://user@host".into(),
                    )
                })?;
            let user = percent_decode(&user);
            builder =
                builder.credentials(lettre::transport::smtp::authentication::Credentials::new(
                    user,
                    p.trim().to_owned(),
                ));
        }
        let from = from.parse().map_err(|_| {
            MailError::Delivery(format!("[mail] from `{from}` is not an e-mail address"))
        })?;
        Ok(Smtp {
            transport: builder.build(),
            from,
            host,
        })
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Mailer for Smtp {
    fn send(&self, mail: &Mail) -> Result<String, MailError> {
        use lettre::Transport;
        let to = mail.to.parse().map_err(|_| {
            MailError::Delivery("the address on file is not a deliverable e-mail address".into())
        })?;
        let message = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.replace(['\r', '\n'], " "))
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| MailError::Delivery(format!("the message cannot be built: {e}")))?;
        // The server's reply names codes and queue ids; lettre's errors never quote the message.
        // Only the reply code: a server's refusal text often quotes the recipient.
        let reply = self.transport.send(&message).map_err(|e| {
            let what = match e.status() {
                Some(code) => format!("refused with code {code}"),
                None if e.is_timeout() => "timed out".to_owned(),
                None => "connection, TLS or protocol error".to_owned(),
            };
            MailError::Delivery(format!("SMTP at {}: {what}", self.host))
        })?;
        let code = reply.code().to_string();
        let queued = reply
            .message()
            .next()
            .unwrap_or("")
            .chars()
            .take(80)
            .collect::<String>();
        Ok(format!("smtp {code} {queued}").trim_end().to_owned())
    }

    fn describe(&self) -> String {
        format!("smtp {}", self.host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-message SMTP server on loopback: records the dialogue and the DATA.
    fn fake_smtp(reject_rcpt: bool) -> (u16, std::thread::JoinHandle<(Vec<String>, String)>) {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut out = stream.try_clone().unwrap();
            let mut lines = BufReader::new(stream);
            let mut commands = Vec::new();
            let mut data = String::new();
            out.write_all(b"220 mail.school.kz ESMTP\r\n").unwrap();
            loop {
                let mut line = String::new();
                if lines.read_line(&mut line).unwrap() == 0 {
                    break;
                }
                let cmd = line.trim_end().to_owned();
                let upper = cmd.to_ascii_uppercase();
                commands.push(cmd.clone());
                let reply: &[u8] = if upper.starts_with("EHLO") {
                    b"250-mail.school.kz\r\n250 8BITMIME\r\n"
                } else if upper.starts_with("RCPT") && reject_rcpt {
                    b"550 5.1.1 mailbox unavailable\r\n"
                } else if upper.starts_with("DATA") {
                    out.write_all(b"354 go on\r\n").unwrap();
                    loop {
                        let mut l = String::new();
                        lines.read_line(&mut l).unwrap();
                        if l == ".\r\n" {
                            break;
                        }
                        data.push_str(&l);
                    }
                    b"250 2.0.0 Ok: queued as 4F2A1\r\n"
                } else if upper.starts_with("QUIT") {
                    out.write_all(b"221 bye\r\n").unwrap();
                    break;
                } else {
                    b"250 ok\r\n"
                };
                out.write_all(reply).unwrap();
            }
            (commands, data)
        });
        (port, handle)
    }

    #[test]
    fn smtp_delivers_the_message_and_reports_the_queue_id() {
        let (port, server) = fake_smtp(false);
        let smtp = Smtp::new(&format!("smtp://127.0.0.1:{port}"), None, "dpo@school.kz").unwrap();
        let mail = Mail {
            to: "ata@mail.kz".into(),
            subject: "Растау коды".into(),
            body: "Код: 123456\n".into(),
        };
        let delivery = smtp.send(&mail).unwrap();
        assert_eq!(delivery, "smtp 250 2.0.0 Ok: queued as 4F2A1");
        let (commands, data) = server.join().unwrap();
        assert!(commands
            .iter()
            .any(|c| c.contains("<dpo@school.kz>") && c.starts_with("MAIL")));
        assert!(commands
            .iter()
            .any(|c| c.contains("<ata@mail.kz>") && c.starts_with("RCPT")));
        assert!(data.contains("Subject: =?utf-8?"), "{data}");
        assert_eq!(smtp.describe(), format!("smtp 127.0.0.1:{port}"));
    }

    #[test]
    fn a_refusal_is_an_error_without_the_address() {
        let (port, server) = fake_smtp(true);
        let smtp = Smtp::new(&format!("smtp://127.0.0.1:{port}"), None, "dpo@school.kz").unwrap();
        let mail = Mail {
            to: "ata@mail.kz".into(),
            subject: "x".into(),
            body: "y".into(),
        };
        let e = smtp.send(&mail).unwrap_err().to_string();
        assert!(e.contains("550") && !e.contains("ata@mail.kz"), "{e}");
        drop(server);
        assert!(Smtp::new("ftp://x", None, "dpo@school.kz").is_err());
        assert!(Smtp::new("smtp://127.0.0.1:25", None, "not an address").is_err());
        assert!(Smtp::new("smtp://127.0.0.1:25", Some("pw"), "dpo@school.kz").is_err());
        assert_eq!(percent_decode("dpo%40school.kz"), "dpo@school.kz");
        assert_eq!(percent_decode("a%4"), "a%4");
        assert_eq!(percent_decode("%Ә1"), "%Ә1");
    }

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
