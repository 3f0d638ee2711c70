//! Validating a scenario of a plugin workload (a program, or a harness's own), and its
//! parameters.

use std::ops::Range;
use std::sync::Arc;

use toml::Spanned;

use crate::scenario::{EngineSpec, Scenario, ThreadsSettings, WorkloadSpec};
use crate::sync::DEFAULT_DEADLOCK_TIMEOUT;
use crate::workload::plugin::{ErasedPlugin, ParamsError, PluginEngine};
use crate::workload::program;

use super::error::ConfigError;
use super::raw::RawScenario;
use super::scenario::Common;
use super::source::{Source, span_of};

impl Source<'_> {
    /// A scenario of a plugin workload: the common keys, its engine (one the plugin runs on),
    /// and its `params` read into the plugin's own type.
    pub(super) fn plugin_scenario(
        &self,
        raw: RawScenario,
        plugin: Arc<dyn ErasedPlugin>,
        engine_key: Spanned<String>,
        expect_key: Spanned<String>,
    ) -> Result<Scenario, ConfigError> {
        let name = raw
            .name
            .as_ref()
            .map(|n| n.get_ref().clone())
            .unwrap_or_default();
        let workload = plugin.name();
        self.reject_counter_keys(&raw, &name, workload)?;
        if engine_key.get_ref() != "threads" {
            self.reject_written(&name, &[("jitter", span_of(&raw.jitter))], |_| {
                "`jitter` applies to the threads engine: under shuttle the scheduler chooses \
                 every interleaving"
                    .to_string()
            })?;
        }
        let Common {
            runs,
            seed,
            expect,
            time,
        } = self.common(&raw, &name, &expect_key)?;
        let engine = self.plugin_engine(&raw, &name, plugin.as_ref(), &engine_key)?;
        self.reject_off_engine_keys(&raw, &name, workload, &engine_key)?;
        let (params_value, params_span) = self.plugin_params(&raw, workload, &name, &engine_key)?;
        let spec = plugin
            .params(params_value)
            .map_err(|error| self.params_error(error, params_span, &name, workload))?;
        Ok(Scenario {
            name,
            workload: WorkloadSpec::Plugin(spec),
            engine,
            runs,
            seed,
            expect,
            origin: None,
            time,
        })
    }

    /// Checks that a plugin scenario gives none of the counter workloads' keys.
    fn reject_counter_keys(
        &self,
        raw: &RawScenario,
        name: &str,
        workload: &str,
    ) -> Result<(), ConfigError> {
        self.reject_written(
            name,
            &[
                ("sync", span_of(&raw.sync)),
                ("threads", span_of(&raw.threads)),
                ("workers", span_of(&raw.workers)),
                ("increments", span_of(&raw.increments)),
                ("max_pause_ms", span_of(&raw.max_pause_ms)),
                ("barrier", span_of(&raw.barrier)),
                ("parallel", span_of(&raw.parallel)),
                ("initial", span_of(&raw.initial)),
            ],
            |key| {
                format!(
                    "`{key}` applies to the counter workloads; workload `{workload}` takes \
                     its parameters in {}",
                    params_table(workload)
                )
            },
        )
    }

    /// A plugin scenario's engine, one that the plugin runs on, with its settings.
    fn plugin_engine(
        &self,
        raw: &RawScenario,
        name: &str,
        plugin: &dyn ErasedPlugin,
        engine_key: &Spanned<String>,
    ) -> Result<EngineSpec, ConfigError> {
        let engines = plugin.engines();
        Ok(match engine_key.get_ref().as_str() {
            "shuttle" if engines.contains(&PluginEngine::Shuttle) => {
                EngineSpec::Shuttle(self.shuttle_settings(raw, name)?)
            }
            "threads" if engines.contains(&PluginEngine::Threads) => {
                EngineSpec::Threads(ThreadsSettings {
                    jitter: self.jitter_or_default(raw, name)?,
                    deadlock_timeout: match &raw.deadlock_timeout {
                        Some(text) => self.duration(text, name, "deadlock_timeout")?,
                        None => DEFAULT_DEADLOCK_TIMEOUT,
                    },
                    ..ThreadsSettings::default()
                })
            }
            other => {
                return Err(self.invalid(
                    engine_key.span(),
                    name,
                    "engine",
                    format!(
                        "workload `{}` runs on the {} engines, not `{other}`",
                        plugin.name(),
                        engines
                            .iter()
                            .map(|engine| engine.as_str())
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                ));
            }
        })
    }

    /// Checks that a plugin scenario gives no key of an engine other than its own.
    fn reject_off_engine_keys(
        &self,
        raw: &RawScenario,
        name: &str,
        workload: &str,
        engine_key: &Spanned<String>,
    ) -> Result<(), ConfigError> {
        self.reject_written(
            name,
            &[
                ("executor", span_of(&raw.executor)),
                (
                    "await_in_critical_section",
                    span_of(&raw.await_in_critical_section),
                ),
                ("storage", span_of(&raw.storage)),
                ("timeout", span_of(&raw.timeout)),
            ],
            |key| format!("`{key}` does not apply to workload `{workload}`"),
        )?;
        if engine_key.get_ref() != "shuttle" {
            self.reject_written(
                name,
                &[
                    ("scheduler", span_of(&raw.scheduler)),
                    ("depth", span_of(&raw.depth)),
                    ("max_steps", span_of(&raw.max_steps)),
                    ("max_preemptions", span_of(&raw.max_preemptions)),
                ],
                |key| format!("`{key}` applies to engines that run under shuttle only"),
            )?;
        }
        if engine_key.get_ref() != "threads" {
            self.reject_written(
                name,
                &[("deadlock_timeout", span_of(&raw.deadlock_timeout))],
                |_| {
                    "`deadlock_timeout` applies to the threads engine only: under shuttle a \
                     deadlock is found when no thread can run"
                        .into()
                },
            )?;
        }
        Ok(())
    }

    /// The error for parameters the plugin could not read, at the key at fault where found.
    fn params_error(
        &self,
        error: ParamsError,
        params_span: Range<usize>,
        name: &str,
        workload: &str,
    ) -> ConfigError {
        let leaf = error
            .path
            .as_deref()
            .and_then(|path| path.rsplit('.').find(|part| part.parse::<usize>().is_err()));
        let span = leaf
            .and_then(|leaf| self.key_within(leaf, params_span.clone()))
            .unwrap_or(params_span);
        let key = match &error.path {
            Some(path) => format!("params.{path}"),
            None => "params".to_string(),
        };
        self.invalid(
            span,
            name,
            &key,
            format!("workload `{workload}`: {}", error.message),
        )
    }

    /// A plugin scenario's parameters as a TOML value and where they are written: the
    /// `[scenario.params]` table, or for `workload = "program"` its `[scenario.program]` table,
    /// checked here (a mistake in a thread's code is reported at its line and column in the
    /// config file).
    pub(super) fn plugin_params(
        &self,
        raw: &RawScenario,
        workload: &str,
        name: &str,
        engine_key: &Spanned<String>,
    ) -> Result<(toml::Value, Range<usize>), ConfigError> {
        let invalid = |span: Range<usize>, key: &str, message: String| {
            self.error(Some(span), Some(name), Some(key), message)
        };
        if workload != program::NAME {
            if let Some(table) = &raw.program {
                return Err(invalid(
                    table.span(),
                    "program",
                    format!(
                        "`program` applies to `workload = \"program\"`; workload `{workload}` \
                         takes its parameters in [scenario.params]"
                    ),
                ));
            }
            return Ok(match &raw.params {
                Some(params) => (params.get_ref().clone(), params.span()),
                None => (toml::Value::Table(toml::Table::new()), engine_key.span()),
            });
        }
        if let Some(params) = &raw.params {
            return Err(invalid(
                params.span(),
                "params",
                "workload `program` takes its program in [scenario.program], not [scenario.params]"
                    .into(),
            ));
        }
        let Some(table) = &raw.program else {
            return Err(invalid(
                engine_key.span(),
                "program",
                "missing [scenario.program]: workload `program` needs its shared variables, \
                 locks and threads (see docs/programs.md)"
                    .into(),
            ));
        };
        let params = program::table::read(table, self.text)
            .map_err(|error| invalid(error.span, &error.key, error.message))?;
        let value = toml::Value::try_from(&params).map_err(|error| {
            invalid(table.span(), "program", format!("cannot be read: {error}"))
        })?;
        Ok((value, table.span()))
    }
}

/// Where workload `workload` takes its parameters: a program in `[scenario.program]`, any
/// other plugin workload in `[scenario.params]`.
pub(super) fn params_table(workload: &str) -> &'static str {
    if workload == program::NAME {
        "[scenario.program]"
    } else {
        "[scenario.params]"
    }
}
