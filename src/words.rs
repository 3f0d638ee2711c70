//! Numbers, counts and names written for people: digit grouping, plurals, and names with
//! their control characters escaped.

use std::borrow::Cow;

/// `name` with its control characters escaped (`\u{1b}`, `\n`, `\t`), so that a name from a
/// config cannot move the cursor, change colours or break a line of a terminal or a report.
pub fn printable(name: &str) -> Cow<'_, str> {
    if !name.chars().any(char::is_control) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Failing runs by kind, in words: `invariant 3, panic 1`.
pub fn failure_kinds(kinds: &std::collections::BTreeMap<crate::failure::Kind, u64>) -> String {
    kinds
        .iter()
        .map(|(kind, runs)| format!("{} {}", kind.as_str(), grouped((*runs).into())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A count per shared variable, in words: `a 3, b 1`.
pub fn by_variable(counts: &std::collections::BTreeMap<String, u64>) -> String {
    counts
        .iter()
        .map(|(name, value)| format!("{} {}", printable(name), grouped((*value).into())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A deadlock's cycle of waits in words: `Thread-1 waits for mutex#2 held by Thread-2;
/// Thread-2 waits for mutex#1 held by Thread-1`.
pub fn cycle(edges: &[crate::sync::deadlock::CycleEdge]) -> String {
    edges
        .iter()
        .map(|edge| {
            if edge.waits_for == edge.held_by {
                format!("{} waits for {} to finish", edge.thread, edge.waits_for)
            } else {
                format!(
                    "{} waits for {} held by {}",
                    edge.thread, edge.waits_for, edge.held_by
                )
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `n` with its digits grouped by thousands: `1,000,001`, `-99,559`.
pub fn grouped(n: i128) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `n noun` with the noun in the plural unless `n` is 1: `1 run`, `3 runs`, `1,000 runs`.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{} {noun}s", grouped(n.into()))
    }
}

#[cfg(feature = "runner")]
/// The most frequent final values, `listed` at most, then how many others there are:
/// `9 (x508), 30 (x81), and 37 other values`.
pub fn final_values(outcomes: &[crate::report::FinalCount], listed: usize) -> String {
    let finals: Vec<String> = outcomes
        .iter()
        .take(listed)
        .map(|f| format!("{} (x{})", grouped(f.value.into()), grouped(f.count.into())))
        .collect();
    let others = outcomes.len().saturating_sub(listed) as u64;
    let others = if others > 0 {
        format!(", and {}", count(others, "other value"))
    } else {
        String::new()
    };
    format!("{}{others}", finals.join(", "))
}

/// The 1-based line and column of a byte offset in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_digits_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(1_000_001), "1,000,001");
        assert_eq!(grouped(-99_559), "-99,559");
    }

    #[test]
    fn control_characters_in_names_are_escaped() {
        assert_eq!(printable("lesson-racy"), "lesson-racy");
        assert_eq!(printable("é ✓ name"), "é ✓ name");
        assert_eq!(printable("red\u{1b}[31m"), "red\\u{1b}[31m");
        assert_eq!(printable("two\nlines\tand\r"), "two\\nlines\\tand\\r");
        assert_eq!(
            printable("bell\u{7}del\u{7f}c1\u{9b}"),
            "bell\\u{7}del\\u{7f}c1\\u{9b}"
        );
    }

    #[test]
    fn plurals_follow_the_count() {
        assert_eq!(count(1, "run"), "1 run");
        assert_eq!(count(0, "run"), "0 runs");
        assert_eq!(count(2_000, "update"), "2,000 updates");
    }
}
