//! Written answers to data-subject requests: a letter in the requester's language (kk/ru/en)
//! from a template the operator can replace, citing the request, its dates, what was done (or
//! why it was refused) and how to complain to the authorized body.
//!
//! A template is plain text with MiniJinja tags; its first line is the letter's subject, the
//! rest after one blank line its body. The values it can use are those of [`LetterContext`],
//! prepared here in the letter's language, so a template needs no logic beyond `if` and `for`.

use super::*;
use crate::render::templates::{
    operator_parts, LangTemplates, OperatorContext, ResponsibleContext, TemplateError,
};
use crate::vault::VaultError;
use derbes_core::declaration::Declaration;
use derbes_core::request::{RejectionReason, RequestKind};
use derbes_core::text::{format_date, tr, Lang};
use serde::Serialize;
use std::path::Path;

/// The three answer templates in use.
#[derive(Debug, Clone)]
pub struct AnswerTemplates(LangTemplates);

impl Default for AnswerTemplates {
    fn default() -> Self {
        AnswerTemplates(crate::render::templates::shipped!("answer", "txt"))
    }
}

impl AnswerTemplates {
    /// The shipped templates, each replaced by `answer.<lang>.txt` in `dir` where that file
    /// exists. Every template is checked by rendering a sample letter.
    pub fn load(dir: Option<&Path>) -> Result<Self, TemplateError> {
        AnswerTemplates::default()
            .0
            .overridden(dir, "answer", "txt", |source, lang| {
                render(source, &LetterContext::sample(lang)).map(|_| ())
            })
            .map(AnswerTemplates)
    }

    /// The letter for `ctx`, in the context's language.
    pub fn letter(&self, ctx: &LetterContext) -> Result<Letter, VaultError> {
        render(self.0.source(ctx.language), ctx).map_err(|problem| {
            VaultError::Unavailable(format!(
                "the answer template for `{}` cannot be rendered: {problem}",
                ctx.language
            ))
        })
    }
}

/// A rendered letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Letter {
    pub subject: String,
    pub body: String,
}

fn render(source: &str, ctx: &LetterContext) -> Result<Letter, String> {
    let text = crate::render::templates::render("answer.txt", source, ctx)?;
    let text = text.trim_start();
    let (subject, body) = text.split_once('\n').unwrap_or((text, ""));
    let subject = subject.trim();
    if subject.is_empty() {
        return Err("the first line, the letter's subject, is empty".into());
    }
    Ok(Letter {
        subject: subject.to_owned(),
        body: crate::render::templates::collapse_blank_lines(body),
    })
}

/// What a template can use.
#[derive(Debug, Clone, Serialize)]
pub struct LetterContext {
    pub language: Lang,
    pub today: String,
    pub operator: OperatorContext,
    pub responsible: ResponsibleContext,
    pub request: RequestContext,
    /// `completed` (the work is done) or `rejected`.
    pub outcome: &'static str,
    /// Why it was refused, for a rejection.
    pub rejection: Option<&'static str>,
    /// What was done, one sentence each.
    pub done: Vec<String>,
    /// The purposes the subject's data are processed for (information requests).
    pub purposes: Vec<PurposeContext>,
    /// The last day the access package can be had.
    pub package_until: Option<String>,
    /// The DPO's own words (a complaint's substantive answer).
    pub text: Option<String>,
    /// The body to complain to.
    /// The authorized body for personal data protection, by its name (nominative).
    pub authority: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestContext {
    pub id: String,
    pub kind: RequestKind,
    pub kind_label: &'static str,
    pub received_on: String,
    pub due_on: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PurposeContext {
    pub label: String,
    pub basis: &'static str,
    pub retention: String,
    pub recipients: String,
}

impl LetterContext {
    /// The parts every letter has: operator, responsible person, request, authority.
    pub fn new(
        declaration: &Declaration,
        lang: Lang,
        today: time::Date,
        request: (&str, RequestKind, time::Date, time::Date),
    ) -> Self {
        let (id, kind, received_on, due_on) = request;
        let (operator, responsible) = operator_parts(declaration, lang);
        LetterContext {
            language: lang,
            today: format_date(today, lang),
            operator,
            responsible,
            request: RequestContext {
                id: id.to_owned(),
                kind,
                kind_label: kind.label(lang),
                received_on: format_date(received_on, lang),
                due_on: format_date(due_on, lang),
            },
            outcome: "completed",
            rejection: None,
            done: Vec::new(),
            purposes: Vec::new(),
            package_until: None,
            text: None,
            authority: declaration.authorized_body.describe(lang),
        }
    }

    /// A letter with every part filled, to check a template with.
    fn sample(lang: Lang) -> Self {
        let d = time::macros::date!(2026 - 11 - 20);
        let mut ctx = LetterContext::new(
            &sample_declaration(),
            lang,
            d,
            ("0190-sample", RequestKind::Information, d, d),
        );
        ctx.done = vec!["—".into()];
        ctx.purposes = vec![PurposeContext {
            label: "—".into(),
            basis: "—",
            retention: "—".into(),
            recipients: "—".into(),
        }];
        ctx.package_until = Some(format_date(d, lang));
        ctx.text = Some("—".into());
        ctx.rejection = Some(RejectionReason::NoData.label(lang));
        ctx
    }

    pub fn rejected(mut self, reason: RejectionReason) -> Self {
        self.outcome = "rejected";
        self.rejection = Some(reason.label(self.language));
        self
    }
}

fn sample_declaration() -> Declaration {
    // The bundled example is valid by the declaration tests: a failure here is a defect of
    // the build, not of input.
    Declaration::load(include_str!("../../../../examples/shoqan-school.toml"))
        .map(|l| l.declaration)
        .unwrap_or_else(|_| unreachable!("the bundled example declaration is valid"))
}

/// What an action did, as a sentence of the letter; `purpose` is the purpose's label, `fields`
/// the labels of fields changed.
pub fn done_sentence(
    kind: crate::requests::ActionKind,
    lang: Lang,
    purpose: &str,
    fields: &str,
) -> Option<String> {
    use crate::requests::ActionKind::*;
    Some(match kind {
        Block => tr(
            lang,
            "дербес деректеріңізді өңдеу бұғатталды",
            "обработка ваших персональных данных заблокирована",
            "the processing of your personal data was blocked",
        )
        .to_owned(),
        Unblock => tr(
            lang,
            "дербес деректеріңізді бұғаттау алынып тасталды",
            "блокирование ваших персональных данных снято",
            "the block of your personal data was lifted",
        )
        .to_owned(),
        Restrict => match lang {
            Lang::Kk => format!("«{purpose}» мақсаты үшін дербес деректеріңізді өңдеу шектелді"),
            Lang::Ru => format!("обработка ваших персональных данных для цели «{purpose}» ограничена"),
            Lang::En => format!("the processing of your personal data for “{purpose}” was restricted"),
        },
        WithdrawConsent => match lang {
            Lang::Kk => format!("«{purpose}» мақсаты үшін дербес деректерді өңдеуге берген келісіміңіз кері қайтарылды"),
            Lang::Ru => format!("ваше согласие на обработку персональных данных для цели «{purpose}» отозвано"),
            Lang::En => format!("your consent to the processing of your personal data for “{purpose}” was withdrawn"),
        },
        Export => tr(
            lang,
            "дербес деректеріңіздің көшірмесі дайындалды: деректер тізбесі мен олардың көздері, өңдеу мақсаттары мен құқықтық негіздері, алушылар, сақтау мерзімдері, келісімдер және деректерге қол жеткізу тарихы",
            "подготовлена копия ваших персональных данных: перечень данных и их источники, цели и правовые основания обработки, получатели, сроки хранения, согласия и история доступа к данным",
            "a copy of your personal data was prepared: the data held and their sources, the purposes and legal bases of processing, recipients, retention periods, consents and the history of access to the data",
        )
        .to_owned(),
        Rectify => match lang {
            Lang::Kk => format!("мына деректер түзетілді: {fields}"),
            Lang::Ru => format!("исправлены данные: {fields}"),
            Lang::En => format!("these data were corrected: {fields}"),
        },
        Destroy => tr(
            lang,
            "дербес деректеріңіз жойылды: шифрлау кілті және барлық мәліметтер қалпына келтіру мүмкіндігінсіз өшірілді",
            "ваши персональные данные уничтожены: ключ шифрования и все сведения удалены без возможности восстановления",
            "your personal data were destroyed: the encryption key and all the data were deleted beyond recovery",
        )
        .to_owned(),
        Webhook => tr(
            lang,
            "өтініш оператордың басқа ақпараттық жүйелерінде де орындалды",
            "запрос исполнен и в других информационных системах оператора",
            "the request was also carried out in the operator's other information systems",
        )
        .to_owned(),
        Answer => return None,
    })
}

impl super::Requests {
    /// Records that the answer was delivered outside derbes, under `reference` (an outgoing
    /// letter number, a registered-post receipt).
    pub(super) async fn record_answer(
        &self,
        actor: &Actor,
        id: Uuid,
        reference: String,
    ) -> Result<RequestView, VaultError> {
        let reference = required_text(
            "reference",
            &reference,
            200,
            "the outgoing letter's number or the post receipt",
        )?;
        let now = self.vault.now();
        let (record, _) = self
            .update_request(id, |rec, body, status| {
                // A rejection is answered too, as send_answer allows.
                if !matches!(*status, Status::InProgress | Status::Rejected) {
                    return Err(not_now(*status, "record_answer", Status::InProgress));
                }
                if body
                    .answer_sending
                    .is_some_and(|since| now - since < ANSWER_CLAIM)
                {
                    return Err(VaultError::Conflict(
                        "the answer is being sent by e-mail just now; look at the request again in a minute".into(),
                    ));
                }
                body.answer_sending = None;
                body.reply_to = None;
                let Some((i, a)) = body
                    .actions
                    .iter_mut()
                    .enumerate()
                    .find(|(_, a)| a.kind == ActionKind::Answer)
                else {
                    return Err(VaultError::Conflict("this request has no answer to record".into()));
                };
                a.status = ActionStatus::Done;
                a.at = Some(now);
                let key = self.request_key(rec)?;
                Self::note_with_words(&key, &rec.id, i, a, "delivered outside derbes", &reference)?;
                Ok(vec![request_audit(
                    &actor.audit_name(),
                    rec,
                    "request.action",
                    Outcome::Ok,
                    serde_json::json!({ "action": ActionKind::Answer, "status": ActionStatus::Done, "outside": true }),
                )])
            })
            .await?;
        self.full_view(&record)
    }

    /// Everything a letter about request `r` says, in its language.
    pub(super) async fn letter_context(
        &self,
        r: &RequestRecord,
        body: &Body,
        status: Status,
        text: Option<String>,
    ) -> Result<LetterContext, VaultError> {
        let kind = r.kind;
        let lang = body.language;
        let offset = self.vault.calendar().offset();
        let local = |t: OffsetDateTime| t.to_offset(offset).date();
        let id = r.id.to_string();
        let mut ctx = LetterContext::new(
            self.vault.declaration(),
            lang,
            self.vault.today(),
            (&id, kind, body.due.received_on, body.due.due_on),
        );
        ctx.text = text;
        if let (Status::Rejected, Some(rejection)) = (status, body.rejection) {
            return Ok(ctx.rejected(rejection.reason));
        }
        let declaration = self.vault.declaration();
        let purpose = body
            .purpose
            .as_deref()
            .and_then(|p| declaration.purpose(p))
            .map(|p| p.label.get(lang).to_owned())
            .unwrap_or_default();
        for a in body
            .actions
            .iter()
            .filter(|a| a.status == ActionStatus::Done)
        {
            let fields: Vec<&str> = a
                .fields
                .iter()
                .map(|f| {
                    declaration
                        .field(f)
                        .map_or(f.as_str(), |d| d.label.get(lang))
                })
                .collect();
            if let Some(line) = done_sentence(a.kind, lang, &purpose, &fields.join(", ")) {
                if !ctx.done.contains(&line) {
                    ctx.done.push(line);
                }
            }
        }
        if kind == RequestKind::AccessExport {
            if let Some(p) = self.vault.store().package(r.id).await? {
                ctx.package_until = Some(format_date(local(p.expires_at), lang));
            }
        }
        if kind == RequestKind::Information {
            if let Some(subject) = self.vault.store().subject(r.subject_id).await? {
                ctx.purposes = declaration
                    .purposes
                    .values()
                    .filter(|p| p.covers_category(&subject.category))
                    .map(|p| PurposeContext {
                        label: p.label.get(lang).to_owned(),
                        basis: p.legal_basis.label(lang),
                        retention: declaration
                            .retention
                            .get(&p.retention)
                            .map_or_else(|| p.retention.clone(), |x| x.label.get(lang).to_owned()),
                        recipients: p
                            .recipients
                            .iter()
                            .filter_map(|k| declaration.recipients.get(k))
                            .map(|x| x.label.get(lang))
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
                    .collect();
            }
        }
        Ok(ctx)
    }

    /// The written answer of a request: as sent, or as it would be sent now, with the masked
    /// address it goes to.
    pub async fn answer_preview(
        &self,
        actor: &Actor,
        id: Uuid,
    ) -> Result<AnswerPreview, VaultError> {
        self.vault.authorize(actor, access::Action::RequestAnswer)?;
        let (r, body, status) = self.request_parts(id).await?;
        let key = self.request_key(&r)?;
        if let Some(sent) = &body.answer {
            let text = Self::open_text(&key, &id, "answer", sent)?;
            let (subject, rest) = text.split_once("\n\n").unwrap_or((text.as_str(), ""));
            return Ok(AnswerPreview {
                sent: true,
                to: None,
                language: body.language,
                letter: Letter {
                    subject: subject.to_owned(),
                    body: rest.to_owned(),
                },
            });
        }
        let to = self.answer_address(&key, id, &body).await?;
        let ctx = self.letter_context(&r, &body, status, None).await?;
        Ok(AnswerPreview {
            sent: false,
            to: to.as_deref().map(mask_email),
            language: body.language,
            letter: self.answer_templates.letter(&ctx)?,
        })
    }

    /// Sends the written answer by e-mail to the requester's address on file and records it.
    pub(super) async fn send_answer(
        &self,
        actor: &Actor,
        id: Uuid,
        text: Option<String>,
    ) -> Result<RequestView, VaultError> {
        let text = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        if text
            .as_ref()
            .is_some_and(|t| t.chars().count() > MAX_DETAILS)
        {
            return Err(VaultError::InvalidField {
                field: "text",
                detail: format!("is longer than {MAX_DETAILS} characters"),
            });
        }
        let Some(mailer) = self.vault.mailer() else {
            return Err(VaultError::Unavailable(
                "no mail channel is configured; print the letter (GET …/answer), deliver it and record it with record_answer".into(),
            ));
        };
        let (r, body, status) = self.request_parts(id).await?;
        match status {
            Status::InProgress => {
                if body
                    .actions
                    .iter()
                    .any(|a| a.kind != ActionKind::Answer && a.status != ActionStatus::Done)
                {
                    return Err(VaultError::Conflict(
                        "carry out every action first (run_actions, rectify): the letter reports what was done".into(),
                    ));
                }
            }
            Status::Rejected => {}
            other => return Err(not_now(other, "send_answer", Status::InProgress)),
        }
        if body.answer.is_some() {
            return Err(VaultError::Conflict("the answer was sent already".into()));
        }
        let key = self.request_key(&r)?;
        let address = self.answer_address(&key, id, &body).await?.ok_or_else(|| {
            VaultError::Conflict(
                "the requester has no e-mail on file; print the letter (GET …/answer), deliver it and record it with record_answer".into(),
            )
        })?;
        let ctx = self.letter_context(&r, &body, status, text).await?;
        let letter = self.answer_templates.letter(&ctx)?;
        let sealed = Self::seal_text(
            &key,
            &id,
            "answer",
            &format!("{}\n\n{}", letter.subject, letter.body),
        )?;
        let masked = mask_email(&address);
        let mail = Mail {
            to: address,
            subject: letter.subject,
            body: letter.body,
        };
        // Claimed before it is sent: two calls at once must not e-mail the requester twice.
        let claimed_at = self.vault.now();
        self.update_request(id, |_, body, _| {
            if body.answer.is_some() {
                return Err(VaultError::Conflict("the answer was sent already".into()));
            }
            if body
                .answer_sending
                .is_some_and(|since| claimed_at - since < ANSWER_CLAIM)
            {
                return Err(VaultError::Conflict(
                    "the answer is being sent by e-mail just now; look at the request again in a minute".into(),
                ));
            }
            body.answer_sending = Some(claimed_at);
            Ok(Vec::new())
        })
        .await?;
        let delivery = match Self::deliver(mailer, mail, "the answer").await {
            Ok(delivery) => delivery,
            Err(e) => {
                // Released, so that it can be sent again at once; a release that fails lapses
                // with the claim.
                let _ = self
                    .update_request(id, |_, body, _| {
                        if body.answer_sending == Some(claimed_at) {
                            body.answer_sending = None;
                        }
                        Ok(Vec::new())
                    })
                    .await;
                return Err(e);
            }
        };
        let now = self.vault.now();
        let who = actor.audit_name();
        let (record, _) = self
            .update_request(id, |rec, body, status| {
                if body.answer.is_some() {
                    return Err(VaultError::Conflict("the answer was sent already".into()));
                }
                body.answer_sending = None;
                body.answer = Some(sealed.clone());
                // The address was kept for the answer; once it is sent, it goes.
                body.reply_to = None;
                if let Some(a) = body
                    .actions
                    .iter_mut()
                    .find(|a| a.kind == ActionKind::Answer)
                {
                    a.status = ActionStatus::Done;
                    a.at = Some(now);
                    a.note = Some(format!("sent by e-mail to {masked}"));
                }
                let same = *status;
                body.took(status, same, "send_answer", &who, now);
                Ok(vec![request_audit(
                    &who,
                    rec,
                    "request.answer.send",
                    Outcome::Ok,
                    serde_json::json!({ "delivery": delivery, "language": body.language }),
                )])
            })
            .await?;
        self.full_view(&record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_templates_render_every_part_in_their_language() {
        let t = AnswerTemplates::default();
        for (lang, complain) in [
            (Lang::Kk, "уәкілетті орган"),
            (Lang::Ru, "уполномоченный орган"),
            (Lang::En, "authorized body"),
        ] {
            let mut ctx = LetterContext::sample(lang);
            ctx.done =
                vec![done_sentence(crate::requests::ActionKind::Destroy, lang, "", "").unwrap()];
            let l = t.letter(&ctx).unwrap();
            assert!(!l.subject.is_empty() && !l.subject.contains("{{"));
            assert!(l.body.contains(complain), "{lang}: {}", l.body);
            assert!(l.body.contains("0190-sample"));
            assert!(l.body.contains(&ctx.done[0]));
            assert!(!l.body.contains("\n\n\n"), "{}", l.body);
            let refused = t
                .letter(&ctx.clone().rejected(RejectionReason::IdentityNotConfirmed))
                .unwrap();
            assert!(refused
                .body
                .contains(RejectionReason::IdentityNotConfirmed.label(lang)));
            assert!(!refused.body.contains(&ctx.done[0]));
        }
    }

    #[test]
    fn an_operator_template_replaces_one_language_and_a_broken_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("answer.ru.txt"),
            "Ответ № {{ request.id }}\n\n{{ operator.name }}: {{ request.kind_label }}\n",
        )
        .unwrap();
        let t = AnswerTemplates::load(Some(dir.path())).unwrap();
        let l = t.letter(&LetterContext::sample(Lang::Ru)).unwrap();
        assert_eq!(l.subject, "Ответ № 0190-sample");
        assert!(l
            .body
            .ends_with("предоставление сведений об обработке персональных данных\n"));
        // Kazakh still comes from the shipped template.
        assert!(t
            .letter(&LetterContext::sample(Lang::Kk))
            .unwrap()
            .body
            .contains("Құрметті"));
        for broken in ["{% if %}\n", "Тақырып\n\n{{ request.number }}\n", "\n\n"] {
            std::fs::write(dir.path().join("answer.kk.txt"), broken).unwrap();
            let e = AnswerTemplates::load(Some(dir.path())).unwrap_err();
            assert!(e.file.ends_with("answer.kk.txt"), "{e}");
        }
    }
}
