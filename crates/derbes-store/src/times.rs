//! Times as both backends keep them: canonical UTC text with microseconds
//! (`format_timestamp`), which sorts as the times do, so that columns compare, order and index
//! as text. Records hold `OffsetDateTime`; `At` is how a time crosses into and out of SQL.

use derbes_core::audit::format_timestamp;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A time bound to or read from a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct At(pub OffsetDateTime);

/// A stored time that is not one (the column was written by something other than derbes).
#[derive(Debug, thiserror::Error)]
#[error("a stored time is not in the form derbes writes (UTC, RFC 3339)")]
pub(crate) struct NotATime;

/// A stored time as its value: only the one form derbes writes, since the columns compare as
/// text and another form (`…T10:00:00Z`, an offset, a lowercase `z`) would sort out of place.
pub(crate) fn parse(stored: &str) -> Result<OffsetDateTime, NotATime> {
    let at = OffsetDateTime::parse(stored, &Rfc3339).map_err(|_| NotATime)?;
    if text(at) == stored {
        Ok(at)
    } else {
        Err(NotATime)
    }
}

/// A month (given by any of its days) as it is stored: `YYYY-MM`, which sorts as months do.
pub(crate) fn month_text(day: time::Date) -> String {
    format!("{:04}-{:02}", day.year(), u8::from(day.month()))
}

/// A stored month as its first day.
pub(crate) fn parse_month(stored: &str) -> Result<time::Date, NotATime> {
    let (year, month) = stored.split_once('-').ok_or(NotATime)?;
    let year: i32 = year.parse().map_err(|_| NotATime)?;
    let month: u8 = month.parse().map_err(|_| NotATime)?;
    let month = time::Month::try_from(month).map_err(|_| NotATime)?;
    time::Date::from_calendar_date(year, month, 1).map_err(|_| NotATime)
}

/// A time as it is stored.
pub(crate) fn text(at: OffsetDateTime) -> String {
    format_timestamp(at)
}

impl rusqlite::ToSql for At {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::from(text(self.0)))
    }
}

impl rusqlite::types::FromSql for At {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        // A value of another type (an integer a foreign writer left) is as corrupt as text
        // in another form.
        value
            .as_str()
            .map_err(|_| NotATime)
            .and_then(parse)
            .map(At)
            .map_err(|e| rusqlite::types::FromSqlError::Other(Box::new(e)))
    }
}

impl tokio_postgres::types::ToSql for At {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        text(self.0).to_sql(ty, out)
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <String as tokio_postgres::types::ToSql>::accepts(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

impl<'a> tokio_postgres::types::FromSql<'a> for At {
    fn from_sql(
        ty: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let stored = <&str as tokio_postgres::types::FromSql>::from_sql(ty, raw)?;
        Ok(At(parse(stored)?))
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <&str as tokio_postgres::types::FromSql>::accepts(ty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A time to the microsecond reads back as it was written, and stored times sort as
        /// the times do (what `ORDER BY` and `<=` on the columns rely on).
        #[test]
        fn stored_times_round_trip_and_sort(a in 0i64..4_102_444_800_000_000, b in 0i64..4_102_444_800_000_000) {
            let time = |us: i64| OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000).unwrap();
            let (ta, tb) = (time(a), time(b));
            prop_assert_eq!(parse(&text(ta)).unwrap(), ta);
            prop_assert_eq!(text(ta).cmp(&text(tb)), ta.cmp(&tb));
        }
    }

    #[test]
    fn a_time_in_another_form_is_refused() {
        for stored in [
            "6 December 2026",
            "",
            "2026-11-21T10:00:00Z",
            "2026-11-21T10:00:00.5Z",
            "2026-11-21T15:00:00.000000+05:00",
            "2026-11-21t10:00:00.000000z",
        ] {
            assert!(parse(stored).is_err(), "{stored}");
        }
        assert!(parse("2026-11-21T10:00:00.000000Z").is_ok());
    }
}
