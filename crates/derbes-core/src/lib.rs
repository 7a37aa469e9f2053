//! derbes core: the pure decisions of derbes.
//!
//! Nothing here performs I/O: the declaration is parsed from a string, identifiers are checked
//! from strings, decisions are computed from values, audit events are hashed from their fields.

pub mod audit;
pub mod calendar;
pub mod coded;
pub mod consent;
pub mod deadline;
pub mod decision;
pub mod declaration;
pub mod depersonalize;
pub mod destruction;
pub mod destruction_act;
pub mod expiry;
pub mod flags;
pub mod identifiers;
pub mod lifecycle;
pub mod policy;
pub mod policy_diff;
pub mod receipt;
pub mod redact;
pub mod request;
pub mod retention;
pub mod retention_batch;
pub mod text;
pub mod validate;
pub mod webhook;

pub use declaration::Declaration;

// Serde for dates as `YYYY-MM-DD` (`iso_date`, and `iso_date::option` for `Option<Date>`).
time::serde::format_description!(pub iso_date, Date, "[year]-[month]-[day]");
pub use redact::Redacted;
