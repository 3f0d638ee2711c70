//! Schedule files of plugin workloads: the scenario, the (shrunk) parameters, and the choices
//! of the minimal failing schedule. `contend replay` reads them in the program that registered
//! the workload (a harness binary), which runs its body again through the same interleaving.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Choice;
use super::file::{FileLocation, ScheduleFileError, save_schedule_text};
use super::search::{FailureKind, Minimality};

/// The `format` every plugin workload's schedule file names.
pub const FORMAT: &str = "contend-workload-schedule";
/// The version of the format this contend writes and reads.
pub const FORMAT_VERSION: u32 = 1;

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
    /// `lost-update` or `failed` (a panic, such as a broken invariant, a deadlock, a livelock).
    pub kind: FailureKind,
    /// What happened, in words.
    pub description: String,
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
        let text = toml::to_string(self).map_err(std::io::Error::other)?;
        save_schedule_text(folder, &self.scenario.name, &text)
    }

    /// Reads a plugin workload's schedule file; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<WorkloadSchedule, ScheduleFileError> {
        let file: WorkloadSchedule =
            toml::from_str(text).map_err(|error| ScheduleFileError::Invalid {
                location: FileLocation::at(path, text, error.span()),
                message: error.message().trim().replace('\n', " "),
            })?;
        if file.version != FORMAT_VERSION {
            return Err(ScheduleFileError::Version {
                path: path.to_path_buf(),
                found: file.version,
                contend: file.contend_version,
            });
        }
        if file
            .minimal
            .choices
            .windows(2)
            .any(|w| w[0].step >= w[1].step)
        {
            return Err(ScheduleFileError::Invalid {
                location: FileLocation::at(path, text, None),
                message: "the choices must be in increasing order of their decision".into(),
            });
        }
        Ok(file)
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
