//! The REST API over real HTTP, against SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

use derbes_core::audit::ChainVerifier;
use derbes_core::identifiers::Sex;
use derbes_core::Declaration;
use derbes_crypto::KeyRing;
use derbes_server::BODY_LIMIT;
use derbes_service::{Clock, Role};
use derbes_store::testing::{run_suite, Case, TestDb};
use serde_json::{json, Value};
use std::process::ExitCode;
use std::sync::Arc;

mod common;
use common::*;

const AIGERIM: &str = r#"{"surname":"Нұрланова","given_name":"Әйгерім","iin":"061211600012","phone":"8 (701) 234-56-78","email":"Aigerim@Mail.KZ","health_info":"аллергия: жаңғақ"}"#;

/// Starts a fixture and binds the fields a case uses, by reference:
/// `fixture!(f = Family::start(&db).await => Family { s, child });`
macro_rules! fixture {
    ($f:ident = $start:expr => $fixture:ident { $($field:ident),* $(,)? }) => {
        let $f = $start;
        let $fixture { $($field,)* .. } = &$f;
    };
}

#[path = "api/audit.rs"]
mod audit;
#[path = "api/batches.rs"]
mod batches;
#[path = "api/connectors.rs"]
mod connectors;
#[path = "api/consents.rs"]
mod consents;
#[path = "api/decisions.rs"]
mod decisions;
#[path = "api/lifecycle.rs"]
mod lifecycle;
#[path = "api/requests.rs"]
mod requests;
#[path = "api/robustness.rs"]
mod robustness;
#[path = "api/subjects.rs"]
mod subjects;
#[path = "api/system.rs"]
mod system;
#[path = "api/tokens.rs"]
mod tokens;

fn problem_codes(r: &Reply) -> Vec<String> {
    r.body["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("no problems in {}", r.body))
        .iter()
        .map(|x| x["code"].as_str().unwrap().to_owned())
        .collect()
}

impl Server {
    /// Files a request as staff, verifies the requester by an identity document, submits it
    /// and has the DPO approve it: the request id and the approval's answer.
    async fn approved_request(&self, staff: &str, dpo: &str, filing: Value) -> (String, Reply) {
        let r = self.post("/api/v1/requests", staff, filing).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        let r = self
            .post(
                &format!("/api/v1/requests/{id}/verification/document"),
                staff,
                json!({ "document": "id_card" }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let steps = format!("/api/v1/requests/{id}/steps");
        let r = self.post(&steps, staff, json!({ "step": "submit" })).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = self.post(&steps, dpo, json!({ "step": "approve" })).await;
        assert_eq!(r.body["status"], "in_progress", "{}", r.body);
        (id, r)
    }
}

/// The files of a zip, by name.
fn unzip(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut files = std::collections::BTreeMap::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut content = Vec::new();
        f.read_to_end(&mut content).unwrap();
        files.insert(f.name().unwrap().into_owned(), content);
    }
    files
}

/// Now, moved on by as many seconds as the returned counter holds.
fn shifted_clock() -> (Arc<std::sync::atomic::AtomicI64>, Clock) {
    let offset = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let reading = Arc::clone(&offset);
    let clock: Clock = Arc::new(move || {
        time::OffsetDateTime::now_utc()
            + time::Duration::seconds(reading.load(std::sync::atomic::Ordering::SeqCst))
    });
    (offset, clock)
}

/// Asserts that action `n` of a request has `status` and a note that begins with `note`.
#[track_caller]
fn assert_action(r: &Reply, n: usize, status: &str, note: &str) {
    let action = &r.body["actions"][n];
    assert_eq!(action["status"], status, "{}", r.body);
    let said = action["note"].as_str().unwrap_or_default();
    assert!(said.starts_with(note), "{}", r.body);
}

/// The cases, each named by its function.
macro_rules! cases {
    ($($module:ident::$case:ident),* $(,)?) => {
        &[$((stringify!($case), $module::$case as Case)),*]
    };
}

fn main() -> ExitCode {
    let cases: &[(&str, Case)] = cases![
        subjects::values_are_sealed_never_in_clear,
        subjects::staff_notes_are_sealed_never_in_clear,
        subjects::notes_an_earlier_derbes_kept_in_clear_are_sealed,
        subjects::invisible_characters_impossible_dates_and_doubled_keys_are_refused,
        system::health_and_documents,
        subjects::create_read_rectify_lookup,
        subjects::purposes_are_enforced,
        tokens::tokens_and_roles,
        robustness::a_body_of_the_wrong_form_is_refused,
        robustness::every_bad_field_is_named_and_no_value_echoed,
        robustness::bad_paths_and_parameters_are_refused,
        robustness::a_duplicate_identifier_names_the_subject_holding_it,
        audit::audit_chain_verifies_through_the_api,
        robustness::random_requests_never_fail_the_server,
        consents::a_minor_cannot_consent_alone_nor_an_unlinked_parent,
        consents::a_linked_parent_consents_and_the_platform_reads,
        consents::a_consent_receipt_verifies_offline,
        consents::an_open_obligation_holds_a_withdrawal_back,
        consents::a_withdrawal_takes_effect_on_the_next_read,
        consents::at_majority_the_child_consents_in_her_own_name,
        consents::a_corrected_birth_date_moves_the_month_of_majority,
        consents::blocks_and_restrictions_stop_reads_until_lifted,
        consents::bad_consent_input_is_refused_and_nothing_is_recorded,
        consents::every_consent_step_is_in_the_audit_trail,
        lifecycle::lifecycle_events_are_recorded_and_retracted,
        lifecycle::wrong_lifecycle_events_are_refused,
        lifecycle::a_field_past_its_retention_is_read_for_no_purpose,
        lifecycle::the_platforms_lifecycle_is_recorded_once,
        lifecycle::the_scan_groups_what_expired_and_holds_what_a_request_keeps,
        lifecycle::a_legal_hold_keeps_expired_data_until_lifted,
        batches::a_batch_needs_two_approvals_on_a_fresh_proposal,
        batches::an_approved_batch_destroys_once_and_again_after_a_restore,
        batches::an_executed_batch_issues_a_signed_act,
        batches::a_depersonalizing_batch_keeps_records_that_name_no_one,
        decisions::a_decision_answers_without_the_values,
        decisions::a_batch_answers_each_question_and_is_audited_as_one,
        decisions::a_withdrawal_shows_in_the_very_next_decision,
        decisions::a_block_by_another_process_is_followed_at_once,
        decisions::malformed_questions_are_refused_naming_the_one_at_fault,
        requests::a_parent_files_only_for_a_linked_child,
        requests::a_duplicate_is_refused_unless_filed_on_purpose,
        requests::a_one_time_code_verifies_the_representative,
        requests::the_dpo_approves_and_completion_waits_for_the_answer,
        requests::a_paper_request_is_checked_by_document_and_withdrawn,
        requests::the_register_lists_requests_by_due_time,
        requests::every_step_is_audited_without_the_requesters_words,
        requests::what_already_holds_is_done_and_says_so,
        requests::an_access_request_needs_a_second_person_to_approve,
        requests::the_access_package_holds_her_data_and_nobody_elses,
        requests::the_access_answer_is_sent_once,
        requests::a_rectification_is_checked_against_evidence,
        requests::a_destruction_waits_for_obligations_and_the_platform,
        requests::a_package_expires_and_is_swept,
        connectors::a_refused_destruction_is_announced_to_nobody,
        connectors::a_destruction_is_sent_again_until_the_system_takes_it,
        connectors::a_request_completes_on_a_signed_confirmation,
        connectors::an_access_done_at_once_is_done,
        connectors::a_refusal_fails_the_action_until_it_is_sent_again,
        connectors::an_unconfirmed_job_is_given_up_and_settled_by_hand,
        connectors::a_silent_system_is_given_up_after_the_last_attempt,
        connectors::a_retention_batch_tells_the_webhook_before_destroying,
        system::the_policy_in_force_is_served_in_the_visitors_language,
        system::every_version_is_listed_and_one_to_come_is_marked,
        system::what_a_new_version_changes_and_whose_consent_it_needs,
        system::the_subjects_to_ask_again_are_those_whose_consent_holds,
        system::the_other_documents_of_any_version_link_to_each_other,
    ];
    run_suite("api", cases)
}
