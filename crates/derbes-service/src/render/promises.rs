//! The behavioural promises of the rendered documents, and what keeps each one.
//!
//! A sentence of a template that promises a behaviour ("the data are blocked for the time the
//! check takes", "the log shows any change") carries `{{ promise("id") }}`, which renders as
//! nothing and names an entry here. An entry is kept either by derbes, and then names the tests
//! that prove it, or by the operator, and then the sentence is worded as the operator's own
//! measure ("the operator ensures…"), never as something that happens by itself; `until` names
//! the coming capability that will let derbes keep it, and the sentence is reworded when it
//! lands. `docs/promises.md` is this table, and a test keeps it so.

/// One behavioural promise.
#[derive(Debug, Clone, Copy)]
pub struct Promise {
    /// What templates write in `promise("…")`.
    pub id: &'static str,
    /// What the documents promise, in a sentence.
    pub says: &'static str,
    pub kept_by: KeptBy,
}

/// Who keeps a promise.
#[derive(Debug, Clone, Copy)]
pub enum KeptBy {
    /// derbes does it, proven by these tests (`<file>::<test function>`, from the workspace).
    Derbes {
        how: &'static str,
        tests: &'static [&'static str],
    },
    /// The operator's own measure, which the documents word as such. `until`: the capability
    /// of derbes that is to keep it, where one is coming.
    Operator { until: Option<&'static str> },
}

/// Every promise the shipped templates make.
pub const PROMISES: &[Promise] = &[
    Promise {
        id: "data.only-declared",
        says: "Only the personal data in the declared list are collected, and each only for the purposes that name it.",
        kept_by: KeptBy::Derbes {
            how: "The vault refuses a field the declaration does not name for the subject's category, and every read and write goes through a purpose that covers the field.",
            tests: &[
                "crates/derbes-server/tests/api/subjects.rs::purposes_are_enforced",
                "crates/derbes-core/src/decision.rs::writes_and_reach_go_through_a_covering_purpose",
            ],
        },
    },
    Promise {
        id: "storage.territory",
        says: "The databases holding personal data are kept in the declared country.",
        kept_by: KeptBy::Operator { until: None },
    },
    Promise {
        id: "vault.encrypted",
        says: "The values of personal data are stored encrypted.",
        kept_by: KeptBy::Derbes {
            how: "Every value is sealed (XChaCha20-Poly1305) under a per-subject data key before it reaches the database; identifiers are looked up by a keyed blind index.",
            tests: &[
                "crates/derbes-server/tests/api/subjects.rs::values_are_sealed_never_in_clear",
                "crates/derbes-crypto/src/sealing.rs::sealed_values_are_bound_to_subject_field_and_generation",
            ],
        },
    },
    Promise {
        id: "keys.apart",
        says: "The encryption keys are kept apart from the data.",
        kept_by: KeptBy::Derbes {
            how: "The key file is separate from the database and a subject's key is wrapped by it; destroying a subject's key leaves nothing readable in the database files.",
            tests: &[
                "crates/derbes-store/tests/conformance.rs::a_destroyed_key_is_gone_from_the_live_files",
                "crates/derbes-crypto/src/keyring.rs::wrapped_key_is_bound_to_subject_and_version",
            ],
        },
    },
    Promise {
        id: "access.by-purpose",
        says: "Access to personal data is limited by the purpose of processing.",
        kept_by: KeptBy::Derbes {
            how: "A staff token or account reads only the fields of its own purposes, and a consent-based purpose only while a consent holds.",
            tests: &[
                "crates/derbes-server/tests/api/subjects.rs::purposes_are_enforced",
                "crates/derbes-core/src/decision.rs::consent_purposes_are_denied_without_consent",
            ],
        },
    },
    Promise {
        id: "audit.tamper-evident",
        says: "Every operation is recorded in a log, and any change to the log is detected.",
        kept_by: KeptBy::Derbes {
            how: "The audit trail is a keyed hash chain with signed checkpoints: an edited, removed, reordered or truncated event makes `derbes audit verify` fail, and writers stop on a broken chain.",
            tests: &[
                "crates/derbes/tests/audit_chain.rs::audit_verify_detects_edits_removals_reorders_and_truncation",
                "crates/derbes/tests/audit_chain.rs::a_rewritten_chain_is_refused_by_every_writer_and_reported",
            ],
        },
    },
    Promise {
        id: "security.operator-measures",
        says: "Antivirus protection and firewalls, guarded premises, backups, staff training and confidentiality undertakings.",
        kept_by: KeptBy::Operator { until: None },
    },
    Promise {
        id: "retention.at-end",
        says: "When a retention period ends or the purpose is achieved, the data are destroyed or depersonalized.",
        kept_by: KeptBy::Derbes {
            how: "The daily retention job proposes, rule by rule, the data whose last retention period has ended (apart from what a legal hold or an open request keeps); once the DPO approves a batch, derbes executes it: it destroys the data (crypto-shredding of a subject with nothing left, deletion of expired fields), or keeps of each subject a record naming no one with only what the rule keeps (a year, a region, a value, a pseudonym whose key is destroyed) before destroying the data; the connected systems are told, and an act is issued for the commission to sign.",
            tests: &[
                "crates/derbes-server/tests/api/batches.rs::an_approved_batch_destroys_once_and_again_after_a_restore",
                "crates/derbes-server/tests/api/batches.rs::a_depersonalizing_batch_keeps_records_that_name_no_one",
            ],
        },
    },
    Promise {
        id: "retention.reads-stop",
        says: "From the day after the last retention period of personal data ends, the information system gives them out for no purpose.",
        kept_by: KeptBy::Derbes {
            how: "Every read and decision checks each field asked against the last day of the retention holds of the purposes that keep it (from the subject's lifecycle, collection days and consents) and refuses it with retention_ended once that day has passed; asked for every field, it leaves such fields out.",
            tests: &[
                "crates/derbes-core/src/retention.rs::a_field_past_every_period_is_read_for_no_purpose",
                "crates/derbes-server/tests/api/lifecycle.rs::a_field_past_its_retention_is_read_for_no_purpose",
            ],
        },
    },
    Promise {
        id: "requests.destruction",
        says: "At the subject's request, personal data are destroyed, unless the law provides otherwise.",
        kept_by: KeptBy::Derbes {
            how: "A destruction request, once verified and approved, shreds the subject's key and values, tells the connected systems, and waits for an open obligation.",
            tests: &[
                "crates/derbes-server/tests/api/requests.rs::a_destruction_waits_for_obligations_and_the_platform",
                "crates/derbes/tests/cli/destruction.rs::a_destruction_is_applied_again_after_a_restore_from_backup",
            ],
        },
    },
    Promise {
        id: "transfers.within-purposes",
        says: "Personal data are given to the declared recipients only within the purposes they were collected for.",
        kept_by: KeptBy::Operator {
            until: Some("the register of transfers"),
        },
    },
    Promise {
        id: "transfers.no-sale",
        says: "Personal data are not sold or exchanged, and are given to others only with written consent or as the law provides.",
        kept_by: KeptBy::Operator { until: None },
    },
    Promise {
        id: "access.machine-readable",
        says: "The copy of the data given on an access request is also machine-readable (JSON and CSV).",
        kept_by: KeptBy::Derbes {
            how: "The access package holds data.json and CSV files beside the readable report.",
            tests: &["crates/derbes-server/tests/api/requests.rs::the_access_package_holds_her_data_and_nobody_elses"],
        },
    },
    Promise {
        id: "requests.deadlines",
        says: "Requests are answered within the legal terms, counted from the day after receipt.",
        kept_by: KeptBy::Derbes {
            how: "Each request's due date is computed on the working-day calendar when it is filed, and the register lists requests by due date.",
            tests: &[
                "crates/derbes-server/tests/api/requests.rs::the_register_lists_requests_by_due_time",
                "crates/derbes-core/src/deadline.rs::working_day_terms_end_on_a_working_day_with_exactly_n_counted",
                "crates/derbes-core/src/deadline.rs::calendar_terms_never_end_early_or_on_a_day_off",
            ],
        },
    },
    Promise {
        id: "requests.identity",
        says: "Before a request is acted on, the requester's identity (and a representative's authority) is confirmed.",
        kept_by: KeptBy::Derbes {
            how: "No request completes before its identity verification (a one-time code or a checked document), and a representative files only for a linked child.",
            tests: &[
                "crates/derbes-core/src/request.rs::no_completion_without_verification_and_no_step_after_closing",
                "crates/derbes-server/tests/api/requests.rs::a_parent_files_only_for_a_linked_child",
            ],
        },
    },
    Promise {
        id: "requests.blocking",
        says: "Data reported inaccurate or unlawfully processed are blocked for the time the check takes.",
        kept_by: KeptBy::Derbes {
            how: "A block stops every read for every purpose at once until it is lifted.",
            tests: &[
                "crates/derbes-server/tests/api/consents.rs::blocks_and_restrictions_stop_reads_until_lifted",
                "crates/derbes-core/src/consent.rs::blocking_and_restriction_stop_every_basis",
            ],
        },
    },
    Promise {
        id: "requests.rights",
        says: "The subject may ask for data to be corrected, blocked or destroyed, and may withdraw consent.",
        kept_by: KeptBy::Derbes {
            how: "Rectification, blocking, destruction and withdrawal are request kinds with their own checks and actions.",
            tests: &[
                "crates/derbes-server/tests/api/requests.rs::a_rectification_is_checked_against_evidence",
                "crates/derbes-server/tests/api/requests.rs::a_destruction_waits_for_obligations_and_the_platform",
            ],
        },
    },
    Promise {
        id: "consent.withdrawal",
        says: "A consent can be withdrawn, and the withdrawal takes effect at once.",
        kept_by: KeptBy::Derbes {
            how: "A withdrawal is recorded in the consent ledger and the very next decision denies.",
            tests: &[
                "crates/derbes-server/tests/api/consents.rs::a_withdrawal_takes_effect_on_the_next_read",
                "crates/derbes-core/src/consent.rs::a_withdrawal_wins_over_earlier_consents",
            ],
        },
    },
    Promise {
        id: "consent.obligation",
        says: "A consent cannot be withdrawn while an obligation it serves is unfulfilled.",
        kept_by: KeptBy::Derbes {
            how: "A withdrawal is refused while an obligation on that purpose is open.",
            tests: &[
                "crates/derbes-server/tests/api/consents.rs::an_open_obligation_holds_a_withdrawal_back",
                "crates/derbes-core/src/consent.rs::an_open_obligation_keeps_a_consent_from_being_withdrawn",
            ],
        },
    },
    Promise {
        id: "consent.publication",
        says: "Data are published in public sources only with the subject's consent to that.",
        kept_by: KeptBy::Derbes {
            how: "Publication is part of a consent's terms: a consent given to terms without publication does not cover a purpose that publishes.",
            tests: &["crates/derbes-core/src/consent.rs::a_consent_without_publication_does_not_cover_a_purpose_that_publishes"],
        },
    },
    Promise {
        id: "consent.terms-hash",
        says: "The consent terms a form shows are identified by their hash, which the receipt carries.",
        kept_by: KeptBy::Derbes {
            how: "A consent is recorded against the hash of its purpose's terms, and its signed receipt carries that hash.",
            tests: &[
                "crates/derbes-core/src/receipt.rs::a_receipt_states_every_art_8_4_element_in_each_language",
                "crates/derbes-server/tests/api/consents.rs::a_consent_receipt_verifies_offline",
            ],
        },
    },
    Promise {
        id: "minors.representative",
        says: "Consent for a minor is given by a legal representative whose authority is shown.",
        kept_by: KeptBy::Derbes {
            how: "A minor's own consent is refused; only a linked representative consents for the child.",
            tests: &[
                "crates/derbes-server/tests/api/consents.rs::a_minor_cannot_consent_alone_nor_an_unlinked_parent",
                "crates/derbes-core/src/consent.rs::only_a_linked_representative_may_act",
            ],
        },
    },
    Promise {
        id: "minors.coming-of-age",
        says: "At majority, the consents a representative gave for a minor stop holding or are offered to the subject to confirm, as declared; only the month and year of majority are kept in the clear for it.",
        kept_by: KeptBy::Derbes {
            how: "From the day the subject comes of age, a consent a representative gave or renewed is flagged for confirmation or stops holding when a representative acted for the purpose while the subject was a minor (one given only for an adult stays as it was); from the month before the month of majority it is on the console's Today until the subject's own decision is recorded. Only that month is kept in the clear.",
            tests: &[
                "crates/derbes-core/src/consent.rs::a_representatives_consent_for_an_adult_is_not_to_be_confirmed",
                "crates/derbes-core/src/consent.rs::a_parents_consent_renewed_after_majority_is_still_to_be_confirmed",
                "crates/derbes-server/tests/api/consents.rs::at_majority_the_child_consents_in_her_own_name",
                "crates/derbes-core/src/consent.rs::coming_of_age_flags_or_stops_a_representatives_consent",
                "crates/derbes-server/tests/console/today.rs::consents_to_confirm_at_majority_are_on_today",
                "crates/derbes-core/src/consent.rs::the_month_of_majority_is_when_the_subject_comes_of_age",
            ],
        },
    },
    Promise {
        id: "incidents.notice",
        says: "The authorized body is notified of unauthorized access within the legal term, and the subjects as the Law provides.",
        kept_by: KeptBy::Operator {
            until: Some("the register of incidents and their notice clock"),
        },
    },
    Promise {
        id: "cookies.consent",
        says: "Optional cookies are set only with the visitor's consent, which can be changed at any time.",
        kept_by: KeptBy::Operator {
            until: Some("the website's cookie banner"),
        },
    },
    Promise {
        id: "policy.versions",
        says: "Each version of the policy is published with its effective date, and earlier versions remain available.",
        kept_by: KeptBy::Derbes {
            how: "derbes publishes every recorded version under /policy, with the one in force and those to come marked.",
            tests: &[
                "crates/derbes-server/tests/api/system.rs::every_version_is_listed_and_one_to_come_is_marked",
                "crates/derbes-service/src/policy.rs::the_version_in_force_is_the_latest_that_has_taken_effect",
            ],
        },
    },
    Promise {
        id: "policy.fresh-consent",
        says: "A change that widens the terms of a consent-based processing needs a new consent.",
        kept_by: KeptBy::Derbes {
            how: "A consent covers only the terms it was given to: a new field, recipient, transfer abroad or publication is not covered until consent is given again. The change report names the same gaps (one comparison) and counts the holding consents they leave uncovered.",
            tests: &[
                "crates/derbes-core/src/consent.rs::a_wider_purpose_does_not_stretch_an_old_consent",
                "crates/derbes-core/src/consent.rs::a_consent_without_publication_does_not_cover_a_purpose_that_publishes",
                "crates/derbes-core/src/policy_diff.rs::the_report_and_enforcement_agree",
                "crates/derbes-server/tests/api/system.rs::what_a_new_version_changes_and_whose_consent_it_needs",
                "crates/derbes-server/tests/api/system.rs::the_subjects_to_ask_again_are_those_whose_consent_holds",
            ],
        },
    },
    Promise {
        id: "package.until",
        says: "The copy of the data given on an access request can be downloaded until a stated date, then it is deleted.",
        kept_by: KeptBy::Derbes {
            how: "A package expires on its date and the sweep job deletes it.",
            tests: &["crates/derbes-server/tests/api/requests.rs::a_package_expires_and_is_swept"],
        },
    },
    Promise {
        id: "receipt.signed",
        says: "A consent receipt is signed, and anyone can check the signature offline.",
        kept_by: KeptBy::Derbes {
            how: "Receipts are signed with Ed25519; `derbes receipt verify` checks a downloaded receipt against the published keys.",
            tests: &[
                "crates/derbes/tests/cli/receipts.rs::receipt_verify_checks_a_downloaded_receipt_offline",
                "crates/derbes-server/tests/api/consents.rs::a_consent_receipt_verifies_offline",
            ],
        },
    },
];

/// The promise named `id`.
pub fn promise(id: &str) -> Option<&'static Promise> {
    PROMISES.iter().find(|p| p.id == id)
}

/// The ids of the `promise("…")` marks in a template's text, as written.
pub fn marks(template: &str) -> impl Iterator<Item = &str> {
    template
        .split("promise(\"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(id, _)| id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_each_keeper_is_named() {
        let mut ids: Vec<&str> = PROMISES.iter().map(|p| p.id).collect();
        ids.sort_unstable();
        let count = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), count, "a promise id is used twice");
        for p in PROMISES {
            if let KeptBy::Derbes { tests, .. } = p.kept_by {
                assert!(!tests.is_empty(), "{} names no test", p.id);
                for t in tests {
                    assert!(t.contains(".rs::"), "{}: {t} is not <file>::<test>", p.id);
                }
            }
        }
    }
}
