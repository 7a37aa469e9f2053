//! Destroying subjects, and their records, on PostgreSQL.
//!
//! The destructions that follow one another in a commit group are applied together: their
//! checks are one pipeline of set-based statements (`= ANY($1)`), what each check found decides
//! for each destruction as it would alone, and the writes of those that may go are a second
//! pipeline. A retention batch's hundred thousand destructions cost the server a few dozen
//! statements per group, not two dozen per subject.

use super::*;
use crate::Page;
use crate::{Depersonalized, DestructionChecked, DestructionStore};
use std::collections::{HashMap, HashSet};

type Param<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);

/// A `WriteOp::DestroySubject`, taken apart.
pub(super) struct Destroy {
    destruction: Destruction,
    audit: AuditDraft,
    checked: Option<DestructionChecked>,
    batch: Option<Uuid>,
    depersonalized: Option<Depersonalized>,
}

impl Destroy {
    /// The destruction `op` asks for, if it asks for one.
    fn of(op: WriteOp) -> Option<Destroy> {
        match op {
            WriteOp::DestroySubject {
                destruction,
                audit,
                checked,
                batch,
                depersonalized,
            } => Some(Destroy {
                destruction,
                audit,
                checked,
                batch,
                depersonalized,
            }),
            _ => None,
        }
    }

    fn id(&self) -> Uuid {
        self.destruction.subject_id
    }
}

/// What the checks of a run of destructions found, by subject.
#[derive(Default)]
struct Found {
    present: HashSet<Uuid>,
    obligations: HashMap<Uuid, Vec<(String, String)>>,
    representing: HashSet<Uuid>,
    events: HashMap<Uuid, i64>,
    asked: HashSet<Uuid>,
    partitions: HashMap<Uuid, String>,
    pending: HashSet<Uuid>,
}

/// How one destruction of a run is to end.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Go,
    /// Destroyed before: its record, if it has one.
    Gone,
    Refused,
}

impl Found {
    fn verdict(&self, d: &Destroy) -> Result<Verdict, StoreError> {
        let id = d.id();
        if !self.present.contains(&id) {
            return Ok(Verdict::Gone);
        }
        if let Some(checked) = &d.checked {
            // Every write holds the audit head's lock: no obligation or link can be written
            // between these reads and the deletes.
            let obligations = self.obligations.get(&id).cloned().unwrap_or_default();
            let events = self.events.get(&id).copied().unwrap_or(0);
            if !crate::destruction_check_holds(
                checked,
                obligations,
                events,
                self.representing.contains(&id),
            )? {
                return Ok(Verdict::Refused);
            }
        }
        // An open request is a legal hold that came since the decision; an item no longer
        // pending was executed or skipped meanwhile.
        if d.batch.is_some() && (self.asked.contains(&id) || !self.pending.contains(&id)) {
            return Ok(Verdict::Refused);
        }
        Ok(Verdict::Go)
    }
}

/// The parameters of a run's writes, by statement.
struct Writes {
    ats: Vec<String>,
    asked: Vec<String>,
    /// The batch items executed: subject, batch, mark.
    marks: (Vec<Uuid>, Vec<Uuid>, Vec<String>),
    /// What depersonalizing batches keep, under random ids (in no order that follows the
    /// subjects'): id, rule, record.
    kept: (Vec<Uuid>, Vec<String>, Vec<String>),
}

impl Writes {
    fn of(run: &[&Destroy]) -> Result<Writes, StoreError> {
        let mut w = Writes {
            ats: Vec::with_capacity(run.len()),
            asked: Vec::with_capacity(run.len()),
            marks: Default::default(),
            kept: Default::default(),
        };
        for d in run {
            w.ats.push(crate::times::text(d.destruction.destroyed_at));
            w.asked.push(to_json(&d.destruction)?);
            if let Some(b) = d.batch {
                let whole = derbes_core::retention_batch::ItemMark::Whole(
                    d.destruction.fields.len() as u64,
                );
                w.marks.0.push(d.id());
                w.marks.1.push(b);
                w.marks.2.push(whole.text());
            }
            if let Some(k) = &d.depersonalized {
                w.kept.0.push(Uuid::new_v4());
                w.kept.1.push(k.rule.clone());
                w.kept.2.push(to_json(&k.record)?);
            }
        }
        Ok(w)
    }
}

/// What a run's writes answered.
struct Written {
    /// Batch items marked, and to be marked.
    marked: usize,
    marks: usize,
    records: Vec<Row>,
}

impl Written {
    /// What each destruction of `run` removed, by subject, once every one of them went.
    fn removed(
        self,
        run: &[&Destroy],
    ) -> Result<HashMap<Uuid, derbes_core::destruction::Removed>, StoreError> {
        if self.marked != self.marks || self.records.len() != run.len() {
            return Err(StoreError::Backend(
                "a destruction's mark or record went missing".into(),
            ));
        }
        self.records
            .iter()
            .map(|r| {
                let stored: Destruction = from_json(r.get::<_, &str>(1))?;
                Ok((r.get(0), stored.removed))
            })
            .collect()
    }
}

/// `s` run with `params`, unless there is nothing to run it on.
async fn query_unless(
    c: &Client,
    nothing: bool,
    s: &Statement,
    params: &[Param<'_>],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    if nothing {
        Ok(Vec::new())
    } else {
        c.query(s, params).await
    }
}

/// `first` (a destruction) and the destructions that follow it in `ops`, up to the first
/// operation of another kind or the second destruction of one subject (a subject twice in a
/// run would be checked before its first destruction).
pub(super) fn take_run(
    first: WriteOp,
    ops: &mut std::iter::Peekable<impl Iterator<Item = WriteOp>>,
) -> Vec<Destroy> {
    let mut run: Vec<Destroy> = Destroy::of(first).into_iter().collect();
    let mut ids: HashSet<Uuid> = run.iter().map(Destroy::id).collect();
    while let Some(WriteOp::DestroySubject { destruction, .. }) = ops.peek() {
        if !ids.insert(destruction.subject_id) {
            break;
        }
        run.extend(ops.next().and_then(Destroy::of));
    }
    run
}

impl Writer {
    /// Applies a run of destructions that follow one another in the group, in one savepoint:
    /// a result each, in order. A statement that fails rolls the run back and applies each
    /// destruction alone, so that it fails only its own.
    pub(super) async fn destroy_run(
        &mut self,
        run: Vec<Destroy>,
        open: &mut bool,
        results: &mut Vec<Result<Applied, StoreError>>,
    ) {
        if run.len() > 1 {
            if let Ok(done) = self.guarded(&run, open).await {
                results.extend(done);
                return;
            }
            // Else each alone below, where the failing one answers for itself.
        }
        for one in run.chunks(1) {
            match self.guarded(one, open).await {
                Ok(done) => results.extend(done),
                Err(e) => results.push(Err(e)),
            }
        }
    }

    /// `run` applied in a savepoint of its own, rolled back when a statement fails.
    async fn guarded(
        &mut self,
        run: &[Destroy],
        open: &mut bool,
    ) -> Result<Vec<Result<Applied, StoreError>>, StoreError> {
        self.savepoint(open).await?;
        let saved = (self.head, self.pending.len(), self.changes.len());
        match self.destroy_subjects(run).await {
            Ok(done) => Ok(done),
            Err(e) => {
                self.head = saved.0;
                self.pending.truncate(saved.1);
                self.changes.truncate(saved.2);
                let _ = self.client.batch_execute("ROLLBACK TO SAVEPOINT op").await;
                Err(e)
            }
        }
    }

    /// The destructions of `run` (of different subjects), checked and written in one round
    /// trip. When one may not go, the savepoint is rolled back and those that may are sent
    /// again. A result each: destroyed, destroyed before, or refused with `VersionConflict`
    /// when what it was decided on changed.
    async fn destroy_subjects(
        &mut self,
        run: &[Destroy],
    ) -> Result<Vec<Result<Applied, StoreError>>, StoreError> {
        // Every verdict is set by the first pass, which sends the whole run.
        let mut verdicts = vec![Verdict::Refused; run.len()];
        let mut going: Vec<usize> = (0..run.len()).collect();
        let (found, mut removed) = loop {
            let sending: Vec<&Destroy> = going.iter().map(|&i| &run[i]).collect();
            let (found, written) = self.pipeline(&sending).await?;
            for &i in &going {
                verdicts[i] = found.verdict(&run[i])?;
            }
            if going.iter().all(|&i| verdicts[i] == Verdict::Go) {
                break (found, written.removed(&sending)?);
            }
            self.client
                .batch_execute("ROLLBACK TO SAVEPOINT op")
                .await?;
            going.retain(|&i| verdicts[i] == Verdict::Go);
            if going.is_empty() {
                break (found, HashMap::new());
            }
        };
        let gone: Vec<Uuid> = run
            .iter()
            .zip(&verdicts)
            .filter(|(_, v)| **v == Verdict::Gone)
            .map(|(d, _)| d.id())
            .collect();
        let mut before = self.records_of(&gone).await?;
        let mut results = Vec::with_capacity(run.len());
        for (d, verdict) in run.iter().zip(verdicts) {
            let id = d.id();
            results.push(match verdict {
                Verdict::Refused => Err(StoreError::VersionConflict),
                Verdict::Gone => match before.remove(&id) {
                    Some(destruction) => Ok(Applied::Destroyed {
                        destruction,
                        already: true,
                    }),
                    None => Err(StoreError::NotFound),
                },
                Verdict::Go => {
                    let mut destruction = d.destruction.clone();
                    destruction.removed = removed.remove(&id).ok_or_else(|| {
                        StoreError::Backend("a destruction's record went missing".into())
                    })?;
                    // The partition of the key, rewritten once the destruction is committed;
                    // a batch's, once the batch is executed (`WriteOp::RewriteDestroyedKeys`).
                    if d.batch.is_none() {
                        if let Some(partition) = found.partitions.get(&id) {
                            if !self.rewrite.contains(partition) {
                                self.rewrite.push(partition.clone());
                            }
                        }
                    }
                    self.append(d.audit.clone());
                    self.changes.push((self.head.0, id));
                    Ok(Applied::Destroyed {
                        destruction,
                        already: false,
                    })
                }
            });
        }
        Ok(results)
    }

    /// The statements of `run`, sent together and run in this order: the checks (the rows
    /// locked first: a package or a second destruction waiting on a row sees it gone), the
    /// pending batch items, then the writes: the items' marks, the records (what the deletes
    /// remove counted before they run; every write holds the audit head's lock, nothing else
    /// changes these rows meanwhile), what a depersonalizing batch keeps, and the deletes.
    async fn pipeline(&mut self, run: &[&Destroy]) -> Result<(Found, Written), StoreError> {
        let ids: Vec<Uuid> = run.iter().map(|d| d.id()).collect();
        let (in_batch, batches): (Vec<Uuid>, Vec<Uuid>) = run
            .iter()
            .filter_map(|d| d.batch.map(|b| (d.id(), b)))
            .unzip();
        let w = Writes::of(run)?;
        let checks = self.prep_all(&CHECKS).await?;
        let [pending, mark, record, keep] = [
            self.prep(PENDING).await?,
            self.prep(MARK).await?,
            self.prep(RECORD).await?,
            self.prep(KEEP).await?,
        ];
        let deletes = self.prep_all(&DELETES).await?;
        let c = &self.client;
        let one: [Param; 1] = [&ids];
        let pair: [Param; 2] = [&in_batch, &batches];
        let marked: [Param; 3] = [&w.marks.0, &w.marks.1, &w.marks.2];
        let recorded: [Param; 3] = [&ids, &w.ats, &w.asked];
        let kept: [Param; 3] = [&w.kept.0, &w.kept.1, &w.kept.2];
        use futures_util::future::{try_join, try_join3, try_join_all};
        // Polled in this order, each statement sent as it is first polled.
        let ((checks, pending, marked), (records, _, _)) = try_join(
            try_join3(
                try_join_all(checks.iter().map(|s| c.query(s, &one))),
                query_unless(c, in_batch.is_empty(), &pending, &pair),
                query_unless(c, w.marks.0.is_empty(), &mark, &marked),
            ),
            try_join3(
                c.query(&record, &recorded),
                query_unless(c, w.kept.0.is_empty(), &keep, &kept),
                try_join_all(deletes.iter().map(|s| c.execute(s, &one))),
            ),
        )
        .await?;
        let [present, obligations, representing, events, asked, partitions]: [Vec<Row>; 6] = checks
            .try_into()
            .map_err(|_| StoreError::Backend("a destruction's checks went missing".into()))?;
        let ids_of = |rows: Vec<Row>| rows.iter().map(|r| r.get::<_, Uuid>(0)).collect();
        let mut found = Found {
            present: ids_of(present),
            representing: ids_of(representing),
            asked: ids_of(asked),
            pending: ids_of(pending),
            events: events.iter().map(|r| (r.get(0), r.get(1))).collect(),
            partitions: partitions.iter().map(|r| (r.get(0), r.get(1))).collect(),
            ..Found::default()
        };
        for r in &obligations {
            found
                .obligations
                .entry(r.get(0))
                .or_default()
                .push((r.get(1), r.get(2)));
        }
        Ok((
            found,
            Written {
                marked: marked.len(),
                marks: w.marks.0.len(),
                records,
            },
        ))
    }

    /// The records of subjects destroyed before.
    async fn records_of(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, Destruction>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        self.query(
            "SELECT subject_id, record FROM destructions WHERE subject_id = ANY($1)",
            &[&ids],
        )
        .await?
        .iter()
        .map(|r| Ok((r.get(0), from_json(r.get::<_, &str>(1))?)))
        .collect()
    }
}

#[async_trait]
impl DestructionStore for PostgresStore {
    async fn destruction(&self, subject_id: Uuid) -> Result<Option<Destruction>, StoreError> {
        self.row(
            "SELECT record FROM destructions WHERE subject_id = $1",
            &[&subject_id],
        )
        .await?
        .map(|r| from_json(&r.get::<_, String>(0)))
        .transpose()
    }

    async fn destructions(&self, page: Page) -> Result<Vec<Destruction>, StoreError> {
        self.rows(
            "SELECT record FROM destructions WHERE subject_id > $1 ORDER BY subject_id LIMIT $2",
            &[&page.start(), &i64::from(page.limit)],
        )
        .await?
        .iter()
        .map(|r| from_json(&r.get::<_, String>(0)))
        .collect()
    }

    async fn rewrite_subjects(&self) -> Result<(), StoreError> {
        // VACUUM runs outside a transaction: a statement of its own.
        self.client()
            .await?
            .batch_execute("VACUUM (FULL) subjects")
            .await?;
        Ok(())
    }
}

/// The checks of a run, each over every subject of the run, in the order `check_run` reads
/// them; the rows locked first.
const CHECKS: [&str; 6] = [
    "SELECT id FROM subjects WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    "SELECT subject_id, purpose, obligation FROM obligations WHERE subject_id = ANY($1)",
    "SELECT DISTINCT representative_id FROM representatives WHERE representative_id = ANY($1)",
    "SELECT subject_id, count(*) FROM lifecycle_events WHERE subject_id = ANY($1) GROUP BY subject_id",
    "SELECT DISTINCT subject_id FROM requests WHERE subject_id = ANY($1) AND open",
    "SELECT subject_id, tableoid::regclass::text FROM subject_keys WHERE subject_id = ANY($1)",
];

/// Which of the run's batch items (subject, batch) are still pending.
const PENDING: &str = "SELECT i.subject_id FROM retention_batch_items i
     JOIN unnest($1::uuid[], $2::uuid[]) AS u(subject_id, batch_id)
       ON i.subject_id = u.subject_id AND i.batch_id = u.batch_id
     WHERE i.outcome IS NULL";

/// The batch items executed, marked.
const MARK: &str = "UPDATE retention_batch_items i SET outcome = u.outcome
     FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS u(subject_id, batch_id, outcome)
     WHERE i.subject_id = u.subject_id AND i.batch_id = u.batch_id AND i.outcome IS NULL
     RETURNING 1";

/// The destructions' records, with what the deletes remove counted. A record logged before
/// (a destruction applied again after a restored backup) is replaced.
const RECORD: &str = "INSERT INTO destructions (subject_id, destroyed_at, record)
     SELECT u.id, u.at, jsonb_set(u.asked::jsonb, '{removed}', jsonb_build_object(
         'index_entries', (SELECT count(*) FROM blind_index WHERE subject_id = u.id),
         'consent_events', (SELECT count(*) FROM consent_events WHERE subject_id = u.id),
         'representative_links', (SELECT count(*) FROM representatives WHERE subject_id = u.id),
         'flags', (SELECT count(*) FROM subject_flags WHERE subject_id = u.id),
         'obligations', (SELECT count(*) FROM obligations WHERE subject_id = u.id),
         'packages', (SELECT count(*) FROM request_packages WHERE subject_id = u.id),
         'lifecycle_events', (SELECT count(*) FROM lifecycle_events WHERE subject_id = u.id)))::text
     FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(id, at, asked)
     ON CONFLICT (subject_id) DO UPDATE SET destroyed_at = excluded.destroyed_at, record = excluded.record
     RETURNING subject_id, record";

/// What depersonalizing batches keep.
const KEEP: &str = "INSERT INTO depersonalized_records (id, rule, record)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])";

/// Everything derbes holds of the subjects, their row last.
const DELETES: [&str; 12] = [
    "DELETE FROM blind_index WHERE subject_id = ANY($1)",
    "DELETE FROM consent_events WHERE subject_id = ANY($1)",
    "DELETE FROM representatives WHERE subject_id = ANY($1)",
    "DELETE FROM subject_flags WHERE subject_id = ANY($1)",
    "DELETE FROM obligations WHERE subject_id = ANY($1)",
    "DELETE FROM request_packages WHERE subject_id = ANY($1)",
    "DELETE FROM lifecycle_events WHERE subject_id = ANY($1)",
    "DELETE FROM subject_keys WHERE subject_id = ANY($1)",
    "DELETE FROM legal_holds WHERE subject_id = ANY($1)",
    "DELETE FROM majority_reconfirmations WHERE subject_id = ANY($1)",
    "DELETE FROM reconfirmations_unsettled WHERE subject_id = ANY($1)",
    "DELETE FROM subjects WHERE id = ANY($1)",
];
