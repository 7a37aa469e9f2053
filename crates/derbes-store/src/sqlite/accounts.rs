//! Person accounts and their sessions, on SQLite.

use super::*;
use crate::AccountStore;

fn account_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<AccountRecord, StoreError>> {
    let id: String = r.get(0)?;
    let purposes: String = r.get(4)?;
    let failed: i64 = r.get(11)?;
    let record = (|| {
        Ok(AccountRecord {
            id: id
                .parse()
                .map_err(|_| StoreError::Corrupt("an account's id is not a UUID".into()))?,
            login: r.get(1)?,
            display_name: r.get(2)?,
            role: r.get(3)?,
            purposes: crate::purposes_of(&purposes)?,
            lang: r.get(5)?,
            password_hash: r.get(6)?,
            must_change_password: r.get(7)?,
            totp_required: r.get(8)?,
            totp_secret: r.get(9)?,
            totp_last_step: r.get(10)?,
            failed_sign_ins: u32::try_from(failed).unwrap_or(u32::MAX),
            locked_until: r.get::<_, Option<At>>(12)?.map(|t| t.0),
            created_at: r.get::<_, At>(13)?.0,
            disabled_at: r.get::<_, Option<At>>(14)?.map(|t| t.0),
            version: r.get(15)?,
        })
    })();
    Ok(record)
}

fn account_where(
    conn: &Connection,
    condition: &str,
    param: &str,
) -> Result<Option<AccountRecord>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {condition}"
    ))?
    .query_row([param], account_of)
    .optional()?
    .transpose()
}

fn session_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<SessionRecord, StoreError>> {
    let account: String = r.get(1)?;
    let stage: String = r.get(2)?;
    let (created_at, last_seen_at, expires_at): (At, At, At) = (r.get(3)?, r.get(4)?, r.get(5)?);
    let pending_totp: Option<Vec<u8>> = r.get(6)?;
    let digest: String = r.get(0)?;
    Ok((|| {
        Ok(SessionRecord {
            digest,
            account_id: account
                .parse()
                .map_err(|_| StoreError::Corrupt("a session's account is not a UUID".into()))?,
            stage: SessionStage::parse(&stage)?,
            created_at: created_at.0,
            last_seen_at: last_seen_at.0,
            expires_at: expires_at.0,
            pending_totp,
        })
    })())
}

fn put_account(conn: &Connection, a: &AccountRecord, insert: bool) -> Result<(), StoreError> {
    let sql = if insert {
        format!("INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)")
    } else {
        "UPDATE accounts SET login = ?2, display_name = ?3, role = ?4, purposes = ?5, lang = ?6, password_hash = ?7, must_change_password = ?8, totp_required = ?9, totp_secret = ?10, totp_last_step = ?11, failed_sign_ins = ?12, locked_until = ?13, created_at = ?14, disabled_at = ?15, version = ?16 WHERE id = ?1".to_owned()
    };
    conn.prepare_cached(&sql)?.execute(params![
        a.id.to_string(),
        a.login,
        a.display_name,
        a.role,
        purposes_text(&a.purposes)?,
        a.lang,
        a.password_hash,
        a.must_change_password,
        a.totp_required,
        a.totp_secret,
        a.totp_last_step,
        i64::from(a.failed_sign_ins),
        a.locked_until.map(At),
        At(a.created_at),
        a.disabled_at.map(At),
        a.version
    ])?;
    Ok(())
}

pub(super) fn write(tx: &mut Tx<'_>, w: AccountWrite) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    match &w.account {
        None => {}
        Some(AccountChange::Create(a)) => {
            if account_where(conn, "login = ?1", &a.login)?.is_some() {
                return Err(StoreError::LoginTaken);
            }
            put_account(conn, a, true)?;
        }
        Some(AccountChange::Update(a)) => {
            let now =
                account_where(conn, "id = ?1", &a.id.to_string())?.ok_or(StoreError::NotFound)?;
            if now.version != a.version - 1 {
                return Err(StoreError::VersionConflict);
            }
            if now.login != a.login && account_where(conn, "login = ?1", &a.login)?.is_some() {
                return Err(StoreError::LoginTaken);
            }
            put_account(conn, a, false)?;
        }
    }
    match &w.end_sessions {
        EndSessions::None => {}
        EndSessions::One(digest) => {
            conn.prepare_cached("DELETE FROM sessions WHERE digest = ?1")?
                .execute([digest])?;
        }
        EndSessions::AllOf(account) => {
            conn.prepare_cached("DELETE FROM sessions WHERE account_id = ?1")?
                .execute([account.to_string()])?;
        }
    }
    if let Some(s) = &w.start_session {
        // A new session clears the account's sessions that ran out.
        conn.prepare_cached("DELETE FROM sessions WHERE account_id = ?1 AND expires_at <= ?2")?
            .execute(params![s.account_id.to_string(), At(s.created_at)])?;
        conn.prepare_cached(&format!(
            "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        ))?
        .execute(params![
            s.digest,
            s.account_id.to_string(),
            s.stage.as_str(),
            At(s.created_at),
            At(s.last_seen_at),
            At(s.expires_at),
            s.pending_totp
        ])?;
    }
    for audit in w.audit {
        tx.append(audit)?;
    }
    Ok(Applied::AccountWritten)
}

pub(super) fn sessions_seen(
    tx: &mut Tx<'_>,
    seen: Vec<(String, OffsetDateTime)>,
) -> Result<Applied, StoreError> {
    let mut stmt = tx.conn.prepare_cached(
        "UPDATE sessions SET last_seen_at = ?2 WHERE digest = ?1 AND last_seen_at < ?2",
    )?;
    for (digest, at) in seen {
        stmt.execute(params![digest, At(at)])?;
    }
    Ok(Applied::SessionsSeen)
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn account(&self, id: Uuid) -> Result<Option<AccountRecord>, StoreError> {
        self.read(move |c| account_where(c, "id = ?1", &id.to_string()))
            .await
    }

    async fn account_by_login(&self, login: &str) -> Result<Option<AccountRecord>, StoreError> {
        let login = login.to_owned();
        self.read(move |c| account_where(c, "login = ?1", &login))
            .await
    }

    async fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([], account_of)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn session(&self, digest: &str) -> Result<Option<SessionRecord>, StoreError> {
        let digest = digest.to_owned();
        self.read_now(move |c| {
            c.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE digest = ?1"
            ))?
            .query_row([digest], session_of)
            .optional()?
            .transpose()
        })
    }
}
