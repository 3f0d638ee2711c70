//! Workloads as plugins: a critical section written on the primitive API ([`crate::sync`],
//! [`crate::thread`]), with its parameters read from a scenario's `[scenario.params]` table.
//!
//! A plugin is one type implementing [`Plugin`] and one call to
//! [`registry::register`](super::registry::register). The CLI then runs it from configs like a
//! built-in workload: under shuttle (recorded, shrunk, saved and replayed) and on real threads
//! with jitter, with every report, shard and flag.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::engine::body::Body;

/// The engines a plugin workload can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PluginEngine {
    /// Controlled executions under shuttle.
    Shuttle,
    /// Real OS threads with jitter.
    Threads,
}

impl PluginEngine {
    /// The engine's name in configs.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginEngine::Shuttle => "shuttle",
            PluginEngine::Threads => "threads",
        }
    }
}

/// A workload written on contend's primitive API, run by name from configs.
pub trait Plugin: Send + Sync + 'static {
    /// Its parameters, read from `[scenario.params]` (unknown keys should be refused with
    /// `#[serde(deny_unknown_fields)]`); their JSON Schema joins `contend schema`.
    type Params: DeserializeOwned
        + Serialize
        + schemars::JsonSchema
        + Clone
        + fmt::Debug
        + PartialEq
        + Send
        + Sync
        + 'static;

    /// The name a scenario gives as `workload = "NAME"`.
    fn name(&self) -> &'static str;

    /// One line on what it does, for `contend list`.
    fn description(&self) -> &'static str {
        ""
    }

    /// The body of one execution with `params`.
    fn body(&self, params: &Self::Params) -> Body;

    /// Smaller variants of `params` (fewer threads, fewer operations), the most promising
    /// first: contend looks for a failing schedule of a smaller variant before it shrinks the
    /// schedule itself. None by default.
    fn smaller(&self, _params: &Self::Params) -> Vec<Self::Params> {
        Vec::new()
    }

    /// The engines it runs on: shuttle and threads by default.
    fn engines(&self) -> &'static [PluginEngine] {
        &[PluginEngine::Shuttle, PluginEngine::Threads]
    }

    /// The names the body gives its threads with [`crate::thread::spawn_named`], in spawn
    /// order: an interleaving's columns show them. Empty by default (`Thread-1`, ...).
    fn thread_names(&self, _params: &Self::Params) -> Vec<String> {
        Vec::new()
    }
}

/// Parameters that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamsError {
    /// The path of the key at fault inside the params table (`accounts.0.balance`), if known.
    pub path: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// A registered plugin, its parameter type erased.
pub trait ErasedPlugin: Send + Sync + 'static {
    /// [`Plugin::name`].
    fn name(&self) -> &'static str;
    /// [`Plugin::description`].
    fn description(&self) -> &'static str;
    /// [`Plugin::engines`].
    fn engines(&self) -> &'static [PluginEngine];
    /// Reads parameters from a `[scenario.params]` table.
    fn params(self: Arc<Self>, table: toml::Value) -> Result<PluginSpec, ParamsError>;
    /// The JSON Schema of the parameters.
    fn params_schema(&self) -> schemars::Schema;
}

struct Registered<P: Plugin>(P);

impl<P: Plugin> ErasedPlugin for Registered<P> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn description(&self) -> &'static str {
        self.0.description()
    }

    fn engines(&self) -> &'static [PluginEngine] {
        self.0.engines()
    }

    fn params(self: Arc<Self>, table: toml::Value) -> Result<PluginSpec, ParamsError> {
        let params: P::Params = serde_path_to_error::deserialize(table).map_err(|error| {
            let path = error.path().to_string();
            ParamsError {
                path: (path != ".").then_some(path),
                message: error.into_inner().message().trim().to_string(),
            }
        })?;
        Ok(PluginSpec(Arc::new(Bound {
            plugin: self,
            params,
        })))
    }

    fn params_schema(&self) -> schemars::Schema {
        schemars::schema_for!(P::Params)
    }
}

/// Wraps `plugin` for the registry.
pub(crate) fn erase<P: Plugin>(plugin: P) -> Arc<dyn ErasedPlugin> {
    Arc::new(Registered(plugin))
}

/// A plugin with its parameters.
trait BoundParams: Send + Sync {
    fn plugin_name(&self) -> &'static str;
    fn engines(&self) -> &'static [PluginEngine];
    fn body(&self) -> Body;
    fn smaller(&self) -> Vec<PluginSpec>;
    fn thread_names(&self) -> Vec<String>;
    fn to_toml(&self) -> toml::Table;
    fn debug(&self) -> String;
}

struct Bound<P: Plugin> {
    plugin: Arc<Registered<P>>,
    params: P::Params,
}

impl<P: Plugin> BoundParams for Bound<P> {
    fn plugin_name(&self) -> &'static str {
        self.plugin.0.name()
    }

    fn engines(&self) -> &'static [PluginEngine] {
        self.plugin.0.engines()
    }

    fn body(&self) -> Body {
        self.plugin.0.body(&self.params)
    }

    fn smaller(&self) -> Vec<PluginSpec> {
        self.plugin
            .0
            .smaller(&self.params)
            .into_iter()
            .map(|params| {
                PluginSpec(Arc::new(Bound {
                    plugin: Arc::clone(&self.plugin),
                    params,
                }))
            })
            .collect()
    }

    fn thread_names(&self) -> Vec<String> {
        self.plugin.0.thread_names(&self.params)
    }

    fn to_toml(&self) -> toml::Table {
        toml::Table::try_from(&self.params).unwrap_or_default()
    }

    fn debug(&self) -> String {
        format!("{:?}", self.params)
    }
}

/// A plugin workload with its parameters: what a scenario of it runs.
#[derive(Clone)]
pub struct PluginSpec(Arc<dyn BoundParams>);

impl PluginSpec {
    /// The workload's name.
    pub fn name(&self) -> &'static str {
        self.0.plugin_name()
    }

    /// The engines it runs on.
    pub fn engines(&self) -> &'static [PluginEngine] {
        self.0.engines()
    }

    /// The body of one execution.
    pub fn body(&self) -> Body {
        self.0.body()
    }

    /// Smaller variants, the most promising first.
    pub fn smaller(&self) -> Vec<PluginSpec> {
        self.0.smaller()
    }

    /// The parameters as a TOML table, as schedule files keep them.
    pub fn params_table(&self) -> toml::Table {
        self.0.to_toml()
    }

    /// The names of the body's threads in spawn order, where it names them (empty where it
    /// does not).
    pub fn thread_names(&self) -> Vec<String> {
        self.0.thread_names()
    }

    /// The columns of an interleaving of this workload: `main`, then the threads' names
    /// where the body gives them, `Thread-N` for the others.
    pub fn columns(&self, threads: usize) -> Vec<String> {
        let names = self.thread_names();
        (0..threads)
            .map(
                |index| match index.checked_sub(1).and_then(|i| names.get(i)) {
                    Some(name) => name.clone(),
                    None => crate::sync::graph::default_thread_name(index),
                },
            )
            .collect()
    }
}

impl fmt::Debug for PluginSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name(), self.0.debug())
    }
}

impl PartialEq for PluginSpec {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name() && self.0.debug() == other.0.debug()
    }
}
