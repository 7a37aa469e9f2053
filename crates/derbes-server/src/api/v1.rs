//! The JSON API under `/api/v1`, one file per capability.

mod audit;
mod consents;
mod decisions;
mod jobs;
mod policy;
mod requests;
mod retention;
mod subjects;
mod system;
mod tokens;

/// The routes of every capability.
pub(super) fn routes() -> super::RouteList {
    [
        system::routes(),
        subjects::routes(),
        audit::routes(),
        tokens::routes(),
        jobs::routes(),
        policy::routes(),
        decisions::routes(),
        consents::routes(),
        requests::routes(),
        retention::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}
