//! Tokens and roles.

use super::*;

pub(super) fn tokens_and_roles(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let r = s
            .call(
                "POST",
                "/api/v1/subjects",
                None,
                Some(Body::Json(json!({}))),
            )
            .await;
        assert_problem(&r, 401, "unauthorized");
        let r = s.get("/api/v1/audit", "dbs_not-a-real-token").await;
        assert_problem(&r, 401, "unauthorized");
        let auditor = s.token(Role::Auditor, &[]).await;
        let id = s
            .create_student_id(&s.admin, json!({ "iin": "061211600012" }))
            .await;
        assert_problem(
            &s.get(
                &format!("/api/v1/subjects/{id}?purpose=education"),
                &auditor,
            )
            .await,
            403,
            "forbidden",
        );
        assert_eq!(s.get("/api/v1/audit", &auditor).await.status, 200);
        // Staff may write only the fields of their purposes.
        let staff = s.token(Role::Staff, &["education"]).await;
        let r = s
            .create_student(&staff, json!({ "iin": "760212350620", "health_info": "x" }))
            .await;
        assert_problem(&r, 403, "forbidden");
        assert!(r.body["detail"].as_str().unwrap().contains("health_info"));
        assert_eq!(s.store.count_subjects().await.unwrap(), 1);
        assert_eq!(
            s.create_student(
                &staff,
                json!({ "iin": "760212350620", "surname": "Оспанов" })
            )
            .await
            .status,
            201
        );
        // Only admins create tokens; the new token works at once.
        let r = s
            .post(
                "/api/v1/tokens",
                &staff,
                json!({ "name": "x", "role": "admin" }),
            )
            .await;
        assert_problem(&r, 403, "forbidden");
        let r = s
            .post(
                "/api/v1/tokens",
                &s.admin,
                json!({ "name": "journal", "role": "integration", "purposes": ["education"] }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let journal = r.body["token"].as_str().unwrap().to_owned();
        assert_eq!(
            s.get(
                &format!("/api/v1/subjects/{id}?purpose=education"),
                &journal
            )
            .await
            .status,
            200
        );
        let r = s
            .post(
                "/api/v1/tokens",
                &s.admin,
                json!({ "name": "x", "role": "staff" }),
            )
            .await;
        assert_problem(&r, 422, "validation");
        let r = s
            .post(
                "/api/v1/tokens",
                &s.admin,
                json!({ "name": "x", "role": "root" }),
            )
            .await;
        assert_problem(&r, 422, "validation");
    })
}
