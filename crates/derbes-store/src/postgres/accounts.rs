//! Person accounts and their sessions, on PostgreSQL.

use super::*;
use crate::AccountStore;

fn account_from_row(r: &Row) -> Result<AccountRecord, StoreError> {
    let purposes: String = r.try_get(4)?;
    let failed: i32 = r.try_get(11)?;
    Ok(AccountRecord {
        id: r.try_get(0)?,
        login: r.try_get(1)?,
        display_name: r.try_get(2)?,
        role: r.try_get(3)?,
        purposes: crate::purposes_of(&purposes)?,
        lang: r.try_get(5)?,
        password_hash: r.try_get(6)?,
        must_change_password: r.try_get(7)?,
        totp_required: r.try_get(8)?,
        totp_secret: r.try_get(9)?,
        totp_last_step: r.try_get(10)?,
        failed_sign_ins: u32::try_from(failed).unwrap_or(0),
        locked_until: r.try_get::<_, Option<At>>(12)?.map(|t| t.0),
        created_at: r.try_get::<_, At>(13)?.0,
        disabled_at: r.try_get::<_, Option<At>>(14)?.map(|t| t.0),
        version: r.try_get(15)?,
    })
}

fn session_from_row(r: &Row) -> Result<SessionRecord, StoreError> {
    let stage: String = r.try_get(2)?;
    Ok(SessionRecord {
        digest: r.try_get(0)?,
        account_id: r.try_get(1)?,
        stage: SessionStage::parse(&stage)?,
        created_at: r.try_get::<_, At>(3)?.0,
        last_seen_at: r.try_get::<_, At>(4)?.0,
        expires_at: r.try_get::<_, At>(5)?.0,
        pending_totp: r.try_get(6)?,
    })
}

impl Writer {
    async fn login_taken(&mut self, login: &str) -> Result<bool, StoreError> {
        Ok(self
            .query_opt("SELECT id FROM accounts WHERE login = $1", &[&login])
            .await?
            .is_some())
    }

    async fn put_account(&mut self, a: &AccountRecord, insert: bool) -> Result<(), StoreError> {
        let purposes = purposes_text(&a.purposes)?;
        let failed = i32::try_from(a.failed_sign_ins).unwrap_or(i32::MAX);
        let sql = if insert {
            "INSERT INTO accounts (id, login, display_name, role, purposes, lang, password_hash, must_change_password, totp_required, totp_secret, totp_last_step, failed_sign_ins, locked_until, created_at, disabled_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        } else {
            "UPDATE accounts SET login = $2, display_name = $3, role = $4, purposes = $5, lang = $6, password_hash = $7, must_change_password = $8, totp_required = $9, totp_secret = $10, totp_last_step = $11, failed_sign_ins = $12, locked_until = $13, created_at = $14, disabled_at = $15, version = $16 WHERE id = $1"
        };
        self.execute(
            sql,
            &[
                &a.id,
                &a.login,
                &a.display_name,
                &a.role,
                &purposes,
                &a.lang,
                &a.password_hash,
                &a.must_change_password,
                &a.totp_required,
                &a.totp_secret,
                &a.totp_last_step,
                &failed,
                &a.locked_until.map(At),
                &At(a.created_at),
                &a.disabled_at.map(At),
                &a.version,
            ],
        )
        .await?;
        Ok(())
    }

    pub(super) async fn write_account(&mut self, w: AccountWrite) -> Result<Applied, StoreError> {
        match &w.account {
            None => {}
            Some(AccountChange::Create(a)) => {
                if self.login_taken(&a.login).await? {
                    return Err(StoreError::LoginTaken);
                }
                self.put_account(a, true).await?;
            }
            Some(AccountChange::Update(a)) => {
                let row = self
                    .query_opt(
                        "SELECT version, login FROM accounts WHERE id = $1 FOR UPDATE",
                        &[&a.id],
                    )
                    .await?
                    .ok_or(StoreError::NotFound)?;
                let (version, login): (i64, String) = (row.try_get(0)?, row.try_get(1)?);
                if version != a.version - 1 {
                    return Err(StoreError::VersionConflict);
                }
                if login != a.login && self.login_taken(&a.login).await? {
                    return Err(StoreError::LoginTaken);
                }
                self.put_account(a, false).await?;
            }
        }
        match &w.end_sessions {
            EndSessions::None => {}
            EndSessions::One(digest) => {
                self.execute("DELETE FROM sessions WHERE digest = $1", &[digest])
                    .await?;
            }
            EndSessions::AllOf(account) => {
                self.execute("DELETE FROM sessions WHERE account_id = $1", &[account])
                    .await?;
            }
        }
        if let Some(s) = &w.start_session {
            // A new session clears the account's sessions that ran out.
            self.execute(
                "DELETE FROM sessions WHERE account_id = $1 AND expires_at <= $2",
                &[&s.account_id, &At(s.created_at)],
            )
            .await?;
            self.execute(
                "INSERT INTO sessions (digest, account_id, stage, created_at, last_seen_at, expires_at, pending_totp) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &s.digest,
                    &s.account_id,
                    &s.stage.as_str(),
                    &At(s.created_at),
                    &At(s.last_seen_at),
                    &At(s.expires_at),
                    &s.pending_totp,
                ],
            )
            .await?;
        }
        for audit in w.audit {
            self.append(audit);
        }
        Ok(Applied::AccountWritten)
    }

    pub(super) async fn sessions_seen(
        &mut self,
        seen: Vec<(String, OffsetDateTime)>,
    ) -> Result<Applied, StoreError> {
        let (digests, times): (Vec<String>, Vec<String>) = seen
            .into_iter()
            .map(|(digest, at)| (digest, crate::times::text(at)))
            .unzip();
        self.execute("UPDATE sessions s SET last_seen_at = u.at FROM unnest($1::text[], $2::text[]) AS u(digest, at)
                 WHERE s.digest = u.digest AND s.last_seen_at < u.at", &[&digests, &times]).await?;
        Ok(Applied::SessionsSeen)
    }
}

#[async_trait]
impl AccountStore for PostgresStore {
    async fn account(&self, id: Uuid) -> Result<Option<AccountRecord>, StoreError> {
        self.row(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"),
            &[&id],
        )
        .await?
        .as_ref()
        .map(account_from_row)
        .transpose()
    }

    async fn account_by_login(&self, login: &str) -> Result<Option<AccountRecord>, StoreError> {
        self.row(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE login = $1"),
            &[&login],
        )
        .await?
        .as_ref()
        .map(account_from_row)
        .transpose()
    }

    async fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        self.rows(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY created_at, id"),
            &[],
        )
        .await?
        .iter()
        .map(account_from_row)
        .collect()
    }

    async fn session(&self, digest: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.row(
            &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE digest = $1"),
            &[&digest],
        )
        .await?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }
}
