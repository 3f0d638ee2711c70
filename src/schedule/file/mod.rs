//! Schedule files: self-contained, versioned, human-readable records of one failure, in one
//! format for every target.
//!
//! A schedule file (`format = "contend-schedule"`, version [`FORMAT_VERSION`]) holds a header
//! (the format, its version, the contend and shuttle that wrote it, a digest of everything it
//! holds), the `[target]` the schedule runs (a scenario of a built-in counter workload with its
//! spec, a scenario of a plugin or program workload with its parameters, or a check with its
//! name and the `cargo test` command that replays it), the `[failure]` it reproduces with its
//! kind, the `[schedule]` (choices, random values, steps, preemptions, minimality, step bound)
//! and the `[original]` failing execution it came from. `contend replay FILE` needs nothing
//! else for a scenario; a check's file replays from its test.
//!
//! The files of version 2 (`contend-schedule` of counters, `contend-workload-schedule` of
//! plugin workloads and programs, `contend-check-schedule` of checks) are still read: see
//! [`legacy`].

mod check;
pub mod legacy;
mod target;
mod text;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::Choice;
pub use super::SHUTTLE_VERSION;
pub use super::digest::top_level;
pub(crate) use super::digest::{EDITED, digest_of, take_digest};
use super::search::Minimality;
use crate::failure::Kind;
pub use target::{CheckTarget, CounterTarget, ShrunkCounter, Target, ThreadRecord, WorkloadTarget};
pub use text::save_schedule_text;
use text::{Header, parse_with_choices};

/// The `format` every schedule file names.
pub const FORMAT: &str = "contend-schedule";
/// The version of the format this contend writes; the loader dispatches on it, and reads the
/// files of version 2 too.
pub const FORMAT_VERSION: u32 = 3;

/// A schedule file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format's version, [`FORMAT_VERSION`] (a file of version 2 read into this form keeps
    /// its own).
    pub version: u32,
    /// The contend that wrote the file.
    pub contend_version: String,
    /// The shuttle whose task ids and decisions the schedule counts.
    pub shuttle_version: String,
    /// What the schedule runs.
    pub target: Target,
    /// The failure the schedule reproduces.
    pub failure: FailureRecord,
    /// The schedule to replay.
    pub schedule: ScheduleRecord,
    /// Where the original failing execution came from.
    pub original: OriginalRecord,
}

/// The failure a schedule reproduces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureRecord {
    /// Its kind.
    pub kind: RecordedKind,
    /// The failure in words.
    pub description: String,
    /// A counter's lost updates in the schedule's execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_updates: Option<u64>,
    /// A counter's final value there (absent when the execution failed otherwise).
    #[serde(default, rename = "final", skip_serializing_if = "Option::is_none")]
    pub final_value: Option<i64>,
    /// A counter's value with no lost update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_final: Option<i64>,
}

/// The kind of failure a schedule file records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordedKind {
    /// At least one update is lost.
    LostUpdate,
    /// A `check` or `assert` (an invariant) failed.
    Invariant,
    /// The threads wait for each other.
    Deadlock,
    /// A thread panicked.
    Panic,
    /// The execution did not end.
    Livelock,
    /// Any failure but a lost update, as files of version 2 recorded it (never written now).
    Failed,
}

impl From<Kind> for RecordedKind {
    fn from(kind: Kind) -> RecordedKind {
        match kind {
            Kind::LostUpdate => RecordedKind::LostUpdate,
            Kind::Invariant => RecordedKind::Invariant,
            Kind::Deadlock => RecordedKind::Deadlock,
            Kind::Panic => RecordedKind::Panic,
            Kind::Livelock => RecordedKind::Livelock,
        }
    }
}

impl RecordedKind {
    /// The name the file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordedKind::Failed => "failed",
            RecordedKind::LostUpdate => Kind::LostUpdate.as_str(),
            RecordedKind::Invariant => Kind::Invariant.as_str(),
            RecordedKind::Deadlock => Kind::Deadlock.as_str(),
            RecordedKind::Panic => Kind::Panic.as_str(),
            RecordedKind::Livelock => Kind::Livelock.as_str(),
        }
    }

    /// Whether an execution that failed with `kind` shows the recorded failure (`failed`
    /// stands for every kind but a lost update).
    pub fn matches(self, kind: Kind) -> bool {
        match self {
            RecordedKind::Failed => kind != Kind::LostUpdate,
            recorded => recorded == RecordedKind::from(kind),
        }
    }
}

/// The schedule to replay: the one section every target's file writes and reads alike.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRecord {
    /// Preemptions in the schedule.
    pub preemptions: u64,
    /// Scheduling decisions in its execution.
    pub steps: u64,
    /// How sure contend is that it is minimal.
    pub minimality: Minimality,
    /// Steps after which the execution is abandoned as a livelock, where one was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u64>,
    /// The values the execution's controlled randomness drew, in order (written as the signed
    /// 64-bit words of the same bits: a TOML integer is signed).
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "signed_words")]
    pub random_values: Vec<u64>,
    /// The decisions that depart from the default rule (run the current task while it can).
    pub choices: Vec<Choice>,
}

/// Unsigned 64-bit words as TOML can hold them: each as the signed word of the same bits.
mod signed_words {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes each value as the `i64` of its bits.
    pub(super) fn serialize<S: Serializer>(values: &[u64], to: S) -> Result<S::Ok, S::Error> {
        to.collect_seq(values.iter().map(|&value| value as i64))
    }

    /// Reads each `i64` back as the `u64` of its bits.
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(from: D) -> Result<Vec<u64>, D::Error> {
        let words = Vec::<i64>::deserialize(from)?;
        Ok(words.into_iter().map(|word| word as u64).collect())
    }
}

/// Where the original failing execution came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginalRecord {
    /// The engine that showed the failure.
    pub engine: String,
    /// The index of the failing execution within its run.
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
        "{}: schedule format version {found}, but this contend reads versions 2 and \
         {FORMAT_VERSION} (written by contend {contend}); re-run the scenario to record it again",
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
            line_column: span.map(|s| crate::words::line_column(text, s.start)),
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

impl Target {
    /// The scenario's or the check's name.
    pub fn name(&self) -> &str {
        match self {
            Target::Counter(counter) => &counter.name,
            Target::Workload(workload) => &workload.name,
            Target::Check(check) => &check.name,
        }
    }
}

impl CheckTarget {
    /// The `cargo test` command that replays the check's file at `path`: the one saved with
    /// it, or, for a file of version 2 (which named none), the check's test by its name.
    pub fn replay_command(&self, path: &Path) -> String {
        if !self.command.is_empty() {
            return self.command.clone();
        }
        format!(
            "{}={} cargo test --release {} -- --nocapture",
            crate::check::REPLAY_VARIABLE,
            path.display(),
            self.name
        )
    }
}

impl ScheduleFile {
    /// A file of this version of the format.
    pub fn new(
        target: Target,
        failure: FailureRecord,
        schedule: ScheduleRecord,
        original: OriginalRecord,
    ) -> ScheduleFile {
        ScheduleFile {
            format: FORMAT.to_string(),
            version: FORMAT_VERSION,
            contend_version: env!("CARGO_PKG_VERSION").to_string(),
            shuttle_version: SHUTTLE_VERSION.to_string(),
            target,
            failure,
            schedule,
            original,
        }
    }

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

    /// The counter scenario the schedule runs, if its target is one.
    pub fn counter(&self) -> Option<&CounterTarget> {
        match &self.target {
            Target::Counter(counter) => Some(counter),
            _ => None,
        }
    }

    /// The plugin workload or program scenario the schedule runs, if its target is one.
    pub fn workload(&self) -> Option<&WorkloadTarget> {
        match &self.target {
            Target::Workload(workload) => Some(workload),
            _ => None,
        }
    }

    /// The check the schedule runs, if its target is one.
    pub fn check(&self) -> Option<&CheckTarget> {
        match &self.target {
            Target::Check(check) => Some(check),
            _ => None,
        }
    }

    /// Reads and checks a schedule file.
    pub fn load(path: &Path) -> Result<ScheduleFile, ScheduleFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScheduleFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Checks schedule file text of any version this contend reads; `path` only names the
    /// file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<ScheduleFile, ScheduleFileError> {
        let invalid =
            |span: Option<std::ops::Range<usize>>, message: String| ScheduleFileError::Invalid {
                location: FileLocation::at(path, text, span),
                message,
            };
        // The header first, so that a file of another format or version is named as such
        // rather than as a file with unknown keys. Only the top-level keys, before the first
        // table: a long schedule's choices are parsed once, below.
        let header: Header = toml::from_str(top_level(text))
            .or_else(|_| toml::from_str(text))
            .map_err(|e| invalid(e.span(), e.message().trim().replace('\n', " ")))?;
        let legacy = match header.format.as_deref() {
            Some(FORMAT) if header.version == Some(legacy::VERSION) => Some(FORMAT.to_string()),
            Some(FORMAT) => None,
            Some(format) if legacy::FORMATS.contains(&format) => Some(format.to_string()),
            _ => {
                return Err(invalid(
                    None,
                    format!("not a contend schedule file (it lacks `format = \"{FORMAT}\"`)"),
                ));
            }
        };
        if let Some(format) = legacy {
            let digest = header.version_and_digest(legacy::VERSION, text, path)?;
            return legacy::parse(&format, text, path, digest);
        }
        let (digest, line) = header.version_and_digest(FORMAT_VERSION, text, path)?;
        let (mut file, choices): (ScheduleFile, _) =
            parse_with_choices(text, "schedule", line, path)?;
        if let Some(choices) = choices {
            file.schedule.choices = choices;
        }
        file.check_fields()
            .map_err(|message| invalid(None, message))?;
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

    /// The file's text: a comment on how to replay it, the header with the digest, and the
    /// records (the choices written by hand: TOML's writer builds a document of millions of
    /// pairs in memory first).
    pub fn to_toml(&self) -> String {
        let comment = match &self.target {
            Target::Check(check) => format!(
                "# A failing schedule of check `{}`, recorded by contend. Replay it by running the\n\
                 # check again with CONTEND_REPLAY set to this file's path:\n\
                 # {}\n",
                check.name.escape_debug(),
                check.command.escape_debug()
            ),
            Target::Counter(_) | Target::Workload(_) => {
                "# A failing schedule recorded by contend. Replay it with `contend replay FILE`\n\
                 # (a harness's own workload: `HARNESS replay FILE`): exit 1 while the failure\n\
                 # reproduces, 0 once it no longer does.\n"
                    .to_string()
            }
        };
        let mut light = self.clone();
        let choices = std::mem::take(&mut light.schedule.choices);
        let body = toml::to_string(&light).expect("a schedule file is plain data");
        text::with_choices(comment, &self.digest(), &body, "schedule", &choices)
    }

    /// Writes the file as `path`, whole or not at all (a temporary file renamed over whatever
    /// `path` was).
    pub fn write_as(&self, path: &Path) -> io::Result<()> {
        text::write_whole(path, &self.to_toml())
    }

    /// Saves the file in `folder` under a name made from the target's, never overwriting an
    /// existing file: `NAME.schedule.toml`, else `NAME-2.schedule.toml`, and so on.
    pub fn save_in(&self, folder: &Path) -> io::Result<PathBuf> {
        save_schedule_text(folder, self.target.name(), &self.to_toml())
    }
}

#[cfg(feature = "runner")]
impl ScheduleFile {
    /// The names of the shrunk counter's threads, as the scenario called them (none for
    /// another target).
    pub fn minimal_names(&self) -> Vec<String> {
        self.counter()
            .map(|counter| {
                counter
                    .shrunk
                    .threads
                    .iter()
                    .enumerate()
                    .map(|(i, t)| t.name.clone().unwrap_or_else(|| super::task_name(i + 1)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(feature = "runner")]
impl CounterTarget {
    /// The shrunk counter the schedule runs.
    pub fn minimal_counter(&self) -> crate::scenario::CounterSpec {
        let threads: Vec<(i64, u64)> = self
            .shrunk
            .threads
            .iter()
            .map(|t| (t.delta, t.ops))
            .collect();
        let mut counter =
            crate::scenario::CounterSpec::new(self.shrunk.initial, &threads, self.sync);
        if self.workload == "counter-object" {
            counter.object = Some(crate::scenario::ObjectSettings {
                max_pause: self.max_pause_ms.map_or(
                    crate::scenario::DEFAULT_MAX_PAUSE,
                    std::time::Duration::from_millis,
                ),
            });
        }
        counter
    }
}

/// Thread records of a counter's threads; with `origins`, each names the scenario's thread it
/// came from.
#[cfg(feature = "runner")]
pub fn thread_records(
    counter: &crate::scenario::CounterSpec,
    origins: Option<&[usize]>,
) -> Vec<ThreadRecord> {
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
    use super::*;
    use crate::sync_mode::SyncMode;

    /// A file of each target, with a failure of `kind`.
    fn files(kind: Kind) -> Vec<ScheduleFile> {
        let failure = FailureRecord {
            kind: RecordedKind::from(kind),
            description: "what happened".into(),
            lost_updates: None,
            final_value: None,
            expected_final: None,
        };
        let schedule = ScheduleRecord {
            preemptions: 1,
            steps: 20,
            minimality: Minimality::Proven,
            max_steps: Some(1000),
            random_values: vec![3, u64::MAX],
            choices: vec![Choice { step: 4, task: 2 }],
        };
        let original = OriginalRecord {
            engine: "shuttle".into(),
            execution: 7,
            steps: Some(30),
            preemptions: Some(3),
            choices: None,
        };
        let thread = |name: Option<&str>| ThreadRecord {
            name: name.map(str::to_string),
            delta: 1,
            ops: 2,
        };
        let params: toml::Table = toml::from_str("threads = 2\nlocked = false").unwrap();
        let targets = [
            Target::Counter(CounterTarget {
                name: "racy".into(),
                workload: "counter".into(),
                engine: "shuttle".into(),
                scheduler: Some("pct".into()),
                seed: 1,
                sync: SyncMode::None,
                initial: 0,
                threads: vec![thread(None), thread(None), thread(None)],
                max_pause_ms: None,
                shrunk: ShrunkCounter {
                    initial: 0,
                    threads: vec![thread(Some("Thread-1")), thread(Some("Thread-3"))],
                },
            }),
            Target::Workload(WorkloadTarget {
                name: "transfer".into(),
                workload: "transfer".into(),
                engine: "threads".into(),
                seed: 2,
                params: params.clone(),
                shrunk: params,
            }),
            Target::Check(CheckTarget {
                name: "racy_check".into(),
                command: "CONTEND_REPLAY=f cargo test --release racy_check -- --nocapture".into(),
                scheduler: "pct".into(),
                depth: Some(3),
                seed: 3,
            }),
        ];
        targets
            .into_iter()
            .map(|target| {
                let mut failure = failure.clone();
                if matches!(target, Target::Counter(_)) {
                    failure.lost_updates = Some(0);
                    failure.expected_final = Some(4);
                }
                ScheduleFile::new(target, failure, schedule.clone(), original.clone())
            })
            .collect()
    }

    #[test]
    fn every_target_is_written_and_read_back_by_the_one_format() {
        for file in files(Kind::Deadlock) {
            let text = file.to_toml();
            assert!(text.contains("\n[schedule]\n") && text.contains("\n[target]\n"));
            assert!(text.contains("choices = [[4, 2]]\n"), "{text}");
            let read = ScheduleFile::parse(&text, Path::new("f.toml")).unwrap();
            assert_eq!(read, file);
        }
    }

    #[test]
    fn a_failure_is_written_by_its_kind_and_failed_is_only_read_in_version_2_regression() {
        // A counter's file said `failed` for every failure but a lost update.
        for file in files(Kind::Livelock) {
            let text = file.to_toml();
            assert!(text.contains("\nkind = \"livelock\"\n"), "{text}");
            let mut failed = file.clone();
            failed.failure.kind = RecordedKind::Failed;
            let error = ScheduleFile::parse(&failed.to_toml(), Path::new("f.toml"))
                .unwrap_err()
                .to_string();
            assert!(error.contains("only read in files of version 2"), "{error}");
        }
    }

    #[test]
    fn a_file_of_an_unknown_version_or_target_is_named_as_such() {
        let text = files(Kind::Panic)[0].to_toml();
        let error = ScheduleFile::parse(
            &text.replace("\nversion = 3\n", "\nversion = 4\n"),
            Path::new("f.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("schedule format version 4"), "{error}");
        let error = ScheduleFile::parse(
            &text.replace("kind = \"counter\"", "kind = \"spaceship\""),
            Path::new("f.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.starts_with("f.toml") && error.contains("spaceship"),
            "{error}"
        );
    }

    #[test]
    fn the_recorded_shuttle_version_is_the_one_built_with() {
        let lock = include_str!("../../../Cargo.lock");
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
