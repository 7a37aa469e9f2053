use super::*;
use crate::text::Lang;

pub(crate) const MINIMAL: &str = r#"
version = "1"
effective_from = "2025-09-01"
storage_country = "KZ"

[operator]
name = { kk = "Мектеп", ru = "Школа", en = "School" }
bin = "940140000385"
address = { kk = "Алматы", ru = "Алматы", en = "Almaty" }
email = "info@school.kz"
phone = "+7 727 250 00 00"

[operator.responsible_person]
name = { kk = "А. Ахметова", ru = "А. Ахметова", en = "A. Akhmetova" }
position = { kk = "Директор", ru = "Директор", en = "Director" }
email = "dpo@school.kz"

[subject_categories.student]
label = { kk = "Оқушы", ru = "Обучающийся", en = "Student" }
may_be_minor = true

[subject_categories.legal_representative]
label = { kk = "Заңды өкіл", ru = "Законный представитель", en = "Legal representative" }

[fields.iin]
label = { kk = "ЖСН", ru = "ИИН", en = "IIN" }
categories = ["student", "legal_representative"]
data_category = "identity"
sensitivity = "identifier"
validator = "iin"
lookup = true

[fields.allergy]
label = { kk = "Аллергия", ru = "Аллергия", en = "Allergy" }
categories = ["student"]
data_category = "health"
sensitivity = "special"
special = "health"
validator = "text"

[purposes.education]
label = { kk = "Білім беру", ru = "Обучение", en = "Education" }
description = { kk = "Оқыту", ru = "Обучение", en = "Teaching" }
legal_basis = "contract"
categories = ["student", "legal_representative"]
fields = ["iin"]
retention = "five_years"

[purposes.medical]
label = { kk = "Медициналық көмек", ru = "Медицинская помощь", en = "Medical care" }
description = { kk = "Көмек", ru = "Помощь", en = "Care" }
legal_basis = "consent"
categories = ["student"]
fields = ["iin", "allergy"]
retention = "five_years"

[retention.five_years]
label = { kk = "5 жыл", ru = "5 лет", en = "5 years" }
starts = "relationship_end"
years = 5
action = "destroy"
"#;

fn problems(src: &str) -> Vec<Problem> {
    match Declaration::load(src) {
        Ok(l) => l.warnings,
        Err(p) => p,
    }
}

fn errors(src: &str) -> Vec<Problem> {
    problems(src)
        .into_iter()
        .filter(|p| p.severity == Severity::Error)
        .collect()
}

fn line_of(src: &str, needle: &str) -> usize {
    src.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn minimal_declaration_passes() {
    let loaded = Declaration::load(MINIMAL).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.declaration.fields.len(), 2);
    assert_eq!(
        loaded.declaration.deadlines.get(DeadlineKind::Complaint),
        Deadline {
            days: 30,
            calendar: CalendarKind::Calendar
        }
    );
}

#[test]
fn undeclared_field_is_reported_at_its_position() {
    let src = MINIMAL.replace(r#"fields = ["iin"]"#, r#"fields = ["iin", "phone"]"#);
    let errs = errors(&src);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let e = &errs[0];
    assert_eq!(e.path, "purposes.education.fields[1]");
    assert_eq!(e.line, line_of(&src, r#""iin", "phone""#));
    assert_eq!(e.column, 18);
    assert!(e.message.contains("`phone` is not declared"));
    assert!(e.hint.contains("[fields.phone]"));
}

#[test]
fn special_field_needs_consent_or_legal_duty() {
    let src = MINIMAL.replace(r#"fields = ["iin"]"#, r#"fields = ["iin", "allergy"]"#);
    let errs = errors(&src);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].message.contains("special-category field `allergy`"));
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let src = MINIMAL
        .replace(r#"retention = "five_years""#, r#"retention = "forever""#)
        .replace(r#"en = "Allergy""#, "");
    let errs = errors(&src.replace(", ru = \"Аллергия\", }", ", ru = \"Аллергия\" }"));
    // two purposes refer to an undeclared rule, one label lacks English
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert!(errs
        .iter()
        .any(|e| e.message == "missing translation: en" && e.path == "fields.allergy.label"));
}

#[test]
fn missing_legal_basis_is_a_toml_error_with_position() {
    let src = MINIMAL.replace("legal_basis = \"contract\"\n", "");
    let errs = errors(&src);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].message.contains("legal_basis"),
        "{}",
        errs[0].message
    );
    assert!(errs[0].line > 1);
}

#[test]
fn unknown_keys_and_values_are_errors() {
    let errs = errors(&MINIMAL.replace("lookup = true", "lookup = true\nsecret = 1"));
    assert!(
        errs[0].message.contains("unknown field"),
        "{}",
        errs[0].message
    );
    let errs = errors(&MINIMAL.replace("legal_basis = \"contract\"", "legal_basis = \"because\""));
    assert!(
        errs[0].message.contains("unknown variant"),
        "{}",
        errs[0].message
    );
}

#[test]
fn duplicate_keys_are_errors() {
    let src = MINIMAL.replace("lookup = true", "lookup = true\nlookup = false");
    let errs = errors(&src);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].message.contains("duplicate key"),
        "{}",
        errs[0].message
    );
    assert_eq!(errs[0].line, line_of(&src, "lookup = false"));
    let errs = errors(&MINIMAL.replace(r#"fields = ["iin"]"#, r#"fields = ["iin", "iin"]"#));
    assert!(errs[0].message.contains("listed twice"));
}

#[test]
fn cross_border_recipient_needs_a_basis() {
    let src = format!(
        "{MINIMAL}\n[recipients.cloud]\nlabel = {{ kk = \"Бұлт\", ru = \"Облако\", en = \"Cloud\" }}\nkind = \"processor\"\ncountry = \"DE\"\n"
    )
    .replace(r#"fields = ["iin"]"#, "fields = [\"iin\"]\nrecipients = [\"cloud\"]");
    let errs = errors(&src);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].path, "recipients.cloud.country");
    let ok = src.replace(
        "country = \"DE\"",
        "country = \"DE\"\ncross_border_basis = \"consent\"",
    );
    assert!(errors(&ok).is_empty());
}

#[test]
fn a_field_no_purpose_reads_for_one_of_its_categories_is_flagged() {
    // The IIN of a legal representative, stored, but read by no purpose of representatives.
    let src = MINIMAL.replace(
        "categories = [\"student\", \"legal_representative\"]\nfields = [\"iin\"]",
        "categories = [\"student\"]\nfields = [\"iin\"]",
    );
    let warnings = problems(&src);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        warnings[0].message,
        "no purpose processes this field for subjects in `legal_representative`"
    );
    assert_eq!(warnings[0].path, "fields.iin.categories[1]");
    assert_eq!(
        warnings[0].line,
        line_of(&src, "categories = [\"student\", \"legal_representative\"]")
    );
}

#[test]
fn an_approval_needs_a_date() {
    let with = |date: &str| {
        MINIMAL.replace(
            "[operator.responsible_person]",
            &format!("[operator.approval]\nby = {{ kk = \"Директор\", ru = \"Директор\", en = \"The director\" }}\nact = {{ kk = \"бұйрық № 7\", ru = \"приказ № 7\", en = \"order No. 7\" }}\ndate = \"{date}\"\n\n[operator.responsible_person]"),
        )
    };
    let loaded = Declaration::load(&with("2025-08-01")).unwrap();
    let approval = loaded.declaration.operator.approval.unwrap();
    assert_eq!(approval.date, "2025-08-01");
    let e = errors(&with("1 August 2025"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].path, "operator.approval.date");
}

#[test]
fn storage_outside_kazakhstan_and_document_copies_are_flagged() {
    let src = MINIMAL
        .replace("storage_country = \"KZ\"", "storage_country = \"DE\"")
        .replace("lookup = true", "lookup = true\ndocument_copy = true");
    let loaded = Declaration::load(&src).unwrap();
    let msgs: Vec<&str> = loaded.warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(
        msgs.iter().any(|m| m.contains("not in Kazakhstan")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("copy of an identity document")),
        "{msgs:?}"
    );
}

#[test]
fn legal_duty_needs_a_reference_and_health_must_be_special() {
    let src = MINIMAL.replace("legal_basis = \"contract\"", "legal_basis = \"legal_duty\"");
    assert!(errors(&src)[0].message.contains("name the act"));
    let src = MINIMAL.replace(
        "sensitivity = \"special\"\nspecial = \"health\"",
        "sensitivity = \"ordinary\"",
    );
    assert!(errors(&src)
        .iter()
        .any(|e| e.message.contains("special categories")));
}

#[test]
fn lookup_only_on_identifiers_and_minors_need_representatives() {
    let src = MINIMAL.replace(
        "validator = \"text\"",
        "validator = \"text\"\nlookup = true",
    );
    assert!(errors(&src)[0].message.contains("lookup is not available"));
    let src = MINIMAL
        .replace(
            "[subject_categories.legal_representative]",
            "[subject_categories.parent]",
        )
        .replace(
            "\"student\", \"legal_representative\"",
            "\"student\", \"parent\"",
        );
    assert!(errors(&src)
        .iter()
        .any(|e| e.message.contains("no category of legal representatives")));
}

#[test]
fn bad_operator_identifiers_are_reported() {
    let src = MINIMAL
        .replace("940140000385", "940140000386")
        .replace("info@school.kz", "info");
    let errs = errors(&src);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].message.contains("BIN"));
}

#[test]
fn syntax_errors_have_positions() {
    let errs = errors("version = \"1\"\nthis is not toml\n");
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].line, 2);
}

#[test]
fn only_consent_can_be_kept_by_an_obligation() {
    let obligation = "withdrawal_obligation = { kk = \"Шарт орындалғанға дейін\", ru = \"До исполнения договора\", en = \"Until the contract is performed\" }\n";
    let on_consent = MINIMAL.replace(
        "legal_basis = \"consent\"\n",
        &format!("legal_basis = \"consent\"\n{obligation}"),
    );
    assert!(errors(&on_consent).is_empty(), "{:?}", errors(&on_consent));
    let on_contract = MINIMAL.replace(
        "legal_basis = \"contract\"\n",
        &format!("legal_basis = \"contract\"\n{obligation}"),
    );
    let e = errors(&on_contract);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].message.contains("does not rest on consent"));
    assert_eq!(e[0].line, line_of(&on_contract, "withdrawal_obligation"));
}

#[test]
fn a_transfer_abroad_on_consent_needs_a_purpose_that_asks_for_it() {
    let recipient = "\n[recipients.partner]\nlabel = { kk = \"Серіктес\", ru = \"Партнёр\", en = \"Partner\" }\nkind = \"third_party\"\ncountry = \"GB\"\ncross_border_basis = \"consent\"\n";
    // Sent abroad by the contract purpose: nobody is ever asked for that consent.
    let by_contract = format!("{MINIMAL}{recipient}").replace(
        "fields = [\"iin\"]\n",
        "fields = [\"iin\"]\nrecipients = [\"partner\"]\n",
    );
    let w = problems(&by_contract);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].severity, Severity::Warning);
    assert_eq!(w[0].path, "purposes.education.recipients[0]");
    assert!(
        w[0].message.contains("rests on `contract`"),
        "{}",
        w[0].message
    );
    assert_eq!(
        w[0].line,
        line_of(&by_contract, "recipients = [\"partner\"]")
    );
    // Sent abroad by the consent purpose, whose form names the country: nothing to say.
    let by_consent = format!("{MINIMAL}{recipient}").replace(
        "fields = [\"iin\", \"allergy\"]\n",
        "fields = [\"iin\", \"allergy\"]\nrecipients = [\"partner\"]\n",
    );
    assert!(
        problems(&by_consent).is_empty(),
        "{:?}",
        problems(&by_consent)
    );
    // Another Art. 16 ground holds without consent.
    let by_treaty = by_contract.replace(
        "cross_border_basis = \"consent\"",
        "cross_border_basis = \"international_treaty\"",
    );
    assert!(
        problems(&by_treaty).is_empty(),
        "{:?}",
        problems(&by_treaty)
    );
}

#[test]
fn services_automated_processing_and_court_are_checked() {
    let with = |extra: &str| format!("{MINIMAL}\n{extra}");
    let good = with(
        "[services.portal]\nlabel = { kk = \"Портал\", ru = \"Портал\", en = \"Portal\" }\naddress = \"https://portal.school.kz/\"\n\n[automated_processing]\ndecisions = false\nprofiling = true\nprofiling_description = { kk = \"Үлгерім бойынша ұсыныстар\", ru = \"Рекомендации по успеваемости\", en = \"Recommendations by progress\" }\n\n[disputes]\ncourt = { kk = \"Алматы қаласының соты\", ru = \"Суд города Алматы\", en = \"The court of Almaty\" }\n",
    );
    let loaded = Declaration::load(&good).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let d = loaded.declaration;
    assert_eq!(
        d.services["portal"].address.as_deref(),
        Some("https://portal.school.kz/")
    );
    assert!(d
        .automated_processing
        .as_ref()
        .is_some_and(|a| a.profiling && !a.decisions));
    assert!(d.disputes.court.is_some());

    let e = errors(&good.replace("https://portal.school.kz/", "portal.school.kz"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].path, "services.portal.address");

    // Profiling declared but not described; decisions described but declared false.
    let e = errors(&good.replace("profiling_description", "decisions_description"));
    let paths: Vec<&str> = e.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "automated_processing.decisions_description",
            "automated_processing.profiling"
        ],
        "{e:?}"
    );
    assert!(e[1].message.contains("nothing says how"));

    let e = errors(&good.replace(", en = \"The court of Almaty\"", ""));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].path, "disputes.court");
    assert!(e[0].message.contains("missing translation: en"));
}

#[test]
fn the_authorized_body_has_a_default_and_can_be_named() {
    let d = Declaration::load(MINIMAL).unwrap().declaration;
    assert_eq!(
        d.authorized_body.describe(Lang::Ru),
        "Министерство искусственного интеллекта и цифрового развития Республики Казахстан"
    );
    let named = format!(
        "{MINIMAL}\n[authorized_body]\nname = {{ kk = \"Комитет\", ru = \"Комитет\", en = \"Committee\" }}\nwebsite = \"https://www.gov.kz/\"\n"
    );
    let d = Declaration::load(&named).unwrap().declaration;
    assert_eq!(
        d.authorized_body.describe(Lang::En),
        "Committee (https://www.gov.kz/)"
    );
    let e = errors(
        &named
            .replace(", en = \"Committee\"", "")
            .replace("https://", ""),
    );
    let paths: Vec<&str> = e.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        ["authorized_body.name", "authorized_body.website"],
        "{e:?}"
    );
}

#[test]
fn a_position_that_only_repeats_the_role_is_warned_about() {
    let repeated = MINIMAL.replace(
        "position = { kk = \"Директор\", ru = \"Директор\", en = \"Director\" }",
        "position = { kk = \"Директор\", ru = \"Лицо, ответственное за организацию обработки персональных данных\", en = \"Director\" }",
    );
    let loaded = Declaration::load(&repeated).unwrap();
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert_eq!(
        loaded.warnings[0].path,
        "operator.responsible_person.position"
    );
    // Without a position, a signature names the role.
    let without = MINIMAL.replace(
        "position = { kk = \"Директор\", ru = \"Директор\", en = \"Director\" }\n",
        "",
    );
    let d = Declaration::load(&without).unwrap().declaration;
    assert_eq!(
        d.operator.responsible_person.title(Lang::Ru),
        "Лицо, ответственное за организацию обработки персональных данных"
    );
    assert!(Declaration::load(MINIMAL).unwrap().warnings.is_empty());
}

#[test]
fn a_rule_shorter_than_a_legal_duty_on_the_same_field_is_flagged() {
    let src = format!(
        "{MINIMAL}
[purposes.archive]
label = {{ kk = \"Мұрағат\", ru = \"Архив\", en = \"Archive\" }}
description = {{ kk = \"Мұрағатта сақтау\", ru = \"Хранение в архиве\", en = \"Keeping in the archive\" }}
legal_basis = \"legal_duty\"
legal_reference = {{ kk = \"Заң\", ru = \"Закон\", en = \"The law\" }}
categories = [\"student\"]
fields = [\"iin\"]
retention = \"archive\"

[retention.archive]
label = {{ kk = \"75 жыл\", ru = \"75 лет\", en = \"75 years\" }}
starts = \"relationship_end\"
years = 75
action = \"destroy\"
"
    );
    let warnings = problems(&src);
    let education = warnings
        .iter()
        .find(|w| w.path == "purposes.education.retention")
        .unwrap_or_else(|| panic!("{warnings:?}"));
    assert!(
        education.message.contains("legal duty `archive`")
            && education.message.contains("field `iin`"),
        "{}",
        education.message
    );
    assert!(
        errors(&src).is_empty(),
        "a warning, not an error: {warnings:?}"
    );
    // A duty counted from another start is not compared.
    let other = src.replace(
        "starts = \"relationship_end\"\nyears = 75",
        "starts = \"collection\"\nyears = 75",
    );
    assert!(problems(&other)
        .iter()
        .all(|w| !w.path.ends_with(".retention")));
}

#[test]
fn what_depersonalization_keeps_is_checked_field_by_field() {
    let rule = |extra: &str| {
        MINIMAL.replace(
            "years = 5\naction = \"destroy\"",
            &format!("years = 5\naction = \"depersonalize\"\n{extra}"),
        )
    };
    let good = rule("depersonalize = { allergy = \"keep\", iin = \"pseudonym\" }\nquasi_identifiers = [\"allergy\"]\nk = 10");
    assert!(errors(&good).is_empty(), "{:?}", errors(&good));
    let loaded = Declaration::load(&good).unwrap().declaration;
    let r = &loaded.retention["five_years"];
    assert_eq!(
        (r.k(), r.quasi_identifiers()),
        (10, vec!["allergy".to_owned()])
    );
    let paths = |src: &str| -> Vec<String> { errors(src).into_iter().map(|p| p.path).collect() };
    assert_eq!(
        paths(&rule("depersonalize = { iin = \"region\", phone = \"keep\" }\nquasi_identifiers = [\"allergy\"]\nk = 1")),
        [
            "retention.five_years.depersonalize.iin",
            "retention.five_years.depersonalize.phone",
            "retention.five_years.quasi_identifiers[0]",
            "retention.five_years.k",
        ]
    );
    // A rule that destroys says nothing of what stays; one that keeps nothing is warned of.
    let destroys = MINIMAL.replace("action = \"destroy\"", "action = \"destroy\"\nk = 5");
    assert_eq!(paths(&destroys), ["retention.five_years"]);
    let nothing = rule("");
    let warned = problems(&nothing);
    assert!(
        warned.iter().any(|p| p.message.contains("keeps no field")),
        "{warned:?}"
    );
    // The IIN kept as it is would identify: warned.
    let kept = rule("depersonalize = { iin = \"keep\" }");
    assert!(problems(&kept)
        .iter()
        .any(|p| p.message.contains("identifies a person")));
}
