//! Consent receipts checked offline (`derbes receipt verify`).

use super::*;

#[test]
fn receipt_verify_checks_a_downloaded_receipt_offline() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let data = cwd.join("data");
    let (receipt, keys) = {
        let s = Server::start(cwd, &data);
        let token = s.token.clone().unwrap();
        let iin = student_iins(1).remove(0);
        let student = create_student(&s, &token, 1, "Нұрланқызы", &iin);
        // Born in 2006, the student is of age and consents in their own name.
        let (status, event) = s.post(
            &format!("/api/v1/subjects/{student}/consents"),
            &token,
            &json!({ "purpose": "extracurricular", "action": "give", "method": { "kind": "web" } }),
        );
        assert_eq!(status, 201, "{event}");
        let id = event["id"].as_str().unwrap();
        let (status, receipt) = s.get(
            &format!("/api/v1/subjects/{student}/consents/{id}/receipt"),
            &token,
        );
        assert_eq!(status, 200, "{receipt}");
        let (status, keys) = http(
            "GET",
            &s.url("/.well-known/derbes-receipt-keys.json"),
            None,
            None,
        );
        assert_eq!(status, 200, "{keys}");
        (receipt, keys)
    };
    // The file as a browser saves it; its layout does not matter to the signature.
    std::fs::write(
        cwd.join("receipt.json"),
        serde_json::to_string_pretty(&receipt).unwrap(),
    )
    .unwrap();
    std::fs::write(cwd.join("keys.json"), keys.to_string()).unwrap();
    let verify_receipt = |file: &str, extra: &[&str]| {
        derbes_at(cwd, &data, &[&["receipt", "verify", file], extra].concat())
    };

    // Against the published key set, and against the installation's own key file.
    let o = verify_receipt("receipt.json", &["--keys", "keys.json", "--lang", "ru"]);
    assert_ok(&o);
    let out = text(&o.stdout);
    assert!(out.contains("receipt.json: valid: receipt"), "{out}");
    assert!(
        out.contains("Квитанция о согласии на сбор и обработку персональных данных"),
        "{out}"
    );
    assert!(
        !out.contains(&student_iins(1)[0]),
        "the IIN is in the receipt: {out}"
    );
    let o = verify_receipt("receipt.json", &[]);
    assert_ok(&o);
    assert_stdout_has(&o, "Дербес деректер тізбесі");

    // A changed receipt fails, naming why.
    let mut forged = receipt.clone();
    forged["receipt"]["terms"]["publication"] = json!(true);
    std::fs::write(cwd.join("forged.json"), forged.to_string()).unwrap();
    let o = verify_receipt("forged.json", &["--keys", "keys.json"]);
    assert_failed_with(&o, "forged.json: NOT valid: the signature is not valid");

    // Another installation's key is not the operator's.
    let other = cwd.join("other");
    let o = derbes_at(cwd, &other, &["receipt", "verify", "receipt.json"]);
    assert_failed_with(&o, "pass it with --keys");
    drop(Server::start(cwd, &other));
    let o = derbes_at(cwd, &other, &["receipt", "verify", "receipt.json"]);
    assert_failed_with(&o, "not among the operator's published keys");
}
