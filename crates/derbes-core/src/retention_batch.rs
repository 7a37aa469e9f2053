//! A retention batch: what one retention rule destroys or depersonalizes, subject by subject,
//! as proposed to the DPO and approved, and how a proposal changed since it was made. Pure:
//! the caller brings each subject's last days ([`crate::retention::last_days`]).

use crate::declaration::{Declaration, RetentionAction};
use crate::expiry::Tally;
use crate::retention::{FieldLast, Until};
use crate::text::{tr, Lang};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// What one subject loses under a batch's rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItem {
    pub subject_id: Uuid,
    pub category: String,
    /// The fields whose retention ended under the rule, by key, sorted.
    pub fields: Vec<String>,
    /// Nothing of the subject is kept any longer: the whole subject goes.
    pub whole: bool,
}

/// What subject `subject_id` of `category` loses under `rule` today: the fields whose latest
/// hold ended under `rule` before `today`. `None` when it loses nothing. It goes whole when
/// nothing of it is kept any longer and every field is either this item's or destroyed at its
/// end (destroying the whole subject would take what another rule keeps depersonalized; what
/// this rule keeps is written out before the subject goes).
pub fn item_of(
    declaration: &Declaration,
    subject_id: Uuid,
    category: &str,
    lasts: &[FieldLast<'_>],
    rule: &str,
    today: Date,
) -> Option<BatchItem> {
    let ended = |l: &FieldLast<'_>| matches!(l.until, Some(Until::Day(last)) if last < today);
    let mut fields: Vec<String> = lasts
        .iter()
        .filter(|l| ended(l) && l.rule == Some(rule))
        .map(|l| l.field.to_owned())
        .collect();
    if fields.is_empty() {
        return None;
    }
    fields.sort();
    // Every field has ended, or no purpose keeps it at all (the same as the scan's count).
    let destroys = |l: &FieldLast<'_>| {
        l.rule == Some(rule)
            || l.rule
                .and_then(|r| declaration.retention.get(r))
                .is_none_or(|r| r.action == RetentionAction::Destroy)
    };
    let whole = lasts
        .iter()
        .all(|l| (l.until.is_none() || ended(l)) && destroys(l));
    Some(BatchItem {
        subject_id,
        category: category.to_owned(),
        fields,
        whole,
    })
}

/// A batch's items in counts, with a digest that changes when any item does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchSummary {
    #[serde(flatten)]
    pub tally: Tally,
    /// SHA-256 (hex) over the items in subject order.
    pub digest: String,
}

impl BatchSummary {
    /// The summary of `items`, which are in subject order.
    pub fn of(items: &[BatchItem]) -> Self {
        let mut hash = Sha256::new();
        let mut tally = Tally::default();
        for i in items {
            tally.subject(i.subject_id, &i.category, i.whole);
            for f in &i.fields {
                tally.field(f);
            }
            hash.update(i.subject_id.as_bytes());
            hash.update([u8::from(i.whole)]);
            hash.update(i.fields.join(",").as_bytes());
            hash.update(b"\n");
        }
        BatchSummary {
            tally,
            digest: hex(&hash.finalize()),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// How a proposal changed: subjects added, gone (a hold, a new consent, a retraction) and
/// whose fields changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchDiff {
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
}

impl BatchDiff {
    /// From `before` to `after`, both in subject order.
    pub fn between(before: &[BatchItem], after: &[BatchItem]) -> Self {
        let mut d = BatchDiff::default();
        let (mut a, mut b) = (before.iter().peekable(), after.iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (None, None) => return d,
                (Some(_), None) => {
                    d.removed += 1;
                    a.next();
                }
                (None, Some(_)) => {
                    d.added += 1;
                    b.next();
                }
                (Some(x), Some(y)) => match x.subject_id.cmp(&y.subject_id) {
                    std::cmp::Ordering::Less => {
                        d.removed += 1;
                        a.next();
                    }
                    std::cmp::Ordering::Greater => {
                        d.added += 1;
                        b.next();
                    }
                    std::cmp::Ordering::Equal => {
                        d.changed += u64::from(x != y);
                        a.next();
                        b.next();
                    }
                },
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == BatchDiff::default()
    }
}

/// Where a batch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    /// Waiting for the DPO's approval (or the second person's, with four eyes).
    Proposed,
    /// Approved: its items are being destroyed or depersonalized.
    Approved,
    /// Every item was executed or skipped.
    Done,
}

impl BatchStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Proposed => "proposed",
            BatchStatus::Approved => "approved",
            BatchStatus::Done => "done",
        }
    }
}

/// One approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A batch as proposed and approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub id: Uuid,
    pub rule: String,
    pub action: RetentionAction,
    pub status: BatchStatus,
    /// The day the items were worked out for.
    #[serde(with = "crate::iso_date")]
    pub computed_on: Date,
    #[serde(with = "time::serde::rfc3339")]
    pub proposed_at: OffsetDateTime,
    pub proposed_by: String,
    pub summary: BatchSummary,
    /// How the proposal changed when it was last worked out again (on a stale approval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed: Option<BatchDiff>,
    /// Approvals so far; two different people's with four eyes.
    pub approvals: Vec<Approval>,
    /// Approvals needed.
    pub approvals_needed: u8,
    /// What executing it did, once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<BatchOutcome>,
    /// The act of destruction issued when it was executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<crate::destruction_act::Act>,
}

/// What executing a batch did, in counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchOutcome {
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    /// Subjects destroyed whole (crypto-shredding, and in the operator's databases).
    pub whole_subjects: u64,
    /// Subjects that lost some fields, and how many fields in all (whole subjects included).
    pub subjects: u64,
    pub fields: u64,
    /// Items not executed, by reason: `held` (a legal hold came), `kept` (a purpose keeps
    /// the data again), `gone` (the subject was destroyed meanwhile).
    pub skipped: std::collections::BTreeMap<String, u64>,
}

/// What executing one item came to, as the item's mark keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemMark {
    /// The subject destroyed whole, with this many fields.
    Whole(u64),
    /// These fields destroyed, the subject kept.
    Fields(Vec<String>),
    /// Not executed, for this reason (a code).
    Skipped(String),
}

impl ItemMark {
    /// The mark as stored: `whole:<count>`, `fields:<name>,<name>…` or `skipped:<reason>`.
    pub fn text(&self) -> String {
        match self {
            ItemMark::Whole(n) => format!("whole:{n}"),
            ItemMark::Fields(f) => format!("fields:{}", f.join(",")),
            ItemMark::Skipped(why) => format!("skipped:{why}"),
        }
    }
}

impl std::str::FromStr for ItemMark {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            Some(("whole", n)) => n
                .parse()
                .map(ItemMark::Whole)
                .map_err(|_| format!("`{s}`: not a count of fields")),
            Some(("fields", names)) => Ok(ItemMark::Fields(
                names
                    .split(',')
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )),
            Some(("skipped", why)) => Ok(ItemMark::Skipped(why.to_owned())),
            _ => Err(format!("`{s}` is not a mark of an item")),
        }
    }
}

impl BatchOutcome {
    /// What the items came to, from their marks (`None`: still pending).
    pub fn of<'a>(
        marks: impl IntoIterator<Item = Option<&'a ItemMark>>,
        finished_at: OffsetDateTime,
    ) -> Self {
        let mut out = BatchOutcome {
            finished_at,
            whole_subjects: 0,
            subjects: 0,
            fields: 0,
            skipped: Default::default(),
        };
        for mark in marks {
            match mark {
                Some(ItemMark::Whole(n)) => {
                    out.subjects += 1;
                    out.whole_subjects += 1;
                    out.fields += n;
                }
                Some(ItemMark::Fields(f)) => {
                    out.subjects += 1;
                    out.fields += f.len() as u64;
                }
                Some(ItemMark::Skipped(why)) => {
                    *out.skipped.entry(why.clone()).or_default() += 1;
                }
                None => *out.skipped.entry("pending".to_owned()).or_default() += 1,
            }
        }
        out
    }
}

/// Why an approved item is not executed, if it is not: what `now` (the item as worked out
/// today, `None` when nothing expired any longer) says against what was `approved`, and
/// whether a legal hold keeps the subject. What is executed is what both allow.
pub fn to_execute(
    approved: &BatchItem,
    now: Option<&BatchItem>,
    held: bool,
) -> Result<BatchItem, &'static str> {
    if held {
        return Err("held");
    }
    let Some(now) = now else {
        return Err("kept");
    };
    let fields: Vec<String> = approved
        .fields
        .iter()
        .filter(|f| now.fields.contains(f))
        .cloned()
        .collect();
    if fields.is_empty() {
        return Err("kept");
    }
    Ok(BatchItem {
        subject_id: approved.subject_id,
        category: approved.category.clone(),
        // Whole only as approved: a field expired since (a value written later) waits.
        whole: approved.whole && now.whole && now.fields == approved.fields,
        fields,
    })
}

/// Why a batch cannot be approved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchProblem {
    #[error("the batch is {}, no longer waiting for approval", .0.as_str())]
    NotProposed(BatchStatus),
    #[error("you have approved this batch already; a second person must approve it")]
    ApprovedByYou,
    #[error("the expired data changed since the batch was proposed ({} subject(s) added, {} gone, {} changed); the proposal is worked out again: review it and approve again", .0.added, .0.removed, .0.changed)]
    Stale(BatchDiff),
}

impl BatchProblem {
    /// Why the batch cannot be approved, for the person who asked, in `lang`.
    pub fn explain(&self, lang: Lang) -> String {
        match self {
            BatchProblem::NotProposed(_) => tr(
                lang,
                "Бұл топтама бекітуді күтпейді: ол бекітілген немесе орындалған.",
                "Этот пакет не ожидает утверждения: он уже утверждён или исполнен.",
                "This batch no longer waits for approval: it was approved or executed.",
            )
            .to_owned(),
            BatchProblem::ApprovedByYou => tr(
                lang,
                "Сіз бұл топтаманы бекіттіңіз: оны басқа адам бекітуі тиіс.",
                "Вы уже утвердили этот пакет: его должен утвердить другой человек.",
                "You have approved this batch already: another person must approve it.",
            )
            .to_owned(),
            BatchProblem::Stale(d) => tr(
                lang,
                "Топтама ұсынылғаннан бері мерзімі өткен деректер өзгерді (қосылған субъектілер: {a}, алынып тасталғандары: {r}, өзгергендері: {c}). Топтама қайта есептелді: оны қарап шығып, қайта бекітіңіз.",
                "С момента предложения пакета данные с истёкшим сроком изменились (добавлено субъектов: {a}, исключено: {r}, изменено: {c}). Пакет пересчитан: проверьте его и утвердите снова.",
                "The expired data changed since the batch was proposed ({a} subject(s) added, {r} gone, {c} changed). The batch was worked out again: review it and approve it again.",
            )
            .replace("{a}", &d.added.to_string())
            .replace("{r}", &d.removed.to_string())
            .replace("{c}", &d.changed.to_string()),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            BatchProblem::NotProposed(_) => "not_proposed",
            BatchProblem::ApprovedByYou => "approved_by_you",
            BatchProblem::Stale(_) => "stale_proposal",
        }
    }
}

impl Batch {
    /// Whether `by` may approve the batch now, on a proposal that is as `current` says.
    pub fn check_approval(&self, by: &str, current: &BatchSummary) -> Result<(), BatchProblem> {
        if self.status != BatchStatus::Proposed {
            return Err(BatchProblem::NotProposed(self.status));
        }
        if self.approvals.iter().any(|a| a.by == by) {
            return Err(BatchProblem::ApprovedByYou);
        }
        if current.digest != self.summary.digest {
            return Err(BatchProblem::Stale(BatchDiff::default()));
        }
        Ok(())
    }

    /// The batch with `by`'s approval at `at`: approved once it has as many as it needs.
    pub fn approved(mut self, by: &str, at: OffsetDateTime) -> Self {
        self.approvals.push(Approval {
            by: by.to_owned(),
            at,
        });
        if self.approvals.len() >= usize::from(self.approvals_needed) {
            self.status = BatchStatus::Approved;
        }
        self
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use time::macros::{date, datetime};

    /// A batch of the student file's rule proposed by the DPO, with `summary`, needing
    /// `approvals_needed`.
    pub(crate) fn proposed(summary: BatchSummary, approvals_needed: u8) -> Batch {
        Batch {
            id: Uuid::from_u128(9),
            rule: "student_records".into(),
            action: RetentionAction::Destroy,
            status: BatchStatus::Proposed,
            computed_on: date!(2029 - 06 - 01),
            proposed_at: datetime!(2029-06-01 09:00 UTC),
            proposed_by: "dpo:aigul".into(),
            summary,
            changed: None,
            approvals: Vec::new(),
            approvals_needed,
            outcome: None,
            act: None,
        }
    }

    fn item(n: u128, fields: &[&str], whole: bool) -> BatchItem {
        BatchItem {
            subject_id: Uuid::from_u128(n),
            category: "student".into(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            whole,
        }
    }

    #[test]
    fn an_item_is_what_ended_under_the_rule() {
        let today = date!(2029 - 06 - 01);
        let lasts = [
            FieldLast {
                field: "grades",
                until: Some(Until::Day(date!(2029 - 05 - 31))),
                rule: Some("student_records"),
            },
            FieldLast {
                field: "surname",
                until: Some(Until::Day(date!(2031 - 05 - 31))),
                rule: Some("contract_records"),
            },
            FieldLast {
                field: "attendance",
                until: Some(Until::Day(date!(2029 - 05 - 31))),
                rule: Some("student_records"),
            },
        ];
        let d = crate::retention::tests::decl();
        let id = Uuid::from_u128(1);
        let it = item_of(&d, id, "student", &lasts, "student_records", today).unwrap();
        assert_eq!(it.fields, ["attendance", "grades"]);
        assert!(!it.whole, "the surname is kept");
        let contracts =
            |lasts: &[FieldLast<'_>], on| item_of(&d, id, "student", lasts, "contract_records", on);
        assert_eq!(contracts(&lasts, today), None);
        let later = date!(2031 - 06 - 01);
        assert!(contracts(&lasts, later).unwrap().whole);
        // A field to depersonalize stays out of a whole destruction.
        let mut with_analytics = lasts.to_vec();
        with_analytics.push(FieldLast {
            field: "browser",
            until: Some(Until::Day(date!(2027 - 01 - 01))),
            rule: Some("analytics_data"),
        });
        assert!(!contracts(&with_analytics, later).unwrap().whole);
        // The depersonalizing rule's own item takes the subject whole, once every other
        // field has ended under a rule that destroys.
        let analytics = item_of(&d, id, "student", &with_analytics, "analytics_data", later);
        let analytics = analytics.unwrap();
        assert_eq!(
            (analytics.fields.as_slice(), analytics.whole),
            (&["browser".to_owned()][..], true)
        );
        let early = item_of(&d, id, "student", &with_analytics, "analytics_data", today);
        assert!(!early.unwrap().whole, "the surname is kept");
    }

    #[test]
    fn only_what_was_approved_and_is_still_expired_is_executed() {
        let approved = item(1, &["attendance", "grades"], true);
        assert_eq!(to_execute(&approved, Some(&approved), true), Err("held"));
        assert_eq!(to_execute(&approved, None, false), Err("kept"));
        let narrower = item(1, &["grades"], false);
        let wider = item(1, &["attendance", "grades", "phone"], true);
        let done = to_execute(&approved, Some(&narrower), false).unwrap();
        assert_eq!(
            (done.fields.clone(), done.whole),
            (vec!["grades".to_owned()], false)
        );
        let done = to_execute(&approved, Some(&wider), false).unwrap();
        assert_eq!(
            done.fields,
            ["attendance", "grades"],
            "never more than approved"
        );
        assert!(!done.whole);
        assert!(to_execute(&approved, Some(&approved), false).unwrap().whole);
    }

    #[test]
    fn the_digest_and_the_diff_see_every_change() {
        let before = vec![item(1, &["grades"], false), item(2, &["grades"], true)];
        let after = vec![item(2, &["grades"], false), item(3, &["grades"], true)];
        let (a, b) = (BatchSummary::of(&before), BatchSummary::of(&after));
        assert_ne!(a.digest, b.digest);
        assert_eq!(a.digest, BatchSummary::of(&before).digest);
        assert_eq!(
            (a.tally.subjects, a.tally.whole_subjects, a.tally.fields),
            (2, 1, 2)
        );
        assert_eq!(
            BatchDiff::between(&before, &after),
            BatchDiff {
                added: 1,
                removed: 1,
                changed: 1
            }
        );
        assert!(BatchDiff::between(&before, &before).is_empty());
    }

    #[test]
    fn approval_needs_a_fresh_proposal_and_with_four_eyes_two_people() {
        let items = vec![item(1, &["grades"], false)];
        let summary = BatchSummary::of(&items);
        let batch = proposed(summary.clone(), 2);
        let at = datetime!(2029-06-01 10:00 UTC);
        assert_eq!(batch.check_approval("dpo:aigul", &summary), Ok(()));
        let moved = BatchSummary::of(&[]);
        assert_eq!(
            batch
                .check_approval("dpo:aigul", &moved)
                .map_err(|p| p.code()),
            Err("stale_proposal")
        );
        let once = batch.approved("dpo:aigul", at);
        assert_eq!(once.status, BatchStatus::Proposed);
        assert_eq!(
            once.check_approval("dpo:aigul", &summary),
            Err(BatchProblem::ApprovedByYou)
        );
        let twice = once.approved("admin:marat", at);
        assert_eq!(twice.status, BatchStatus::Approved);
        assert_eq!(
            twice.check_approval("dpo:other", &summary),
            Err(BatchProblem::NotProposed(BatchStatus::Approved))
        );
    }

    #[test]
    fn marks_read_back_as_written_and_add_up_to_the_outcome() {
        let marks = [
            ItemMark::Whole(9),
            ItemMark::Fields(vec!["email".into(), "phone".into()]),
            ItemMark::Skipped("held".into()),
        ];
        for m in &marks {
            assert_eq!(m.text().parse::<ItemMark>().as_ref(), Ok(m));
        }
        assert!("destroyed:3".parse::<ItemMark>().is_err());
        assert!("whole:many".parse::<ItemMark>().is_err());
        let at = datetime!(2029-06-01 10:00 UTC);
        let o = BatchOutcome::of(marks.iter().map(Some).chain([None]), at);
        assert_eq!((o.subjects, o.whole_subjects, o.fields), (2, 1, 11));
        assert_eq!(o.skipped.get("held"), Some(&1));
        assert_eq!(o.skipped.get("pending"), Some(&1));
    }
}
