//! Validating a scenario of a plugin workload (a program, or a harness's own), and its
//! parameters.

use std::ops::Range;
use std::sync::Arc;

use toml::Spanned;

use crate::scenario::{EngineSpec, Jitter, Scenario, ThreadsSettings, WorkloadSpec};
use crate::sync::DEFAULT_DEADLOCK_TIMEOUT;
use crate::workload::plugin::{ErasedPlugin, PluginEngine};
use crate::workload::program;

use super::error::ConfigError;
use super::raw::RawScenario;
use super::scenario::Common;
use super::source::Source;

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
        let invalid = |span: Range<usize>, key: &str, message: String| {
            self.error(Some(span), Some(&name), Some(key), message)
        };
        let workload = plugin.name();
        let counter_keys = [
            ("sync", raw.sync.as_ref().map(Spanned::span)),
            ("threads", raw.threads.as_ref().map(Spanned::span)),
            ("workers", raw.workers.as_ref().map(Spanned::span)),
            ("increments", raw.increments.as_ref().map(Spanned::span)),
            ("max_pause_ms", raw.max_pause_ms.as_ref().map(Spanned::span)),
            ("barrier", raw.barrier.as_ref().map(Spanned::span)),
            ("parallel", raw.parallel.as_ref().map(Spanned::span)),
        ];
        for (key, span) in counter_keys {
            if let Some(span) = span {
                return Err(invalid(
                    span,
                    key,
                    format!(
                        "`{key}` applies to the counter workloads; workload `{workload}` takes \
                         its parameters in {}",
                        params_table(workload)
                    ),
                ));
            }
        }
        if let Some(initial) = &raw.initial {
            return Err(invalid(
                initial.span(),
                "initial",
                format!(
                    "`initial` applies to the counter workloads; workload `{workload}` takes its \
                     parameters in {}",
                    params_table(workload)
                ),
            ));
        }
        if let Some(jitter) = &raw.jitter
            && engine_key.get_ref() != "threads"
        {
            return Err(invalid(
                jitter.span(),
                "jitter",
                "`jitter` applies to the threads engine: under shuttle the scheduler chooses \
                 every interleaving"
                    .to_string(),
            ));
        }
        let Common {
            runs,
            seed,
            expect,
            time,
        } = self.common(&raw, &name, &expect_key)?;
        let engines = plugin.engines();
        let engine = match engine_key.get_ref().as_str() {
            "shuttle" if engines.contains(&PluginEngine::Shuttle) => {
                EngineSpec::Shuttle(self.shuttle_settings(&raw, &name)?)
            }
            "threads" if engines.contains(&PluginEngine::Threads) => {
                EngineSpec::Threads(ThreadsSettings {
                    jitter: match &raw.jitter {
                        None => Some(Jitter::default()),
                        Some(value) => self.jitter(value, &name)?,
                    },
                    deadlock_timeout: match &raw.deadlock_timeout {
                        Some(text) => self.duration(text, &name, "deadlock_timeout")?,
                        None => DEFAULT_DEADLOCK_TIMEOUT,
                    },
                    ..ThreadsSettings::default()
                })
            }
            other => {
                return Err(invalid(
                    engine_key.span(),
                    "engine",
                    format!(
                        "workload `{workload}` runs on the {} engines, not `{other}`",
                        engines
                            .iter()
                            .map(|engine| engine.as_str())
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                ));
            }
        };
        for (key, span) in [
            ("executor", raw.executor.as_ref().map(Spanned::span)),
            (
                "await_in_critical_section",
                raw.await_in_critical_section.as_ref().map(Spanned::span),
            ),
            ("storage", raw.storage.as_ref().map(Spanned::span)),
            ("timeout", raw.timeout.as_ref().map(Spanned::span)),
        ] {
            if let Some(span) = span {
                return Err(invalid(
                    span,
                    key,
                    format!("`{key}` does not apply to workload `{workload}`"),
                ));
            }
        }
        if engine_key.get_ref() != "shuttle" {
            for (key, span) in [
                ("scheduler", raw.scheduler.as_ref().map(Spanned::span)),
                ("depth", raw.depth.as_ref().map(Spanned::span)),
                ("max_steps", raw.max_steps.as_ref().map(Spanned::span)),
                (
                    "max_preemptions",
                    raw.max_preemptions.as_ref().map(Spanned::span),
                ),
            ] {
                if let Some(span) = span {
                    return Err(invalid(
                        span,
                        key,
                        format!("`{key}` applies to engines that run under shuttle only"),
                    ));
                }
            }
        }
        if engine_key.get_ref() != "threads"
            && let Some(timeout) = &raw.deadlock_timeout
        {
            return Err(invalid(
                timeout.span(),
                "deadlock_timeout",
                "`deadlock_timeout` applies to the threads engine only: under shuttle a deadlock \
                 is found when no thread can run"
                    .into(),
            ));
        }
        let (params_value, params_span) = self.plugin_params(&raw, workload, &name, &engine_key)?;
        let spec = plugin.params(params_value).map_err(|error| {
            let leaf = error
                .path
                .as_deref()
                .and_then(|path| path.rsplit('.').find(|part| part.parse::<usize>().is_err()));
            let span = leaf
                .and_then(|leaf| self.key_within(leaf, params_span.clone()))
                .unwrap_or(params_span.clone());
            let key = match &error.path {
                Some(path) => format!("params.{path}"),
                None => "params".to_string(),
            };
            invalid(
                span,
                &key,
                format!("workload `{workload}`: {}", error.message),
            )
        })?;
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
