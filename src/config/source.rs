//! The config text an error points into: its line and column, and the scenario and key
//! written at an offset.

use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use super::line_column;
use crate::workload::program;

use super::error::{ConfigError, Location};

pub(super) struct Source<'a> {
    pub(super) text: &'a str,
    pub(super) path: &'a Path,
}

impl Source<'_> {
    pub(super) fn line_column(&self, offset: usize) -> (usize, usize) {
        line_column(self.text, offset)
    }

    pub(super) fn error(
        &self,
        span: Option<Range<usize>>,
        scenario: Option<&str>,
        key: Option<&str>,
        message: String,
    ) -> ConfigError {
        ConfigError::Invalid {
            location: Location {
                path: self.path.to_path_buf(),
                line_column: span.map(|s| self.line_column(s.start)),
                scenario: scenario.map(str::to_string),
                key: key.map(str::to_string),
            },
            message,
        }
    }

    /// The error at `span` about key `key` of scenario `scenario`.
    pub(super) fn invalid(
        &self,
        span: Range<usize>,
        scenario: &str,
        key: &str,
        message: String,
    ) -> ConfigError {
        self.error(Some(span), Some(scenario), Some(key), message)
    }

    /// Fails at the first of `keys` that is written, with the message `message` gives for it.
    pub(super) fn reject_written(
        &self,
        scenario: &str,
        keys: &[(&str, Option<Range<usize>>)],
        message: impl Fn(&str) -> String,
    ) -> Result<(), ConfigError> {
        match keys
            .iter()
            .find_map(|(key, span)| Some((*key, span.clone()?)))
        {
            Some((key, span)) => Err(self.invalid(span, scenario, key, message(key))),
            None => Ok(()),
        }
    }

    pub(super) fn toml_error(&self, error: &toml::de::Error) -> ConfigError {
        let span = error.span();
        let mut message = plain_message(error)
            .replace(
                "struct RawThread",
                "a thread such as { delta = 1, ops = 10 }",
            )
            .replace("struct RawScenario", "a [[scenario]] table")
            .replace("struct RawFile", "a table of [[scenario]] tables");
        // Type and field errors point at a value or key; syntax errors may point anywhere.
        let about_a_key = [
            "invalid type",
            "invalid value",
            "unknown field",
            "invalid length",
            "duplicate key",
        ]
        .iter()
        .any(|start| message.starts_with(start));
        let missing = message.starts_with("missing field");
        // Inside a program's table, the key is written whole: `program.threads[0].extra`.
        let in_program = span
            .as_ref()
            .filter(|_| about_a_key || missing)
            .and_then(|s| program::table::key_path_at(self.text, s.start));
        let key = if missing {
            let field = quoted_name(&message);
            match (in_program, field) {
                (Some(path), Some(field)) => Some(format!("{path}.{field}")),
                (_, field) => field,
            }
        } else {
            in_program.or_else(|| {
                span.as_ref()
                    .filter(|_| about_a_key)
                    .and_then(|s| self.key_at(s.start))
            })
        };
        if key.as_deref() == Some("scenario") && message.contains("expected a sequence") {
            message.push_str("; write each scenario as [[scenario]], with two brackets");
        }
        let scenario = span.as_ref().and_then(|s| self.scenario_at(s.start));
        self.error(span, scenario.as_deref(), key.as_deref(), message)
    }

    /// The name of the `[[scenario]]` table that holds `offset`, read from the text.
    pub(super) fn scenario_at(&self, offset: usize) -> Option<String> {
        let offset = offset.min(self.text.len());
        // One character past the offset, which need not be one byte.
        let end = (offset + 1..=self.text.len())
            .find(|&end| self.text.is_char_boundary(end))
            .unwrap_or(self.text.len());
        let header = self.text[..end].rfind("[[scenario]]")?;
        let block_end = self.text[header + 1..]
            .find("[[")
            .map_or(self.text.len(), |i| header + 1 + i);
        self.text[header..block_end].lines().find_map(|line| {
            let rest = line.trim_start().strip_prefix("name")?.trim_start();
            let value = rest.strip_prefix('=')?.trim();
            let value = value.strip_prefix('"')?;
            Some(value[..value.find('"')?].to_string())
        })
    }

    /// Where `key = ...` is written within the table whose text starts at `from`.
    pub(super) fn key_offset_in_table(&self, from: usize, key: &str) -> Option<usize> {
        let from = from.min(self.text.len());
        let end = self.text[from..]
            .find("\n[")
            .map_or(self.text.len(), |i| from + i);
        let table = &self.text[from..end];
        let mut search = 0;
        while let Some(found) = table[search..].find(key) {
            let at = search + found;
            let before_ok = at == 0 || !table[..at].ends_with(is_key_char);
            let after = &table[at + key.len()..];
            if before_ok && after.trim_start().starts_with('=') {
                return Some(from + at);
            }
            search = at + key.len();
        }
        None
    }

    /// The key whose value (or which key itself) starts at `offset`: the nearest `key =` at or
    /// before it on the same line.
    pub(super) fn key_at(&self, offset: usize) -> Option<String> {
        let offset = offset.min(self.text.len());
        let line_start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[offset..]
            .find('\n')
            .map_or(self.text.len(), |i| offset + i);
        let line = &self.text[line_start..line_end];
        let upto = offset - line_start;
        // A table header names its key: `[scenario]`.
        if let Some(header) = line
            .trim()
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
        {
            let header = header.trim_matches(|c| c == '[' || c == ']').trim();
            return (!header.is_empty()).then(|| header.to_string());
        }
        // The key itself may start at the offset (an unknown field).
        let rest = &line[upto..];
        let word: String = rest.chars().take_while(|c| is_key_char(*c)).collect();
        if !word.is_empty() && rest[word.len()..].trim_start().starts_with('=') {
            return Some(word);
        }
        let head = &line[..upto];
        let equals = head.rfind('=')?;
        let key: String = head[..equals]
            .trim_end()
            .chars()
            .rev()
            .take_while(|c| is_key_char(*c))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        (!key.is_empty()).then_some(key)
    }

    /// Where `key =` is written from the start of `span` to the next table of scenarios, if
    /// it is (a `[scenario.params]` table's span may cover its header alone).
    pub(super) fn key_within(&self, key: &str, span: Range<usize>) -> Option<Range<usize>> {
        let rest = self.text.get(span.start..)?;
        let end = rest
            .match_indices("[[")
            .map(|(at, _)| at)
            .find(|&at| at > 0 && rest[..at].ends_with('\n'))
            .map_or(self.text.len(), |at| span.start + at);
        let span = span.start..end.max(span.end);
        let text = self.text.get(span.clone())?;
        let mut from = 0;
        while let Some(found) = text[from..].find(key) {
            let at = from + found;
            let before = text[..at].chars().next_back();
            let after = text[at + key.len()..].trim_start();
            if before.is_none_or(|c| !is_key_char(c)) && after.starts_with('=') {
                return Some(span.start + at..span.start + at + key.len());
            }
            from = at + key.len();
        }
        None
    }
}

/// Where an optional key's value is written, if it is.
pub(super) fn span_of<T>(value: &Option<Spanned<T>>) -> Option<Range<usize>> {
    value.as_ref().map(Spanned::span)
}

/// A TOML error's message on one line, with Rust's type names in words.
pub(super) fn plain_message(error: &toml::de::Error) -> String {
    error
        .message()
        .trim()
        .replace('\n', " ")
        .replace("expected i64", "expected an integer")
        .replace("expected f64", "expected a number")
}

/// The first name written between backticks in a message, such as the field of
/// "unknown field `x`".
pub(super) fn quoted_name(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_string())
}

pub(super) fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}
