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
use crate::schedule::digest::{EDITED, digest_of, take_digest};

/// The `format` every check schedule file names.
pub const FORMAT: &str = "contend-check-schedule";
/// The version of the format this contend writes and reads (2: with a `digest`).
pub const FORMAT_VERSION: u32 = 2;

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
    // The header first, so that a file of another format or version is named as such.
    #[derive(Deserialize)]
    struct Header {
        format: Option<String>,
        version: Option<u32>,
    }
    let header: Header = toml::from_str(crate::schedule::digest::top_level(&text))
        .map_err(|error| bad(error.to_string()))?;
    match header.format.as_deref() {
        Some(FORMAT) => {}
        Some(other) => return Err(bad(format!("its format is `{other}`, not `{FORMAT}`"))),
        None => return Err(bad(format!("it lacks `format = \"{FORMAT}\"`"))),
    }
    match header.version {
        Some(FORMAT_VERSION) => {}
        Some(found) => {
            return Err(bad(format!(
                "it is of version {found}; this contend reads version {FORMAT_VERSION}"
            )));
        }
        None => return Err(bad("it has no `version`".into())),
    }
    // The digest line is blanked out rather than removed, so that positions stay right.
    let (digest, line) = take_digest(&text).ok_or_else(|| bad("it has no `digest` line".into()))?;
    let mut rest = text.clone();
    rest.replace_range(line.clone(), &" ".repeat(line.len()));
    let file: CheckSchedule = toml::from_str(&rest).map_err(|error| bad(error.to_string()))?;
    if digest != digest_of(&file) {
        return Err(bad(EDITED.into()));
    }
    Ok(file)
}

/// The file's text: a comment, the digest of everything it holds, and the records.
fn to_text(file: &CheckSchedule) -> Result<String, String> {
    let body = toml::to_string(file).map_err(|error| error.to_string())?;
    Ok(format!(
        "# A failing schedule of a check, recorded by contend. Replay it by running the check\n\
         # again with CONTEND_REPLAY set to this file's path.\n\
         digest = \"{}\"\n{body}",
        digest_of(file)
    ))
}

/// Writes `file` as `dir/name`, whole or not at all (a temporary file renamed), creating `dir`.
pub(crate) fn save(dir: &Path, name: &str, file: &CheckSchedule) -> Result<PathBuf, String> {
    let text = to_text(file)?;
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
