//! A config's errors, and where in the file each one is.

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

/// A config that could not be read or is not valid.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the config", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid config.
    #[error("{location}: {message}")]
    Invalid {
        /// Where.
        location: Location,
        /// What is wrong.
        message: String,
    },
}

/// A place in a config file: file, line and column where known, scenario and key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub path: PathBuf,
    /// 1-based line and column.
    pub line_column: Option<(usize, usize)>,
    /// The scenario's name, where known.
    pub scenario: Option<String>,
    /// The key, where known.
    pub key: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some((line, column)) = self.line_column {
            write!(f, ":{line}:{column}")?;
        }
        match (&self.scenario, &self.key) {
            (Some(scenario), Some(key)) => write!(f, ": scenario `{scenario}`, key `{key}`"),
            (Some(scenario), None) => write!(f, ": scenario `{scenario}`"),
            (None, Some(key)) => write!(f, ": key `{key}`"),
            (None, None) => Ok(()),
        }
    }
}
