//! A wrapper that keeps personal data and secrets out of logs, panics and error messages.

use std::fmt;

/// Holds a value that must never be printed. `Debug` and `Display` show `[redacted]`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Redacted<T>(pub T);

impl<T> Redacted<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }
    /// The value itself; call only where it is used, never to print it.
    pub fn expose(&self) -> &T {
        &self.0
    }
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let r = Redacted::new("871008401427".to_string());
        assert_eq!(format!("{r:?} {r}"), "[redacted] [redacted]");
        assert_eq!(r.expose(), "871008401427");
    }
}
