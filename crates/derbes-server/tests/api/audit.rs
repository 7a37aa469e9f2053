//! The audit chain, verified through the API.

use super::*;

pub(super) fn audit_chain_verifies_through_the_api(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let mut ids = Vec::new();
        for iin in [
            "871008401427",
            "760212350620",
            "800416300257",
            "680503450037",
        ] {
            ids.push(s.a_representative(json!({ "iin": iin })).await);
        }
        for id in &ids {
            s.get(
                &format!("/api/v1/subjects/{id}?purpose=education"),
                &s.admin,
            )
            .await;
            s.get(
                &format!("/api/v1/subjects/{id}?purpose=analytics"),
                &s.admin,
            )
            .await;
        }
        let keys = s.state.app.vault.keys();
        let mut v = ChainVerifier::new(0);
        let mut after = 0;
        loop {
            let r = s
                .get(&format!("/api/v1/audit?after={after}&limit=3"), &s.admin)
                .await;
            let events: Vec<derbes_core::audit::AuditEvent> =
                serde_json::from_value(r.body["events"].clone()).unwrap();
            let Some(last) = events.last() else { break };
            after = last.seq;
            for e in &events {
                v.push(e, keys.as_ref()).unwrap();
            }
        }
        // audit.start, token.create (admin), 4 creates, 8 reads
        assert_eq!(v.last_seq(), 14);
    })
}
