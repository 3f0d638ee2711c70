//! The schedule files of version 2, read into the one format: `contend-schedule` (a built-in
//! counter's scenario), `contend-workload-schedule` (a plugin workload's or a program's) and
//! `contend-check-schedule` (a check's). Users have saved them: each loads, is checked against
//! its own digest (computed over its own records, as when it was written) and replays as
//! before. Nothing writes them any more.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::text::parse_with_choices;
use super::{
    CheckTarget, CounterTarget, EDITED, FORMAT, FailureRecord, FileLocation, OriginalRecord,
    RecordedKind, ScheduleFile, ScheduleFileError, ScheduleRecord, ShrunkCounter, Target,
    ThreadRecord, WorkloadTarget, digest_of,
};
use crate::schedule::Choice;
use crate::schedule::search::Minimality;
use crate::sync_mode::SyncMode;

/// The version of every format of this module.
pub const VERSION: u32 = 2;
/// The format of a plugin workload's or a program's schedule file of version 2.
pub const WORKLOAD_FORMAT: &str = "contend-workload-schedule";
/// The format of a check's schedule file of version 2.
pub const CHECK_FORMAT: &str = "contend-check-schedule";
/// Every format of version 2.
pub const FORMATS: [&str; 3] = [FORMAT, WORKLOAD_FORMAT, CHECK_FORMAT];

/// Reads `text` (at `path`, for errors), a file of version 2 in `format`, into the one format.
pub(crate) fn parse(
    format: &str,
    text: &str,
    path: &Path,
    digest: (String, std::ops::Range<usize>),
) -> Result<ScheduleFile, ScheduleFileError> {
    let file = match format {
        WORKLOAD_FORMAT => read::<WorkloadV2>(text, path, digest)?.into(),
        CHECK_FORMAT => read::<CheckV2>(text, path, digest)?.into(),
        _ => read::<CounterV2>(text, path, digest)?.into(),
    };
    // The records were checked against the digest they were written with; what the types
    // cannot tell is checked as in a file of this version.
    let file = ScheduleFile {
        version: VERSION,
        ..file
    };
    file.check_fields()
        .map_err(|message| ScheduleFileError::Invalid {
            location: FileLocation::at(path, text, None),
            message,
        })?;
    Ok(file)
}

/// A file of version 2 whose choices sit in table `[minimal]` (or at the top, for a check).
trait V2: Serialize + serde::de::DeserializeOwned {
    /// Its choices.
    fn choices(&mut self) -> &mut Vec<Choice>;
}

/// Reads the records of a file of version 2 and checks them against its digest.
fn read<T: V2>(
    text: &str,
    path: &Path,
    (digest, line): (String, std::ops::Range<usize>),
) -> Result<T, ScheduleFileError> {
    let (mut file, choices): (T, _) = parse_with_choices(text, "minimal", line, path)?;
    if let Some(choices) = choices {
        *file.choices() = choices;
    }
    if digest != digest_of(&file) {
        return Err(ScheduleFileError::Invalid {
            location: FileLocation::at(path, text, None),
            message: EDITED.into(),
        });
    }
    Ok(file)
}

/// A counter's schedule file of version 2 (`contend-schedule`): its records in the order and
/// form its digest was computed over.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CounterV2 {
    format: String,
    version: u32,
    contend_version: String,
    shuttle_version: String,
    scenario: CounterScenarioV2,
    failure: CounterFailureV2,
    minimal: CounterMinimalV2,
    original: OriginalRecord,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CounterScenarioV2 {
    name: String,
    workload: String,
    engine: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scheduler: Option<String>,
    seed: u64,
    sync: SyncMode,
    initial: i64,
    threads: Vec<ThreadRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_pause_ms: Option<u64>,
}

/// `lost-update`, or `failed` for any other kind.
#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum CounterKindV2 {
    LostUpdate,
    Failed,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CounterFailureV2 {
    kind: CounterKindV2,
    lost_updates: u64,
    #[serde(default, rename = "final", skip_serializing_if = "Option::is_none")]
    final_value: Option<i64>,
    expected_final: i64,
    description: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CounterMinimalV2 {
    initial: i64,
    threads: Vec<ThreadRecord>,
    preemptions: u64,
    steps: u64,
    minimality: Minimality,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_steps: Option<u64>,
    choices: Vec<Choice>,
}

impl V2 for CounterV2 {
    fn choices(&mut self) -> &mut Vec<Choice> {
        &mut self.minimal.choices
    }
}

impl From<CounterV2> for ScheduleFile {
    fn from(v2: CounterV2) -> ScheduleFile {
        let (scenario, minimal) = (v2.scenario, v2.minimal);
        ScheduleFile {
            contend_version: v2.contend_version,
            shuttle_version: v2.shuttle_version,
            ..ScheduleFile::new(
                Target::Counter(CounterTarget {
                    name: scenario.name,
                    workload: scenario.workload,
                    engine: scenario.engine,
                    scheduler: scenario.scheduler,
                    seed: scenario.seed,
                    sync: scenario.sync,
                    initial: scenario.initial,
                    threads: scenario.threads,
                    max_pause_ms: scenario.max_pause_ms,
                    shrunk: ShrunkCounter {
                        initial: minimal.initial,
                        threads: minimal.threads,
                    },
                }),
                FailureRecord {
                    kind: match v2.failure.kind {
                        CounterKindV2::LostUpdate => RecordedKind::LostUpdate,
                        CounterKindV2::Failed => RecordedKind::Failed,
                    },
                    description: v2.failure.description,
                    lost_updates: Some(v2.failure.lost_updates),
                    final_value: v2.failure.final_value,
                    expected_final: Some(v2.failure.expected_final),
                },
                ScheduleRecord {
                    preemptions: minimal.preemptions,
                    steps: minimal.steps,
                    minimality: minimal.minimality,
                    max_steps: minimal.max_steps,
                    random_values: Vec::new(),
                    choices: minimal.choices,
                },
                v2.original,
            )
        }
    }
}

/// A plugin workload's or a program's schedule file of version 2
/// (`contend-workload-schedule`).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkloadV2 {
    format: String,
    version: u32,
    contend_version: String,
    shuttle_version: String,
    scenario: WorkloadScenarioV2,
    failure: WorkloadFailureV2,
    minimal: WorkloadMinimalV2,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkloadScenarioV2 {
    name: String,
    workload: String,
    engine: String,
    seed: u64,
    execution: u64,
    params: toml::Table,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkloadFailureV2 {
    kind: RecordedKind,
    description: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkloadMinimalV2 {
    params: toml::Table,
    preemptions: u64,
    steps: u64,
    minimality: Minimality,
    max_steps: u64,
    #[serde(default)]
    random_values: Vec<u64>,
    choices: Vec<Choice>,
}

impl V2 for WorkloadV2 {
    fn choices(&mut self) -> &mut Vec<Choice> {
        &mut self.minimal.choices
    }
}

impl From<WorkloadV2> for ScheduleFile {
    fn from(v2: WorkloadV2) -> ScheduleFile {
        let (scenario, minimal) = (v2.scenario, v2.minimal);
        ScheduleFile {
            contend_version: v2.contend_version,
            shuttle_version: v2.shuttle_version,
            ..ScheduleFile::new(
                Target::Workload(WorkloadTarget {
                    name: scenario.name,
                    workload: scenario.workload,
                    engine: scenario.engine.clone(),
                    seed: scenario.seed,
                    params: scenario.params,
                    shrunk: minimal.params,
                }),
                FailureRecord {
                    kind: v2.failure.kind,
                    description: v2.failure.description,
                    lost_updates: None,
                    final_value: None,
                    expected_final: None,
                },
                ScheduleRecord {
                    preemptions: minimal.preemptions,
                    steps: minimal.steps,
                    minimality: minimal.minimality,
                    max_steps: Some(minimal.max_steps),
                    random_values: minimal.random_values,
                    choices: minimal.choices,
                },
                OriginalRecord {
                    engine: scenario.engine,
                    execution: scenario.execution,
                    steps: None,
                    preemptions: None,
                    choices: None,
                },
            )
        }
    }
}

/// A check's schedule file of version 2 (`contend-check-schedule`): every record at the top.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckV2 {
    format: String,
    version: u32,
    contend_version: String,
    shuttle_version: String,
    check: String,
    scheduler: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    depth: Option<usize>,
    seed: u64,
    execution: u64,
    failure: String,
    steps: u64,
    max_steps: u64,
    choices: Vec<Choice>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    random_values: Vec<i64>,
}

impl V2 for CheckV2 {
    fn choices(&mut self) -> &mut Vec<Choice> {
        &mut self.choices
    }
}

impl From<CheckV2> for ScheduleFile {
    fn from(v2: CheckV2) -> ScheduleFile {
        // A check's file of version 2 said its failure in words only: a lost update as
        // "N lost update(s) on CELL: ...", any other kind by its message.
        let kind = if v2.failure.contains(" lost update(s) on ") {
            RecordedKind::LostUpdate
        } else {
            RecordedKind::Failed
        };
        ScheduleFile {
            contend_version: v2.contend_version,
            shuttle_version: v2.shuttle_version,
            ..ScheduleFile::new(
                Target::Check(CheckTarget {
                    // The file's path is not known here: the command is completed by whoever
                    // names it (see `CheckTarget::replay_command`).
                    command: String::new(),
                    name: v2.check,
                    scheduler: v2.scheduler,
                    depth: v2.depth,
                    seed: v2.seed,
                }),
                FailureRecord {
                    kind,
                    description: v2.failure,
                    lost_updates: None,
                    final_value: None,
                    expected_final: None,
                },
                ScheduleRecord {
                    // Version 2 kept neither: every choice counts as a preemption at most,
                    // and the schedule as not known to be minimal.
                    preemptions: v2.choices.len() as u64,
                    steps: v2.steps,
                    minimality: Minimality::NotShrunk,
                    max_steps: Some(v2.max_steps),
                    random_values: v2.random_values.iter().map(|&v| v as u64).collect(),
                    choices: v2.choices,
                },
                OriginalRecord {
                    engine: "shuttle".to_string(),
                    execution: v2.execution,
                    steps: None,
                    preemptions: None,
                    choices: None,
                },
            )
        }
    }
}
