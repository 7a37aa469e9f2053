//! Synthetic, realistic Kazakh subjects for demos and benchmarks: Kazakh and Russian names,
//! valid and unique IINs, mobile phones and e-mails, Kazakh cities and addresses.

use anyhow::{Context, Result};
use derbes_core::identifiers::{Iin, Sex};
use std::io::Write;
use std::path::PathBuf;
use time::{Date, Duration, Month};

#[derive(Debug, Clone, clap::Args)]
pub struct GenerateArgs {
    /// How many subjects
    #[arg(long, default_value_t = 1000)]
    pub count: u64,
    /// Output CSV file [default: standard output]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed for reproducible output
    #[arg(long, default_value_t = 94)]
    pub seed: u64,
    /// `student` generates school-age subjects (6-17); `site_visitor` visits of the website
    /// (IP address, browser, cookie, time of the visit, over the last year); anything else
    /// adults (18-65)
    #[arg(long, default_value = "student")]
    pub category: String,
}

pub const COLUMNS: [&str; 10] = [
    "surname",
    "given_name",
    "patronymic",
    "birth_date",
    "birth_place",
    "iin",
    "phone",
    "email",
    "address",
    "id_document_type",
];

const KK_MALE: [&str; 20] = [
    "Айдос",
    "Арман",
    "Ерлан",
    "Нұрлан",
    "Дәулет",
    "Ерасыл",
    "Әлихан",
    "Бауыржан",
    "Қайрат",
    "Ғалым",
    "Мұхтар",
    "Серік",
    "Асқар",
    "Жандос",
    "Темірлан",
    "Ілияс",
    "Нұрсұлтан",
    "Айбек",
    "Рүстем",
    "Ерболат",
];
const KK_FEMALE: [&str; 20] = [
    "Әйгерім",
    "Аружан",
    "Дана",
    "Гүлнара",
    "Жансая",
    "Айгүл",
    "Мөлдір",
    "Сәуле",
    "Ақбота",
    "Динара",
    "Құралай",
    "Назерке",
    "Балнұр",
    "Томирис",
    "Іңкәр",
    "Айару",
    "Жұлдыз",
    "Әсел",
    "Ләззат",
    "Фариза",
];
const KK_SURNAMES: [&str; 20] = [
    "Нұрланов",
    "Серікбаев",
    "Әбілов",
    "Жақсылықов",
    "Қасымов",
    "Төлеуов",
    "Оспанов",
    "Бекмұхамбетов",
    "Есенов",
    "Мұқанов",
    "Ахметов",
    "Сейітов",
    "Ғабдуллин",
    "Құдайбергенов",
    "Омаров",
    "Ізтілеуов",
    "Жұмабаев",
    "Тоқтаров",
    "Сәрсенбаев",
    "Үсенов",
];
const RU_MALE: [&str; 10] = [
    "Александр",
    "Дмитрий",
    "Сергей",
    "Андрей",
    "Максим",
    "Иван",
    "Артём",
    "Никита",
    "Михаил",
    "Евгений",
];
const RU_FEMALE: [&str; 10] = [
    "Анна",
    "Мария",
    "Елена",
    "Ольга",
    "Наталья",
    "Екатерина",
    "Татьяна",
    "Дарья",
    "Анастасия",
    "Юлия",
];
const RU_SURNAMES: [&str; 10] = [
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
];
/// Russian patronymics: (male, female).
const RU_PATRONYMICS: [(&str, &str); 8] = [
    ("Александрович", "Александровна"),
    ("Дмитриевич", "Дмитриевна"),
    ("Сергеевич", "Сергеевна"),
    ("Андреевич", "Андреевна"),
    ("Иванович", "Ивановна"),
    ("Михайлович", "Михайловна"),
    ("Николаевич", "Николаевна"),
    ("Владимирович", "Владимировна"),
];
const CITIES: [&str; 20] = [
    "Алматы",
    "Астана",
    "Шымкент",
    "Қарағанды",
    "Ақтөбе",
    "Тараз",
    "Павлодар",
    "Өскемен",
    "Семей",
    "Атырау",
    "Қостанай",
    "Қызылорда",
    "Орал",
    "Петропавл",
    "Ақтау",
    "Түркістан",
    "Талдықорған",
    "Көкшетау",
    "Жезқазған",
    "Екібастұз",
];
const STREETS: [&str; 10] = [
    "Абай даңғылы",
    "Төле би көшесі",
    "Сәтбаев көшесі",
    "Жібек жолы көшесі",
    "Райымбек даңғылы",
    "Әл-Фараби даңғылы",
    "Достық даңғылы",
    "Қабанбай батыр көшесі",
    "Бөгенбай батыр көшесі",
    "Құнаев көшесі",
];
const MOBILE_CODES: [&str; 15] = [
    "700", "701", "702", "705", "706", "707", "708", "747", "760", "771", "775", "776", "777",
    "778", "785",
];
const DOMAINS: [&str; 5] = ["mail.kz", "gmail.com", "mail.ru", "inbox.kz", "yandex.kz"];

/// splitmix64: small, fast, reproducible.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn transliterate(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.to_lowercase().chars() {
        out.push_str(match c {
            'а' | 'ә' => "a",
            'б' => "b",
            'в' => "v",
            'г' | 'ғ' => "g",
            'д' => "d",
            'е' | 'э' => "e",
            'ё' => "yo",
            'ж' => "zh",
            'з' => "z",
            'и' | 'і' => "i",
            'й' => "y",
            'к' => "k",
            'қ' => "q",
            'л' => "l",
            'м' => "m",
            'н' | 'ң' => "n",
            'о' | 'ө' => "o",
            'п' => "p",
            'р' => "r",
            'с' => "s",
            'т' => "t",
            'у' | 'ұ' | 'ү' => "u",
            'ф' => "f",
            'х' => "kh",
            'һ' => "h",
            'ц' => "ts",
            'ч' => "ch",
            'ш' => "sh",
            'щ' => "sch",
            'ы' => "y",
            'ю' => "yu",
            'я' => "ya",
            _ => "",
        });
    }
    out
}

fn feminine(surname: &str) -> String {
    if surname.ends_with("ов") || surname.ends_with("ев") || surname.ends_with("ин") {
        format!("{surname}а")
    } else {
        surname.to_owned()
    }
}

/// One synthetic subject, as CSV values in [`COLUMNS`] order. `index` makes IIN, phone and
/// e-mail unique within a run.
/// The subject for `index`, or `None` in the rare case (about 1 in 200 million) that none of the
/// index's four serials has an IIN check digit.
pub(crate) fn subject(rng: &mut Rng, index: u64, adult: bool, today: Date) -> Option<[String; 10]> {
    let female = index % 2 == 1;
    let kazakh = rng.below(10) < 7;
    let (given, surname, patronymic) = if kazakh {
        let father = rng.pick(&KK_MALE);
        let given = rng.pick(if female { &KK_FEMALE } else { &KK_MALE });
        let s = rng.pick(&KK_SURNAMES);
        let surname = if female { feminine(s) } else { s.to_owned() };
        (
            given,
            surname,
            format!("{father}{}", if female { "қызы" } else { "ұлы" }),
        )
    } else {
        let given = rng.pick(if female { &RU_FEMALE } else { &RU_MALE });
        let s = rng.pick(&RU_SURNAMES);
        let surname = if female { feminine(s) } else { s.to_owned() };
        let (m, f) = RU_PATRONYMICS[rng.below(RU_PATRONYMICS.len())];
        (given, surname, (if female { f } else { m }).to_owned())
    };
    // Birth dates over an age span; (date, serial) is a bijection of the index, so IINs are unique.
    let (min_age, span_years) = if adult { (18, 47) } else { (6, 12) };
    let years_back = |n: i32| today.replace_year(today.year() - n).unwrap_or(today);
    let latest = years_back(min_age) - Duration::days(1);
    let earliest = years_back(min_age + span_years) + Duration::days(1);
    let days = (latest - earliest).whole_days().max(1) as u64;
    let pair = index / 2;
    let birth = latest - Duration::days(((pair.wrapping_mul(7919)) % days) as i64);
    let serial = pair / days;
    let iin = make_iin(birth, female, serial)?;
    let code = MOBILE_CODES[(index % 15) as usize];
    let number = ((index / 15).wrapping_mul(1_000_003) + 2_345_678) % 10_000_000;
    let email = format!(
        "{}.{}{}@{}",
        transliterate(given),
        transliterate(&surname),
        index,
        rng.pick(&DOMAINS)
    );
    let city = rng.pick(&CITIES);
    Some([
        surname,
        given.to_owned(),
        patronymic,
        format!(
            "{:04}-{:02}-{:02}",
            birth.year(),
            birth.month() as u8,
            birth.day()
        ),
        format!("{city} қ."),
        iin,
        format!("+7{code}{number:07}"),
        email,
        format!(
            "{} қ., {}, {}-үй, {}-пәтер",
            rng.pick(&CITIES),
            rng.pick(&STREETS),
            1 + rng.below(150),
            1 + rng.below(300)
        ),
        (if adult || rng.below(4) == 0 {
            "id_card"
        } else {
            "birth_certificate"
        })
        .to_owned(),
    ])
}

pub const VISIT_COLUMNS: [&str; 4] = ["ip_address", "browser", "cookie_data", "access_time"];

const BROWSERS: [&str; 8] = [
    "Chrome 131",
    "Chrome 130",
    "Yandex Browser 24",
    "Safari 17",
    "Firefox 128",
    "Edge 131",
    "Opera 114",
    "Samsung Internet 26",
];

/// The `index`th visit of the website in the year before `today`: an address from Kazakh
/// operators' ranges, a browser (the popular ones more often), a Google Analytics cookie, and
/// the time of the visit.
fn visit(rng: &mut Rng, index: u64, today: Date) -> [String; 4] {
    let first = [95u8, 2, 37, 178, 5][rng.below(5)];
    let ip = format!(
        "{first}.{}.{}.{}",
        rng.below(256),
        rng.below(256),
        1 + rng.below(254)
    );
    // Of two draws, the smaller: the first browsers of the list come up more often.
    let browser = BROWSERS[rng.below(BROWSERS.len()).min(rng.below(BROWSERS.len()))];
    let at = time::PrimitiveDateTime::new(today, time::Time::MIDNIGHT)
        - Duration::seconds(1 + (rng.next() % (365 * 86_400)) as i64);
    let cookie = format!(
        "_ga=GA1.2.{}.{}",
        1_000_000_000 + index,
        at.assume_utc().unix_timestamp()
    );
    [
        ip,
        browser.to_owned(),
        cookie,
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            at.year(),
            at.month() as u8,
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        ),
    ]
}

fn make_iin(birth: Date, female: bool, serial: u64) -> Option<String> {
    let sex = if female { Sex::Female } else { Sex::Male };
    // Serials below 2500 come from the index; the offsets find one with a check digit.
    [0u64, 5000, 2500, 7500]
        .into_iter()
        .find_map(|offset| Iin::compose(birth, sex, ((serial + offset) % 10_000) as u16))
        .map(|iin| iin.as_str().to_owned())
}

pub fn run(args: &GenerateArgs) -> Result<()> {
    let today = time::OffsetDateTime::now_utc().date();
    let today = Date::from_calendar_date(today.year(), Month::January, 1).unwrap_or(today);
    let out: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut w = csv::Writer::from_writer(std::io::BufWriter::with_capacity(1 << 20, out));
    let mut rng = Rng(args.seed);
    if args.category == "site_visitor" {
        w.write_record(VISIT_COLUMNS)?;
        for i in 0..args.count {
            w.write_record(visit(&mut rng, i, today))?;
        }
        w.flush()?;
        return Ok(());
    }
    w.write_record(COLUMNS)?;
    let adult = args.category != "student";
    // An index without a valid IIN is skipped, so the file still has `count` subjects.
    let mut written = 0;
    for i in 0.. {
        if written == args.count {
            break;
        }
        if let Some(row) = subject(&mut rng, i, adult, today) {
            w.write_record(
                row.iter()
                    .map(|c| derbes_core::text::spreadsheet_cell(c.as_ref()).into_owned()),
            )?;
            written += 1;
        }
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use derbes_core::identifiers::{parse_email, parse_phone_kz, Iin, PhoneKind};
    use std::collections::HashSet;
    use time::macros::date;

    #[test]
    fn generated_subjects_are_valid_and_unique() {
        let mut rng = Rng(1);
        let mut iins = HashSet::new();
        let mut phones = HashSet::new();
        let today = date!(2026 - 01 - 01);
        for i in 0..20_000 {
            let s = subject(&mut rng, i, false, today).unwrap();
            let iin = Iin::parse(&s[5]).unwrap();
            let age = iin.age_on(today);
            assert!((6..18).contains(&age), "{age}");
            assert_eq!(iin.birth_date().to_string(), s[3]);
            assert!(parse_phone_kz(&s[6], PhoneKind::Mobile).is_ok());
            assert!(parse_email(&s[7]).is_ok(), "{}", s[7]);
            assert!(iins.insert(s[5].clone()));
            assert!(phones.insert(s[6].clone()));
        }
        let adult = subject(&mut rng, 3, true, today).unwrap();
        assert!(Iin::parse(&adult[5]).unwrap().age_on(today) >= 18);
    }

    #[test]
    fn generated_visits_fall_in_the_last_year_and_keep_their_year() {
        let mut rng = Rng(1);
        let today = date!(2026 - 01 - 01);
        let mut browsers = HashSet::new();
        for i in 0..2_000 {
            let [ip, browser, cookie, at] = visit(&mut rng, i, today);
            assert_eq!(ip.split('.').count(), 4, "{ip}");
            assert!(cookie.starts_with("_ga=GA1.2."), "{cookie}");
            let year = derbes_core::depersonalize::year_of(&at).unwrap();
            assert_eq!(year, "2025", "{at}");
            browsers.insert(browser);
        }
        assert_eq!(browsers.len(), BROWSERS.len());
    }
}
