//! Reads a scenario's `[scenario.program]` table from the config with the position of every
//! value, checks the program before any run, and maps a mistake inside a `code` or `check`
//! string to the line and column of the config file.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::line_column;
use super::{CompileError, MAX_COUNT, Place, ProgramParams, ThreadParams, compile};

/// `[scenario.program]` as written, with spans into the config file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProgram {
    #[serde(default)]
    shared: Option<Spanned<BTreeMap<String, Spanned<i64>>>>,
    #[serde(default)]
    locks: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    conds: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    check: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    threads: Option<Spanned<Vec<Spanned<RawThread>>>>,
}

/// One entry of `threads` as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThread {
    name: Spanned<String>,
    code: Spanned<String>,
    #[serde(default)]
    count: Option<Spanned<i64>>,
}

/// A mistake in a `[scenario.program]` table: where in the config file, which key, what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableError {
    /// Byte offsets in the config file.
    pub span: Range<usize>,
    /// The key, such as `program.threads[1].code`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// Reads and checks `raw`, the table at `table` in config text `text`.
pub fn read(raw: &Spanned<RawProgram>, text: &str) -> Result<ProgramParams, TableError> {
    let table = raw.span();
    let raw = raw.get_ref();
    let error =
        |span: Range<usize>, key: String, message: String| TableError { span, key, message };
    let Some(threads) = &raw.threads else {
        return Err(error(
            table,
            "program.threads".into(),
            "missing field `threads`: a program needs its threads, as \
             threads = [{ name = \"a\", code = \"x += 1\" }]"
                .into(),
        ));
    };
    let mut params = ProgramParams {
        shared: raw
            .shared
            .as_ref()
            .map(|shared| {
                shared
                    .get_ref()
                    .iter()
                    .map(|(k, v)| (k.clone(), *v.get_ref()))
                    .collect()
            })
            .unwrap_or_default(),
        locks: strings(&raw.locks),
        conds: strings(&raw.conds),
        check: strings(&raw.check),
        threads: Vec::new(),
    };
    for (index, thread) in threads.get_ref().iter().enumerate() {
        let thread = thread.get_ref();
        let count = match &thread.count {
            None => 1,
            Some(count) if (1..=i64::from(MAX_COUNT)).contains(count.get_ref()) => {
                *count.get_ref() as u32
            }
            Some(count) => {
                return Err(error(
                    count.span(),
                    format!("program.threads[{index}].count"),
                    format!(
                        "count must be between 1 and {MAX_COUNT}, got {}",
                        count.get_ref()
                    ),
                ));
            }
        };
        params.threads.push(ThreadParams {
            name: thread.name.get_ref().clone(),
            code: thread.code.get_ref().clone(),
            count,
        });
    }
    match compile(&params) {
        Ok(_) => Ok(params),
        Err(failure) => Err(locate(raw, table, text, &params, failure)),
    }
}

/// Where in the config file a program's error is, and its key.
fn locate(
    raw: &RawProgram,
    table: Range<usize>,
    text: &str,
    params: &ProgramParams,
    failure: CompileError,
) -> TableError {
    let threads = raw
        .threads
        .as_ref()
        .expect("a compiled program has threads");
    let inner = failure.error;
    let thread = |index: usize| threads.get_ref()[index].get_ref();
    let element = |list: &Option<Spanned<Vec<Spanned<String>>>>, index: usize| {
        list.as_ref()
            .and_then(|list| list.get_ref().get(index).map(Spanned::span))
            .unwrap_or(table.clone())
    };
    let (span, key, message) = match failure.place {
        Place::Shared(index) => {
            let shared = raw
                .shared
                .as_ref()
                .expect("an error about a shared variable");
            let (name, value) = shared
                .get_ref()
                .iter()
                .nth(index)
                .expect("the index of a shared variable");
            (
                key_before(text, value.span(), name),
                format!("program.shared.{name}"),
                inner.message,
            )
        }
        Place::Lock(index) => (
            element(&raw.locks, index),
            format!("program.locks[{index}]"),
            inner.message,
        ),
        Place::Cond(index) => (
            element(&raw.conds, index),
            format!("program.conds[{index}]"),
            inner.message,
        ),
        Place::Check(index) => {
            let literal = element(&raw.check, index);
            let check = &params.check[index];
            let (line, column) = line_column(check, inner.span.start);
            (
                inside_literal(text, literal, check, inner.span.start),
                format!("program.check[{index}]"),
                format!(
                    "check `{}`, line {line} column {column}: {}",
                    check.trim(),
                    inner.message
                ),
            )
        }
        Place::Code(index) => {
            let written = thread(index);
            let code = written.code.get_ref();
            let (line, column) = line_column(code, inner.span.start);
            (
                inside_literal(text, written.code.span(), code, inner.span.start),
                format!("program.threads[{index}].code"),
                format!(
                    "thread `{}`, line {line} column {column} of its code: {}",
                    written.name.get_ref(),
                    inner.message
                ),
            )
        }
        Place::ThreadName(index) => (
            thread(index).name.span(),
            format!("program.threads[{index}].name"),
            inner.message,
        ),
        Place::Count(index) => (
            thread(index)
                .count
                .as_ref()
                .map_or(thread(index).name.span(), Spanned::span),
            format!("program.threads[{index}].count"),
            inner.message,
        ),
        Place::Threads => (threads.span(), "program.threads".into(), inner.message),
    };
    TableError { span, key, message }
}

/// The whole key path, from `program`, of what config text `text` holds at byte `offset` when
/// that is inside a scenario's `[scenario.program]` table: `program.shared.x`,
/// `program.threads[0].extra`. `None` elsewhere, or when the text does not parse.
pub fn key_path_at(text: &str, offset: usize) -> Option<String> {
    let document = DeTable::parse(text).ok()?;
    let scenarios = document
        .get_ref()
        .iter()
        .find(|(key, _)| key.get_ref() == "scenario")?
        .1;
    let DeValue::Array(scenarios) = scenarios.get_ref() else {
        return None;
    };
    scenarios.iter().find_map(|scenario| {
        let DeValue::Table(scenario) = scenario.get_ref() else {
            return None;
        };
        let program = scenario
            .iter()
            .find(|(key, _)| key.get_ref() == "program")?
            .1;
        path_within(program, offset).map(|path| format!("program{path}"))
    })
}

/// The path, below `value`, of the entry whose key or value holds `offset`, down to the
/// innermost one: `.threads[0].extra`. `None` when no entry of `value` holds it.
fn path_within(value: &Spanned<DeValue<'_>>, offset: usize) -> Option<String> {
    let holds = |span: Range<usize>| span.contains(&offset);
    match value.get_ref() {
        DeValue::Table(table) => table.iter().find_map(|(key, value)| {
            (holds(key.span()) || holds(value.span())).then(|| {
                format!(
                    ".{}{}",
                    key.get_ref(),
                    path_within(value, offset).unwrap_or_default()
                )
            })
        }),
        DeValue::Array(items) => items.iter().enumerate().find_map(|(index, item)| {
            holds(item.span())
                .then(|| format!("[{index}]{}", path_within(item, offset).unwrap_or_default()))
        }),
        _ => None,
    }
}

fn strings(list: &Option<Spanned<Vec<Spanned<String>>>>) -> Vec<String> {
    list.as_ref()
        .map(|list| list.get_ref().iter().map(|s| s.get_ref().clone()).collect())
        .unwrap_or_default()
}

/// The span of `key` written before the value at `value` (an inline table's key), or the
/// value's span when it cannot be found.
fn key_before(text: &str, value: Range<usize>, key: &str) -> Range<usize> {
    let start = value.start.min(text.len());
    let line_start = text[..start].rfind(['\n', '{', ',']).map_or(0, |i| i + 1);
    text[line_start..start]
        .find(key)
        .map(|at| line_start + at..line_start + at + key.len())
        .unwrap_or(value)
}

/// The file offset of byte `offset` of `decoded`, the value of the TOML string literal at
/// `literal` in `text`; the literal's start where the mapping cannot be made.
pub fn inside_literal(
    text: &str,
    literal: Range<usize>,
    decoded: &str,
    offset: usize,
) -> Range<usize> {
    let at = literal_offsets(text, literal.clone())
        .filter(|offsets| offsets.len() == decoded.len() + 1)
        .map_or(literal.start, |offsets| offsets[offset.min(decoded.len())]);
    at..at + 1
}

/// For each byte of the value of the TOML string literal at `literal`, the offset in `text`
/// it was written at, plus one entry for the end.
fn literal_offsets(text: &str, literal: Range<usize>) -> Option<Vec<usize>> {
    let source = text.get(literal.clone())?;
    let (delimiter, basic) = if source.starts_with("\"\"\"") {
        ("\"\"\"", true)
    } else if source.starts_with("'''") {
        ("'''", false)
    } else if source.starts_with('"') {
        ("\"", true)
    } else if source.starts_with('\'') {
        ("'", false)
    } else {
        return None;
    };
    let body_end = source.len().checked_sub(delimiter.len())?;
    let mut at = delimiter.len();
    if delimiter.len() == 3 {
        // A newline right after the opening delimiter is not part of the value.
        if source[at..].starts_with("\r\n") {
            at += 2;
        } else if source[at..].starts_with('\n') {
            at += 1;
        }
    }
    let mut offsets = Vec::new();
    while at < body_end {
        let c = source[at..].chars().next()?;
        if basic && c == '\\' {
            let next = source[at + 1..].chars().next()?;
            let decoded_len = match next {
                'b' | 't' | 'n' | 'f' | 'r' | '"' | '\\' | 'e' => {
                    offsets.push(literal.start + at);
                    at += 2;
                    continue;
                }
                'u' | 'U' => {
                    let digits = if next == 'u' { 4 } else { 8 };
                    let hex = source.get(at + 2..at + 2 + digits)?;
                    let c = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
                    let len = c.len_utf8();
                    offsets.extend(std::iter::repeat_n(literal.start + at, len));
                    at += 2 + digits;
                    continue;
                }
                _ => 0,
            };
            // A line-ending backslash: the newline and the whitespace after it are dropped.
            debug_assert_eq!(decoded_len, 0);
            at += 1;
            while let Some(c) = source[at..body_end].chars().next() {
                if !c.is_whitespace() {
                    break;
                }
                at += c.len_utf8();
            }
            continue;
        }
        if c == '\r' && source[at..].starts_with("\r\n") {
            // TOML reads a CRLF line ending in a multi-line string as a newline.
            offsets.push(literal.start + at + 1);
            at += 2;
            continue;
        }
        offsets.extend((0..c.len_utf8()).map(|i| literal.start + at + i));
        at += c.len_utf8();
    }
    offsets.push(literal.start + body_end);
    Some(offsets)
}
