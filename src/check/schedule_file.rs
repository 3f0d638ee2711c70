//! Schedule files of checks: the scheduling decisions of a failing controlled execution, enough
//! to run the same check body through the same interleaving again.
//!
//! The file is TOML. The schedule is written as contend's schedule files write theirs
//! ([`crate::schedule`]): the decisions where it departs from the default rule "keep running the
//! current thread while it can; when it blocks, finishes or yields, run the next one", each as a
//! `[decision, task]` pair, task 0 being the body's thread and task `i` the thread `Thread-i`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::report::CheckError;
use crate::schedule::Choice;

/// The `format` every check schedule file names.
pub const FORMAT: &str = "contend-check-schedule";
/// The version of the format this contend writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// A check's saved failing schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckSchedule {
    /// Always [`FORMAT`].
    pub(crate) format: String,
    /// [`FORMAT_VERSION`].
    pub(crate) version: u32,
    /// The contend that wrote the file.
    pub(crate) contend_version: String,
    /// The shuttle whose task ids and decisions the schedule counts.
    pub(crate) shuttle_version: String,
    /// The check's name: only that check replays the file.
    pub(crate) check: String,
    /// The scheduler that found the failure: `random` or `pct`.
    pub(crate) scheduler: String,
    /// PCT's depth, for `pct`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) depth: Option<usize>,
    /// The check's seed.
    pub(crate) seed: u64,
    /// The failing execution's index.
    pub(crate) execution: u64,
    /// The failure, in words.
    pub(crate) failure: String,
    /// Scheduling decisions the execution made.
    pub(crate) steps: u64,
    /// The step bound of the check.
    pub(crate) max_steps: u64,
    /// The decisions that depart from the default rule.
    pub(crate) choices: Vec<Choice>,
    /// The random values shuttle handed out (`shuttle::rand`), as signed 64-bit words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) random_values: Vec<i64>,
}

/// Reads and checks the schedule file at `path`.
pub(crate) fn load(path: &Path) -> Result<CheckSchedule, CheckError> {
    let text = std::fs::read_to_string(path).map_err(|source| CheckError::ReadSchedule {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |reason: String| CheckError::BadSchedule {
        path: path.to_path_buf(),
        reason,
    };
    let file: CheckSchedule = toml::from_str(&text).map_err(|error| bad(error.to_string()))?;
    if file.format != FORMAT {
        return Err(bad(format!(
            "its format is `{}`, not `{FORMAT}`",
            file.format
        )));
    }
    if file.version != FORMAT_VERSION {
        return Err(bad(format!(
            "it is of version {}; this contend reads version {FORMAT_VERSION}",
            file.version
        )));
    }
    Ok(file)
}

/// Writes `file` as `dir/name`, whole or not at all (a temporary file renamed), creating `dir`.
pub(crate) fn save(dir: &Path, name: &str, file: &CheckSchedule) -> Result<PathBuf, String> {
    let text = toml::to_string(file).map_err(|error| error.to_string())?;
    std::fs::create_dir_all(dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    let path = dir.join(name);
    let write = || -> std::io::Result<()> {
        let mut temporary = tempfile::Builder::new()
            .prefix(".contend-")
            .tempfile_in(dir)?;
        temporary.write_all(text.as_bytes())?;
        temporary.persist(&path).map_err(|error| error.error)?;
        Ok(())
    };
    write().map_err(|error| format!("{}: {error}", path.display()))?;
    Ok(path)
}
