//! Reading a config: the file or its text, `[defaults]`, the command line's overrides and the
//! scenarios they select.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use crate::scenario::{Origin, Scenario};

use super::error::ConfigError;
use super::limits::MAX_JOBS;
use super::raw::{RawFile, RawScenario};
use super::source::Source;

/// What the command line overrides in every scenario.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// Every scenario's seed.
    pub seed: Option<u64>,
    /// Every scenario's number of runs.
    pub runs: Option<u64>,
    /// Every scenario's engine (its other engine's keys are dropped).
    pub engine: Option<String>,
    /// Every scenario's time budget.
    pub time: Option<Duration>,
    /// Only the scenarios with these names (all when `None`); the others are not validated.
    pub only: Option<Vec<String>>,
}

/// The scenarios a config selects, and the names of all it defines.
#[derive(Clone, Debug)]
pub struct Selected {
    /// The scenarios selected, validated.
    pub scenarios: Vec<Scenario>,
    /// Every scenario name the config defines, selected or not.
    pub names: Vec<String>,
    /// The worker threads `[defaults]` asks for (`jobs`), if it does.
    pub jobs: Option<usize>,
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Vec<Scenario>, ConfigError> {
    load_with(path, &Overrides::default())
}

/// Reads and validates a config file, with command-line overrides.
pub fn load_with(path: &Path, overrides: &Overrides) -> Result<Vec<Scenario>, ConfigError> {
    load_selected(path, overrides).map(|selected| selected.scenarios)
}

/// Reads a config file and validates the scenarios the overrides select.
pub fn load_selected(path: &Path, overrides: &Overrides) -> Result<Selected, ConfigError> {
    let source = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_selected(&source, path, overrides)
}

/// Validates config text; `path` only names the file in errors.
pub fn parse(source: &str, path: &Path) -> Result<Vec<Scenario>, ConfigError> {
    parse_with(source, path, &Overrides::default())
}

/// Validates config text with command-line overrides; `path` only names the file in errors.
pub fn parse_with(
    source: &str,
    path: &Path,
    overrides: &Overrides,
) -> Result<Vec<Scenario>, ConfigError> {
    parse_selected(source, path, overrides).map(|selected| selected.scenarios)
}

/// Validates the scenarios of config text that the overrides select.
pub fn parse_selected(
    source: &str,
    path: &Path,
    overrides: &Overrides,
) -> Result<Selected, ConfigError> {
    let file = Source { text: source, path };
    let raw: RawFile = toml::from_str(source).map_err(|e| file.toml_error(&e))?;
    if raw.scenario.is_empty() {
        return Err(file.error(
            None,
            None,
            None,
            "the config has no [[scenario]] table".into(),
        ));
    }
    let defaults = defaults_of(&file, raw.defaults)?;
    let jobs = jobs_of(&file, &defaults)?;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut scenarios = Vec::with_capacity(raw.scenario.len());
    let mut names = Vec::with_capacity(raw.scenario.len());
    for raw_scenario in raw.scenario {
        let table = raw_scenario.span();
        let mut raw_scenario = raw_scenario.into_inner().with_defaults(&defaults);
        if let Some(engine) = &overrides.engine {
            raw_scenario = raw_scenario.on_engine(engine, table.clone());
        }
        let header_at = header_before(source, table.start, table.start);
        let name_key = unique_name(&file, &raw_scenario, header_at, &seen)?;
        let name = name_key.get_ref().clone();
        seen.insert(name.clone(), file.line_column(name_key.span().start).0);
        names.push(name.clone());
        if overrides
            .only
            .as_ref()
            .is_some_and(|only| !only.contains(&name))
        {
            continue;
        }
        let header_at = header_before(source, name_key.span().start, header_at);
        let mut scenario = file.scenario(raw_scenario, header_at)?;
        scenario.origin = Some(Origin {
            file: path.to_path_buf(),
            line: file.line_column(header_at).0,
        });
        apply_overrides(&mut scenario, overrides);
        scenarios.push(scenario);
    }
    Ok(Selected {
        scenarios,
        names,
        jobs,
    })
}

/// The `[defaults]` table (empty when there is none), which may not name a scenario.
fn defaults_of(
    file: &Source<'_>,
    defaults: Option<Spanned<RawScenario>>,
) -> Result<RawScenario, ConfigError> {
    let Some(defaults) = defaults else {
        return Ok(RawScenario::default());
    };
    if let Some(name) = &defaults.get_ref().name {
        return Err(file.error(
            Some(name.span()),
            None,
            Some("defaults.name"),
            "`name` has no default: each scenario names itself".into(),
        ));
    }
    Ok(defaults.into_inner())
}

/// The worker threads `[defaults]` asks for (`jobs`), checked against [`MAX_JOBS`].
fn jobs_of(file: &Source<'_>, defaults: &RawScenario) -> Result<Option<usize>, ConfigError> {
    match &defaults.jobs {
        None => Ok(None),
        Some(jobs) if (1..=MAX_JOBS).contains(jobs.get_ref()) => Ok(Some(*jobs.get_ref() as usize)),
        Some(jobs) => Err(file.error(
            Some(jobs.span()),
            None,
            Some("defaults.jobs"),
            format!(
                "jobs must be between 1 and {MAX_JOBS}, got {}",
                jobs.get_ref()
            ),
        )),
    }
}

/// The offset of the last `[[scenario]]` header before offset `before` of `source`, or
/// `fallback` if there is none.
fn header_before(source: &str, before: usize, fallback: usize) -> usize {
    source[..before.min(source.len())]
        .rfind("[[scenario]]")
        .unwrap_or(fallback)
}

/// The scenario's `name` key, which it must have and no earlier scenario may have used
/// (`seen` holds the line of each name used).
fn unique_name(
    file: &Source<'_>,
    raw_scenario: &RawScenario,
    header_at: usize,
    seen: &HashMap<String, usize>,
) -> Result<Spanned<String>, ConfigError> {
    let Some(name_key) = raw_scenario.name.clone() else {
        return Err(file.error(
            Some(header_at..header_at),
            None,
            Some("name"),
            "missing field `name`: every [[scenario]] needs one".into(),
        ));
    };
    let name = name_key.get_ref();
    if let Some(first_line) = seen.get(name) {
        return Err(file.error(
            Some(name_key.span()),
            Some(name),
            Some("name"),
            format!("duplicate scenario name `{name}` (first used on line {first_line})"),
        ));
    }
    Ok(name_key)
}

/// Sets what the command line overrides in `scenario`: its seed, runs and time budget.
fn apply_overrides(scenario: &mut Scenario, overrides: &Overrides) {
    if let Some(seed) = overrides.seed {
        scenario.seed = seed;
    }
    if let Some(runs) = overrides.runs {
        scenario.runs = runs;
    }
    if let Some(time) = overrides.time {
        scenario.time = Some(time);
    }
}
