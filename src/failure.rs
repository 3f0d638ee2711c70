//! The kinds of failure an execution can end with: the one type that every engine, the
//! expectations of configs and checks, the reports and the shard merge name failures by.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How an execution failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An update was lost: a write replaced another it had not read.
    LostUpdate,
    /// A stated invariant did not hold ([`crate::sync::invariant_failed`]).
    Invariant,
    /// The threads still running waited for each other (or for what no thread would give).
    Deadlock,
    /// The body or one of its threads panicked (a failed `assert!`, say).
    Panic,
    /// The execution ran past its bound without finishing: a spin loop that never ends, say.
    Livelock,
}

impl Kind {
    /// Every kind, in the order reports list them.
    pub const ALL: [Kind; 5] = [
        Kind::LostUpdate,
        Kind::Invariant,
        Kind::Deadlock,
        Kind::Panic,
        Kind::Livelock,
    ];

    /// The name configs, JSON reports and schedule summaries use: `lost-update`, `invariant`,
    /// `deadlock`, `panic`, `livelock`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::LostUpdate => "lost-update",
            Kind::Invariant => "invariant",
            Kind::Deadlock => "deadlock",
            Kind::Panic => "panic",
            Kind::Livelock => "livelock",
        }
    }

    /// The kind a name stands for, if it is one of [`Kind::as_str`]'s.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for Kind {
    /// The kind in words: `lost update`, `broken invariant`, `deadlock`, `panic`, `livelock`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::LostUpdate => "lost update",
            Kind::Invariant => "broken invariant",
            Kind::Deadlock => "deadlock",
            Kind::Panic => "panic",
            Kind::Livelock => "livelock",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_kind() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(Kind::parse("lost-updates"), None);
    }
}
