//! What the enums' `FromStr` impls share: every fieldless enum stored as text
//! (`Activity`, `SleepStage`, `RuleKind`, `Severity`) has one `as_str` with the
//! spelling its serde form uses, and parses back from exactly that.

/// A string that names no value of the enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownName {
    /// What was being parsed, e.g. `activity`.
    pub kind: &'static str,
    pub value: String,
}

/// The value of `all` whose `name` is `s`.
pub(crate) fn parse<T: Copy>(
    all: &[T],
    name: fn(T) -> &'static str,
    kind: &'static str,
    s: &str,
) -> Result<T, UnknownName> {
    all.iter().copied().find(|v| name(*v) == s).ok_or_else(|| UnknownName { kind, value: s.to_owned() })
}
