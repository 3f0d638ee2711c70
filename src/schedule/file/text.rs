//! The text of a schedule file: its header read first, its digest line, a long schedule's
//! choices read and written by a plain scanner, and saving it whole under a free name.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{FileLocation, ScheduleFileError, take_digest};
use crate::output::temporary_beside;
use crate::schedule::Choice;

/// The top-level keys a schedule file starts with, read before the rest so that a file of
/// another format or version is named as such.
#[derive(Debug, Deserialize)]
pub(crate) struct Header {
    /// `format = "..."`.
    pub(crate) format: Option<String>,
    /// `version = N`.
    pub(crate) version: Option<u32>,
    /// The contend that wrote the file.
    pub(crate) contend_version: Option<String>,
}

impl Header {
    /// Checks that the file at `path` holding `text` is of `version` and takes its digest
    /// line: the digest, and where the line is (to be blanked out rather than removed, so that
    /// positions stay right).
    pub(crate) fn version_and_digest(
        self,
        version: u32,
        text: &str,
        path: &Path,
    ) -> Result<(String, std::ops::Range<usize>), ScheduleFileError> {
        let invalid = |message: &str| ScheduleFileError::Invalid {
            location: FileLocation::at(path, text, None),
            message: message.to_string(),
        };
        match self.version {
            Some(found) if found == version => {}
            Some(found) => {
                return Err(ScheduleFileError::Version {
                    path: path.to_path_buf(),
                    found,
                    contend: self.contend_version.unwrap_or_else(|| "unknown".into()),
                });
            }
            None => return Err(invalid("the file has no `version`")),
        }
        take_digest(text).ok_or_else(|| invalid("the file has no `digest` line"))
    }
}

/// Parses the records of a schedule file's `text` (at `path`, for errors), its digest line at
/// `digest_line` left out, and the `choices = [[step, task], ...]` line of table `[section]`
/// read by a plain scanner (a TOML document of millions of pairs takes gigabytes): the records
/// with an empty list there, and the choices read, if the scanner read them. Anything but plain
/// pairs is left to the TOML parser; the rest is parsed without them (no copy of a long file),
/// error positions after them mapped back.
pub(crate) fn parse_with_choices<T: DeserializeOwned>(
    text: &str,
    section: &str,
    digest_line: std::ops::Range<usize>,
    path: &Path,
) -> Result<(T, Option<Vec<Choice>>), ScheduleFileError> {
    let (choices, cut) = match take_choices(text, section) {
        Some((choices, value)) => (Some(choices), Some(value)),
        None => (None, None),
    };
    let mut rest = String::with_capacity(text.len().min(64 * 1024));
    let mut copied = 0;
    for (range, replacement) in [(Some(digest_line), ""), (cut.clone(), "[]")] {
        let Some(range) = range else { continue };
        rest.push_str(&text[copied..range.start]);
        rest.push_str(replacement);
        if replacement.is_empty() {
            rest.push_str(&" ".repeat(range.len()));
        }
        copied = range.end;
    }
    rest.push_str(&text[copied..]);
    let removed = cut.as_ref().map_or(0, |value| value.len() - 2);
    let unshift = |span: Option<std::ops::Range<usize>>| {
        span.map(|s| match &cut {
            Some(value) if s.start >= value.start + 2 => s.start + removed..s.end + removed,
            _ => s,
        })
    };
    let records = toml::from_str(&rest).map_err(|e| ScheduleFileError::Invalid {
        location: FileLocation::at(path, text, unshift(e.span())),
        message: e.message().trim().replace('\n', " "),
    })?;
    Ok((records, choices))
}

/// The text of a schedule file: `comment`, the digest line, and `body` (the records written by
/// TOML with an empty `choices` in table `[section]`) with `choices` written there by hand.
pub(crate) fn with_choices(
    mut text: String,
    digest: &str,
    body: &str,
    section: &str,
    choices: &[Choice],
) -> String {
    text.push_str(&format!("digest = \"{digest}\"\n"));
    let mut pairs = String::with_capacity(choices.len() * 12 + 2);
    pairs.push('[');
    for (at, choice) in choices.iter().enumerate() {
        if at > 0 {
            pairs.push_str(", ");
        }
        pairs.push_str(&format!("[{}, {}]", choice.step, choice.task));
    }
    pairs.push(']');
    let marker = format!("\n[{section}]\n");
    let table = body.find(&marker).map_or(0, |at| at + marker.len());
    let start = body[table..]
        .find("\nchoices = []\n")
        .map(|at| table + at + 1)
        .expect("the schedule's table holds its choices");
    text.push_str(&body[..start]);
    text.push_str("choices = ");
    text.push_str(&pairs);
    text.push_str(&body[start + "choices = []".len()..]);
    text
}

/// The `choices = [[step, task], ...]` line of table `[section]`, read as plain pairs, and
/// where that line's value is.
fn take_choices(text: &str, section: &str) -> Option<(Vec<Choice>, std::ops::Range<usize>)> {
    let marker = format!("\n[{section}]\n");
    let table = text.find(&marker)? + marker.len();
    let mut offset = table;
    for line in text[table..].split_inclusive('\n') {
        let content = line.trim_end_matches('\n');
        if content.trim_start().starts_with('[') {
            return None;
        }
        if let Some(value) = content.strip_prefix("choices = ") {
            let choices = scan_pairs(value)?;
            let start = offset + "choices = ".len();
            return Some((choices, start..start + value.len()));
        }
        offset += line.len();
    }
    None
}

/// `[[1, 2], [3, 4]]`: pairs of whole numbers and nothing else.
fn scan_pairs(value: &str) -> Option<Vec<Choice>> {
    let inner = value.trim().strip_prefix('[')?.strip_suffix(']')?.trim();
    let mut choices = Vec::new();
    let mut rest = inner;
    while !rest.is_empty() {
        let pair = rest.strip_prefix('[')?;
        let close = pair.find(']')?;
        let (step, task) = pair[..close].split_once(',')?;
        let number = |s: &str| -> Option<u64> {
            let s = s.trim();
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        choices.push(Choice {
            step: number(step)?,
            task: usize::try_from(number(task)?).ok()?,
        });
        rest = pair[close + 1..].trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start();
        } else if !rest.is_empty() {
            return None;
        }
    }
    Some(choices)
}

/// Saves `text` in `folder` as the schedule file of `name` (a scenario's or a check's), named
/// after it, never over an existing file (a second one is `NAME-2.schedule.toml`), written
/// whole or not at all.
pub fn save_schedule_text(folder: &Path, name: &str, text: &str) -> io::Result<PathBuf> {
    let stem = file_stem(name);
    for attempt in 1u32.. {
        let name = if attempt == 1 {
            format!("{stem}.schedule.toml")
        } else {
            format!("{stem}-{attempt}.schedule.toml")
        };
        let path = folder.join(name);
        let mut temporary = temporary_beside(&path)?;
        temporary.write_all(text.as_bytes())?;
        match temporary.persist_noclobber(&path) {
            Ok(_) => return Ok(path),
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e.error),
        }
    }
    unreachable!("some numbered name is free")
}

/// Writes `text` as `path`, whole or not at all: a temporary file beside it, renamed over it.
pub(crate) fn write_whole(path: &Path, text: &str) -> io::Result<()> {
    let mut temporary = temporary_beside(path)?;
    temporary.write_all(text.as_bytes())?;
    temporary.persist(path).map_err(|error| error.error)?;
    Ok(())
}

/// The longest stem of a schedule file's name, in bytes: with `-NNNN.schedule.toml` after it
/// the name stays well within the 255 bytes a file name may have.
const MAX_STEM: usize = 200;

/// A file name for a scenario: its name where that is a safe file name of at most
/// [`MAX_STEM`] bytes, else its first safe characters and a short hash of the name, so that
/// two names never share a stem.
fn file_stem(name: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    let cleaned: String = name
        .chars()
        .map(|c| if safe(c) { c } else { '-' })
        .collect();
    let cleaned = cleaned.trim_start_matches(['-', '.']).to_string();
    if cleaned == name && !cleaned.is_empty() && cleaned.len() <= MAX_STEM {
        return cleaned;
    }
    // FNV-1a: stable across runs and platforms, unlike the standard hasher.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut cleaned = if cleaned.is_empty() {
        "scenario".to_string()
    } else {
        cleaned
    };
    // Only ASCII is left, so any byte is a character boundary.
    cleaned.truncate(MAX_STEM - 9);
    format!("{cleaned}-{:08x}", hash as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_are_safe_and_distinct() {
        assert_eq!(file_stem("threads-no-lock"), "threads-no-lock");
        assert_ne!(file_stem("a b"), file_stem("a-b"));
        assert!(file_stem("a b").starts_with("a-b-"));
        let evil = file_stem("../../etc/évil");
        assert!(
            !evil.starts_with(['-', '.']) && !evil.contains('/'),
            "{evil}"
        );
        assert!(file_stem("").starts_with("scenario-"));
    }

    #[test]
    fn long_names_keep_the_schedule_within_the_file_name_limit() {
        let long = "n".repeat(300);
        let stem = file_stem(&long);
        assert!(stem.len() <= MAX_STEM, "{}", stem.len());
        assert!(format!("{stem}-9999.schedule.toml").len() <= 255);
        assert_ne!(stem, file_stem(&"n".repeat(301)));
        assert_eq!(file_stem(&"n".repeat(200)), "n".repeat(200));
    }

    #[test]
    fn choices_are_written_and_read_back_by_the_scanner() {
        let choices = vec![Choice { step: 3, task: 1 }, Choice { step: 7, task: 2 }];
        let text = with_choices(
            "# c\n".to_string(),
            "d",
            "a = 1\n\n[schedule]\nsteps = 9\nchoices = []\n",
            "schedule",
            &choices,
        );
        assert!(text.contains("choices = [[3, 1], [7, 2]]\n"), "{text}");
        let (read, _) = take_choices(&text, "schedule").unwrap();
        assert_eq!(read, choices);
    }
}
