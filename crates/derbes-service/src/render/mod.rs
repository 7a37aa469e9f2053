//! Every document derbes renders goes through here: templates (minijinja) with the
//! operator's context, and Markdown made into one accessible HTML page.

pub(crate) mod html;
pub(crate) mod templates;
