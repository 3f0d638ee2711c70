//! Schedule files of plugin workloads: the scenario, the (shrunk) parameters, and the choices
//! of the minimal failing schedule. `contend replay` reads them in the program that registered
//! the workload (a harness binary), which runs its body again through the same interleaving.
//! Like a counter's schedule file, one carries a digest of everything it holds, and every field
//! is checked: an edited or damaged file is refused.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Choice;
use super::file::{
    EDITED, ENGINES, FileLocation, Header, ScheduleFileError, digest_of, save_schedule_text,
    top_level,
};
use super::search::{FailureKind, Minimality};
use crate::failure::Kind;

/// The `format` every plugin workload's schedule file names.
pub const FORMAT: &str = "contend-workload-schedule";
/// The version of the format this contend writes and reads (2: with a `digest`).
pub const FORMAT_VERSION: u32 = 2;

/// The saved failing schedule of a plugin workload's scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSchedule {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// The contend that wrote the file.
    pub contend_version: String,
    /// The shuttle whose task ids and decisions the schedule counts.
    pub shuttle_version: String,
    /// The scenario.
    pub scenario: WorkloadScenario,
    /// The failure the schedule shows.
    pub failure: WorkloadFailure,
    /// The schedule.
    pub minimal: WorkloadMinimal,
}

/// The scenario a plugin workload's schedule was found in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadScenario {
    /// Its name.
    pub name: String,
    /// The plugin workload's name.
    pub workload: String,
    /// The engine the failure showed on.
    pub engine: String,
    /// Its seed.
    pub seed: u64,
    /// The index of the failing execution.
    pub execution: u64,
    /// The parameters of the scenario, as configured.
    pub params: toml::Table,
}

/// The failure of a plugin workload's schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadFailure {
    /// The kind of the failure: `lost-update`, `invariant`, `deadlock`, `panic` or
    /// `livelock` (`failed`, any kind but a lost update, in files of earlier versions).
    pub kind: RecordedKind,
    /// What happened, in words.
    pub description: String,
}

/// The kind of failure a plugin workload's schedule file records.
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
    /// Any failure but a lost update, as files of earlier versions recorded it.
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
            RecordedKind::Failed => FailureKind::Failed.as_str(),
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

/// The minimal failing schedule of a plugin workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadMinimal {
    /// The parameters it runs with: the scenario's, or a smaller variant of them.
    pub params: toml::Table,
    /// Its preemptions.
    pub preemptions: u64,
    /// Its scheduling decisions.
    pub steps: u64,
    /// How sure contend is that it is minimal.
    pub minimality: Minimality,
    /// The step bound it runs under.
    pub max_steps: u64,
    /// The values its controlled randomness drew.
    #[serde(default)]
    pub random_values: Vec<u64>,
    /// The decisions that depart from the default rule, as `[decision, task]` pairs.
    pub choices: Vec<Choice>,
}

impl WorkloadSchedule {
    /// Saves the file in `folder`, named after the scenario, never over another file.
    pub fn save_in(&self, folder: &Path) -> std::io::Result<PathBuf> {
        save_schedule_text(folder, &self.scenario.name, &self.to_toml()?)
    }

    /// The file's text: a comment, the digest, and the records.
    pub fn to_toml(&self) -> std::io::Result<String> {
        let body = toml::to_string(self).map_err(std::io::Error::other)?;
        Ok(format!(
            "# A failing schedule of a workload written on contend's primitives, recorded by\n\
             # contend. Replay it with `contend replay FILE` (a program of a config) or, for a\n\
             # harness's own workload, with the harness: `HARNESS replay FILE`.\n\
             digest = \"{}\"\n{body}",
            self.digest()
        ))
    }

    /// The digest of everything the file holds, as for a counter's schedule file.
    pub fn digest(&self) -> String {
        digest_of(self)
    }

    /// Reads a plugin workload's schedule file; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<WorkloadSchedule, ScheduleFileError> {
        let invalid =
            |span: Option<std::ops::Range<usize>>, message: String| ScheduleFileError::Invalid {
                location: FileLocation::at(path, text, span),
                message,
            };
        // The header first, so that a file of another version is named as such.
        let header: Header = toml::from_str(top_level(text))
            .map_err(|e| invalid(e.span(), e.message().trim().replace('\n', " ")))?;
        if header.format.as_deref() != Some(FORMAT) {
            return Err(invalid(
                None,
                format!("not a plugin workload's schedule file (it lacks `format = \"{FORMAT}\"`)"),
            ));
        }
        let (digest, line) = header.version_and_digest(FORMAT_VERSION, text, path)?;
        let mut rest = text.to_string();
        rest.replace_range(line.clone(), &" ".repeat(line.len()));
        let file: WorkloadSchedule = toml::from_str(&rest)
            .map_err(|e| invalid(e.span(), e.message().trim().replace('\n', " ")))?;
        file.check().map_err(|message| invalid(None, message))?;
        if digest != file.digest() {
            return Err(invalid(None, EDITED.into()));
        }
        Ok(file)
    }

    /// Checks what the types cannot, as strictly as a config: names, engine, the step bound,
    /// and choices that a search could have made.
    fn check(&self) -> Result<(), String> {
        let scenario = &self.scenario;
        if scenario.name.trim().is_empty() {
            return Err("scenario.name must not be empty".into());
        }
        if scenario.workload.trim().is_empty() {
            return Err("scenario.workload must not be empty".into());
        }
        if !ENGINES.contains(&scenario.engine.as_str()) {
            return Err(format!(
                "scenario.engine is `{}`, not an engine (expected one of: {})",
                scenario.engine.escape_debug(),
                ENGINES.join(", ")
            ));
        }
        let minimal = &self.minimal;
        if minimal.max_steps == 0 {
            return Err("minimal.max_steps must be at least 1".into());
        }
        if let Some(pair) = minimal.choices.windows(2).find(|w| w[0].step >= w[1].step) {
            return Err(format!(
                "minimal.choices must be in increasing order of their decision, but decision {} \
                 comes after decision {}",
                pair[1].step, pair[0].step
            ));
        }
        if let Some(last) = minimal.choices.last()
            && last.step >= minimal.steps
        {
            return Err(format!(
                "minimal.choices: decision {} is past the schedule's {} decisions",
                last.step, minimal.steps
            ));
        }
        if minimal.preemptions > minimal.choices.len() as u64 {
            return Err(format!(
                "minimal.preemptions is {}, but a preemption is a choice and there are {}",
                minimal.preemptions,
                minimal.choices.len()
            ));
        }
        Ok(())
    }

    /// Whether `text` is a plugin workload's schedule file (by its `format`).
    pub fn is_one(text: &str) -> bool {
        #[derive(Deserialize)]
        struct Header {
            format: Option<String>,
        }
        // The top-level keys only: a counter's long schedule is not parsed whole here.
        toml::from_str::<Header>(super::file::top_level(text))
            .is_ok_and(|h| h.format.as_deref() == Some(FORMAT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_kind_matches_its_own_kind_and_failed_matches_every_kind_but_a_lost_update() {
        for kind in [
            Kind::LostUpdate,
            Kind::Invariant,
            Kind::Deadlock,
            Kind::Panic,
            Kind::Livelock,
        ] {
            let recorded = RecordedKind::from(kind);
            assert_eq!(recorded.as_str(), kind.as_str());
            assert!(recorded.matches(kind));
            assert_eq!(RecordedKind::Failed.matches(kind), kind != Kind::LostUpdate);
        }
        assert!(!RecordedKind::Invariant.matches(Kind::Deadlock));
        let read: WorkloadFailure =
            toml::from_str("kind = \"failed\"\ndescription = \"an earlier file\"").unwrap();
        assert_eq!(read.kind, RecordedKind::Failed);
        assert_eq!(read.kind.as_str(), "failed");
    }
}
