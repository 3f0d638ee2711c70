//! Schedule files: self-contained, versioned, human-readable records of a failure.
//!
//! A schedule file holds the scenario it came from, the failure it must reproduce, the minimal
//! schedule with the (possibly shrunk) workload it runs, and where the original failing
//! execution came from. `contend replay FILE` needs nothing else.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::Choice;
pub use super::digest::top_level;
pub(crate) use super::digest::{EDITED, digest_of, take_digest};
use super::search::{FailureKind, Minimality};
use crate::config::line_column;
use crate::report::json::temporary_beside;
use crate::scenario::{CounterSpec, DEFAULT_MAX_PAUSE, ObjectSettings, SyncMode};

/// The `format` every schedule file names.
pub const FORMAT: &str = "contend-schedule";
/// The version of the format this contend writes and reads.
pub const FORMAT_VERSION: u32 = 2;
pub use super::SHUTTLE_VERSION;

/// A schedule file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format's version, [`FORMAT_VERSION`].
    pub version: u32,
    /// The contend that wrote the file.
    pub contend_version: String,
    /// The shuttle the schedule was made with.
    pub shuttle_version: String,
    /// The scenario the failure came from, as configured.
    pub scenario: ScenarioRecord,
    /// The failure the schedule reproduces.
    pub failure: FailureRecord,
    /// The schedule to replay, on the workload it runs.
    pub minimal: MinimalRecord,
    /// Where the original failing execution came from.
    pub original: OriginalRecord,
}

/// The scenario a failure came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRecord {
    /// Its name.
    pub name: String,
    /// Its workload.
    pub workload: String,
    /// The engine that ran it.
    pub engine: String,
    /// The shuttle scheduler, for the shuttle engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<String>,
    /// Its seed.
    pub seed: u64,
    /// Its synchronization.
    pub sync: SyncMode,
    /// The counter's initial value.
    pub initial: i64,
    /// Its threads.
    pub threads: Vec<ThreadRecord>,
    /// The longest pause before an increment, for workload `counter-object`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pause_ms: Option<u64>,
}

/// What one thread does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadRecord {
    /// The thread's name in the scenario, where shrinking kept only some threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Added to the counter by each update.
    pub delta: i64,
    /// Number of updates.
    pub ops: u64,
}

/// The failure a schedule reproduces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureRecord {
    /// Its kind.
    pub kind: FailureKind,
    /// Lost updates in the minimal schedule's execution.
    pub lost_updates: u64,
    /// The counter's final value there (absent when the execution failed otherwise).
    #[serde(default, rename = "final", skip_serializing_if = "Option::is_none")]
    pub final_value: Option<i64>,
    /// The value with no lost update.
    pub expected_final: i64,
    /// The failure in words.
    pub description: String,
}

/// The schedule to replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinimalRecord {
    /// The counter's initial value in the shrunk workload.
    pub initial: i64,
    /// The shrunk workload's threads.
    pub threads: Vec<ThreadRecord>,
    /// Preemptions in the schedule.
    pub preemptions: u64,
    /// Scheduling decisions in its execution.
    pub steps: u64,
    /// How sure contend is that it is minimal.
    pub minimality: Minimality,
    /// Steps after which the execution is abandoned as a livelock, if the scenario set a bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u64>,
    /// The decisions that depart from the default rule (run the current task while it can).
    pub choices: Vec<Choice>,
}

/// Where the original failing execution came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginalRecord {
    /// The engine that showed the failure.
    pub engine: String,
    /// The index of the failing execution within the scenario's run.
    pub execution: u64,
    /// Its scheduling decisions, under shuttle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u64>,
    /// Its preemptions, under shuttle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preemptions: Option<u64>,
    /// Its choices, when few enough to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<Choice>>,
}

/// A schedule file that cannot be used.
#[derive(Debug, Error)]
pub enum ScheduleFileError {
    /// It cannot be read.
    #[error("{}: cannot read the schedule file", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// It is not a schedule file, or a damaged one.
    #[error("{location}: {message}")]
    Invalid {
        /// Where.
        location: FileLocation,
        /// What is wrong.
        message: String,
    },
    /// It was written in another version of the format.
    #[error(
        "{}: schedule format version {found}, but this contend reads version {FORMAT_VERSION} \
         (written by contend {contend}); re-run the scenario to record it again",
        path.display()
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u32,
        /// The contend that wrote it.
        contend: String,
    },
}

/// A file, with the line and column where known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileLocation {
    /// The file.
    pub path: PathBuf,
    /// 1-based line and column.
    pub line_column: Option<(usize, usize)>,
}

impl FileLocation {
    /// The place in `path` (whose text is `text`) where `span` starts, if known.
    pub fn at(path: &Path, text: &str, span: Option<std::ops::Range<usize>>) -> FileLocation {
        FileLocation {
            path: path.to_path_buf(),
            line_column: span.map(|s| line_column(text, s.start)),
        }
    }
}

impl fmt::Display for FileLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some((line, column)) = self.line_column {
            write!(f, ":{line}:{column}")?;
        }
        Ok(())
    }
}

impl ScheduleFile {
    /// Differences between the versions that recorded the file and this contend, which may
    /// make a replay take other steps.
    pub fn version_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.shuttle_version != SHUTTLE_VERSION {
            warnings.push(format!(
                "recorded with shuttle {}, replayed with shuttle {SHUTTLE_VERSION}: its scheduling \
                 decisions may differ",
                self.shuttle_version
            ));
        }
        if self.contend_version != env!("CARGO_PKG_VERSION") {
            warnings.push(format!(
                "recorded by contend {}, replayed by contend {}",
                self.contend_version,
                env!("CARGO_PKG_VERSION")
            ));
        }
        warnings
    }

    /// The names of the minimal schedule's threads, as the scenario called them.
    pub fn minimal_names(&self) -> Vec<String> {
        self.minimal
            .threads
            .iter()
            .enumerate()
            .map(|(i, t)| t.name.clone().unwrap_or_else(|| super::task_name(i + 1)))
            .collect()
    }

    /// The shrunk workload the minimal schedule runs.
    pub fn minimal_counter(&self) -> CounterSpec {
        let threads: Vec<(i64, u64)> = self
            .minimal
            .threads
            .iter()
            .map(|t| (t.delta, t.ops))
            .collect();
        let mut counter = CounterSpec::new(self.minimal.initial, &threads, self.scenario.sync);
        if self.scenario.workload == "counter-object" {
            counter.object = Some(ObjectSettings {
                max_pause: self
                    .scenario
                    .max_pause_ms
                    .map_or(DEFAULT_MAX_PAUSE, std::time::Duration::from_millis),
            });
        }
        counter
    }

    /// Reads and checks a schedule file.
    pub fn load(path: &Path) -> Result<ScheduleFile, ScheduleFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScheduleFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Checks schedule file text; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<ScheduleFile, ScheduleFileError> {
        let invalid =
            |span: Option<std::ops::Range<usize>>, message: String| ScheduleFileError::Invalid {
                location: FileLocation {
                    path: path.to_path_buf(),
                    line_column: span.map(|s| line_column(text, s.start)),
                },
                message,
            };
        // The header first, so that a file of another version is named as such rather than as
        // a file with unknown keys.
        // Only the top-level keys, before the first table: a long schedule's choices are parsed
        // once, below.
        let header: Header = toml::from_str(top_level(text))
            .or_else(|_| toml::from_str(text))
            .map_err(|e| invalid(e.span(), e.message().trim().replace('\n', " ")))?;
        if header.format.as_deref() == Some(crate::check::SCHEDULE_FORMAT) {
            let check = header.check.unwrap_or_default();
            return Err(invalid(
                None,
                format!(
                    "a schedule saved by contend::check (check `{check}`): replay it from its test \
                     with `{}={} cargo test --release {check} -- --nocapture`",
                    crate::check::REPLAY_VARIABLE,
                    path.display()
                ),
            ));
        }
        if header.format.as_deref() != Some(FORMAT) {
            return Err(invalid(
                None,
                format!("not a contend schedule file (it lacks `format = \"{FORMAT}\"`)"),
            ));
        }
        let (digest, digest_line) = header.version_and_digest(FORMAT_VERSION, text, path)?;
        // A long schedule's choices are read by a plain scanner: a TOML document of millions of
        // pairs takes gigabytes. Anything but plain pairs is left to the TOML parser. The rest
        // is parsed without them (no copy of a long file), positions after them mapped back.
        let (choices, cut) = match take_minimal_choices(text) {
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
        let mut file: ScheduleFile = toml::from_str(&rest)
            .map_err(|e| invalid(unshift(e.span()), e.message().trim().replace('\n', " ")))?;
        drop(rest);
        if let Some(choices) = choices {
            file.minimal.choices = choices;
        }
        file.check().map_err(|message| invalid(None, message))?;
        if digest != file.digest() {
            return Err(invalid(None, EDITED.into()));
        }
        Ok(file)
    }

    /// The digest of everything the file holds: FNV-1a (128 bits) of its canonical form (its
    /// JSON serialization, streamed into the hash).
    pub fn digest(&self) -> String {
        digest_of(self)
    }

    /// Checks what the types cannot: a workload contend can run, choices in order.
    fn check(&self) -> Result<(), String> {
        self.check_records()?;
        if !["counter", "counter-object"].contains(&self.scenario.workload.as_str()) {
            return Err(format!(
                "unknown workload `{}` (expected: counter)",
                self.scenario.workload
            ));
        }
        let threads = &self.minimal.threads;
        if threads.is_empty() || threads.len() > crate::config::MAX_THREADS {
            return Err(format!(
                "minimal.threads must list 1 to {} threads",
                crate::config::MAX_THREADS
            ));
        }
        if threads.iter().any(|t| t.ops == 0) {
            return Err("minimal.threads: every thread needs at least 1 op".into());
        }
        let total = threads
            .iter()
            .try_fold(0u64, |acc, t| acc.checked_add(t.ops));
        if total.is_none_or(|total| total > crate::config::MAX_TOTAL_OPS) {
            return Err(format!(
                "minimal.threads: at most {} ops in all",
                crate::config::MAX_TOTAL_OPS
            ));
        }
        match self.minimal_counter().checked_expected_final() {
            Some(expected) if expected != self.failure.expected_final => {
                return Err(format!(
                    "failure.expected_final is {}, but the minimal workload's threads add up to {expected}",
                    self.failure.expected_final
                ));
            }
            _ => {}
        }
        if self.minimal_counter().checked_expected_final().is_none() {
            return Err(
                "minimal.threads: the counter's value does not fit in 64 bits along some interleaving"
                    .into(),
            );
        }
        if let Some(pair) = self
            .minimal
            .choices
            .windows(2)
            .find(|w| w[0].step >= w[1].step)
        {
            return Err(format!(
                "minimal.choices must be in increasing step order, but step {} comes after step {}",
                pair[1].step, pair[0].step
            ));
        }
        if let Some(choice) = self.minimal.choices.iter().find(|c| c.task > threads.len()) {
            return Err(format!(
                "minimal.choices: step {} names task {}, but the workload has tasks 0 to {}",
                choice.step,
                choice.task,
                threads.len()
            ));
        }
        Ok(())
    }

    /// The file's text.
    pub fn to_toml(&self) -> String {
        let mut text = String::from(
            "# A failing schedule recorded by contend. Replay it with `contend replay FILE`:\n\
             # exit 1 while the failure reproduces, 0 once it no longer does.\n\
             # choices = [[decision, task], ...]: at that scheduling decision (counted from 0),\n\
             # run that task (0 is main, N the Nth thread of [minimal] threads) instead of\n\
             # keeping the current thread running; `contend replay -v` shows them by table row.\n",
        );
        text.push_str(&format!("digest = \"{}\"\n", self.digest()));
        // The choices are written by hand: TOML's writer builds a document of millions of
        // pairs in memory first.
        let mut light = self.clone();
        let choices = std::mem::take(&mut light.minimal.choices);
        let body = toml::to_string(&light).expect("a schedule file is plain data");
        let mut pairs = String::with_capacity(choices.len() * 12 + 2);
        pairs.push('[');
        for (at, choice) in choices.iter().enumerate() {
            if at > 0 {
                pairs.push_str(", ");
            }
            pairs.push_str(&format!("[{}, {}]", choice.step, choice.task));
        }
        pairs.push(']');
        let marker = "\n[minimal]\n";
        let table = body.find(marker).map_or(0, |at| at + marker.len());
        match body[table..].find("\nchoices = []\n") {
            Some(at) => {
                let start = table + at + 1;
                text.push_str(&body[..start]);
                text.push_str("choices = ");
                text.push_str(&pairs);
                text.push_str(&body[start + "choices = []".len()..]);
            }
            None => text.push_str(&toml::to_string(self).expect("a schedule file is plain data")),
        }
        text
    }

    /// Saves the file in `folder` under a name made from the scenario's, never overwriting an
    /// existing file: `NAME.schedule.toml`, else `NAME-2.schedule.toml`, and so on.
    pub fn save_in(&self, folder: &Path) -> io::Result<PathBuf> {
        save_schedule_text(folder, &self.scenario.name, &self.to_toml())
    }
}

/// The top-level keys a schedule file of the runner starts with, read before the rest so that
/// a file of another format or version is named as such.
#[derive(Debug, Deserialize)]
pub(crate) struct Header {
    /// `format = "..."`.
    pub(crate) format: Option<String>,
    /// `version = N`.
    pub(crate) version: Option<u32>,
    /// The contend that wrote the file.
    pub(crate) contend_version: Option<String>,
    /// The check of a check's schedule file.
    pub(crate) check: Option<String>,
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

/// Saves `text` in `folder` as the schedule file of scenario `scenario`, named after it, never
/// over an existing file (a second one is `NAME-2.schedule.toml`), written whole or not at all.
pub fn save_schedule_text(folder: &Path, scenario: &str, text: &str) -> io::Result<PathBuf> {
    let stem = file_stem(scenario);
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

/// The `choices = [[step, task], ...]` line of the `[minimal]` table, read as plain pairs, and
/// where that line's value is.
fn take_minimal_choices(text: &str) -> Option<(Vec<Choice>, std::ops::Range<usize>)> {
    let table = text.find("\n[minimal]\n")? + "\n[minimal]\n".len();
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

/// The engines and schedulers a schedule file may name.
pub(crate) const ENGINES: [&str; 4] = ["threads", "shuttle", "async", "processes"];
const SCHEDULERS: [&str; 3] = ["random", "pct", "dfs"];

impl ScheduleFile {
    /// Checks the records the replay does not run but reports: names and settings contend
    /// could have written.
    fn check_records(&self) -> Result<(), String> {
        let scenario = &self.scenario;
        if scenario.name.trim().is_empty() {
            return Err("scenario.name must not be empty".into());
        }
        for (key, engine) in [
            ("scenario.engine", &scenario.engine),
            ("original.engine", &self.original.engine),
        ] {
            if !ENGINES.contains(&engine.as_str()) {
                return Err(format!(
                    "{key} is `{}`, not an engine (expected one of: {})",
                    engine.escape_debug(),
                    ENGINES.join(", ")
                ));
            }
        }
        if let Some(scheduler) = &scenario.scheduler
            && !SCHEDULERS.contains(&scheduler.as_str())
        {
            return Err(format!(
                "scenario.scheduler is `{}`, not a scheduler (expected one of: {})",
                scheduler.escape_debug(),
                SCHEDULERS.join(", ")
            ));
        }
        if self.minimal.max_steps == Some(0) {
            return Err("minimal.max_steps must be at least 1".into());
        }
        if scenario.threads.is_empty()
            || scenario.threads.len() > crate::config::MAX_THREADS
            || scenario.threads.iter().any(|t| t.ops == 0)
        {
            return Err(format!(
                "scenario.threads must list 1 to {} threads of at least 1 op",
                crate::config::MAX_THREADS
            ));
        }
        let threads: Vec<(i64, u64)> = scenario.threads.iter().map(|t| (t.delta, t.ops)).collect();
        let counter = CounterSpec::new(scenario.initial, &threads, scenario.sync);
        if counter
            .checked_total_ops()
            .is_none_or(|total| total > crate::config::MAX_TOTAL_OPS)
            || counter.reachable_range().is_none()
        {
            return Err(
                "scenario.threads: too many ops, or a value that does not fit in 64 bits along some \
                 interleaving".into(),
            );
        }
        if scenario
            .max_pause_ms
            .is_some_and(|ms| ms > crate::config::MAX_PAUSE_MS as u64)
        {
            return Err(format!(
                "scenario.max_pause_ms must be at most {}",
                crate::config::MAX_PAUSE_MS
            ));
        }
        if self
            .original
            .choices
            .as_ref()
            .is_some_and(|choices| choices.windows(2).any(|w| w[0].step >= w[1].step))
        {
            return Err("original.choices must be in increasing step order".into());
        }
        Ok(())
    }
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

/// Thread records of a counter's threads; with `origins`, each names the scenario's thread it
/// came from.
pub fn thread_records(counter: &CounterSpec, origins: Option<&[usize]>) -> Vec<ThreadRecord> {
    counter
        .threads
        .iter()
        .enumerate()
        .map(|(i, t)| ThreadRecord {
            name: origins.map(|o| super::task_name(o[i] + 1)),
            delta: t.delta,
            ops: t.ops,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_stems_are_safe_and_distinct() {
        use super::file_stem;
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
        use super::file_stem;
        let long = "n".repeat(300);
        let stem = file_stem(&long);
        assert!(stem.len() <= super::MAX_STEM, "{}", stem.len());
        assert!(format!("{stem}-9999.schedule.toml").len() <= 255);
        assert_ne!(stem, file_stem(&"n".repeat(301)));
        assert_eq!(file_stem(&"n".repeat(200)), "n".repeat(200));
    }

    #[test]
    fn the_recorded_shuttle_version_is_the_one_built_with() {
        let lock = include_str!("../../Cargo.lock");
        let entry = lock
            .split("[[package]]")
            .find(|p| p.contains("name = \"shuttle\"\n"))
            .expect("shuttle is a dependency");
        assert!(
            entry.contains(&format!("version = \"{}\"", super::SHUTTLE_VERSION)),
            "update SHUTTLE_VERSION: {entry}"
        );
    }
}
