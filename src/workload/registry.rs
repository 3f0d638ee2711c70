//! The plugin workloads a program knows by name: a harness binary registers its own before
//! it hands over to contend's command line; configs then name them as `workload = "NAME"`.

use std::sync::{Arc, LazyLock, RwLock};

use super::plugin::{ErasedPlugin, Plugin, erase};
use super::program::plugin::ProgramPlugin;

static PLUGINS: RwLock<Vec<Arc<dyn ErasedPlugin>>> = RwLock::new(Vec::new());

/// The built-in workloads that are not plugins: the counter and the counter object.
pub const COUNTERS: [&str; 2] = ["counter", "counter-object"];

/// The names of the built-in workloads, which no plugin may take.
pub const BUILT_IN: [&str; 3] = [COUNTERS[0], COUNTERS[1], super::program::NAME];

/// The built-in workloads written as plugins: `program`.
static BUILT_IN_PLUGINS: LazyLock<Vec<Arc<dyn ErasedPlugin>>> =
    LazyLock::new(|| vec![erase(ProgramPlugin)]);

/// Why a plugin could not be registered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    /// The name is taken, by a built-in workload or another plugin.
    #[error("a workload named `{0}` is already registered")]
    Taken(String),
    /// The name is empty or has characters a config could not hold plainly.
    #[error("`{0}` is not a workload name: use letters, digits, `-` and `_`")]
    BadName(String),
}

/// Registers `plugin`, so that configs can name it.
pub fn register<P: Plugin>(plugin: P) -> Result<(), RegistryError> {
    let name = plugin.name();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(RegistryError::BadName(name.to_string()));
    }
    let mut plugins = PLUGINS.write().unwrap_or_else(|p| p.into_inner());
    if BUILT_IN.contains(&name) || plugins.iter().any(|p| p.name() == name) {
        return Err(RegistryError::Taken(name.to_string()));
    }
    plugins.push(erase(plugin));
    Ok(())
}

/// The plugin named `name`: a built-in one (`program`) or a registered one.
pub fn find(name: &str) -> Option<Arc<dyn ErasedPlugin>> {
    if let Some(plugin) = BUILT_IN_PLUGINS.iter().find(|p| p.name() == name) {
        return Some(Arc::clone(plugin));
    }
    PLUGINS
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .find(|p| p.name() == name)
        .cloned()
}

/// Every registered plugin, in the order they were registered.
pub fn plugins() -> Vec<Arc<dyn ErasedPlugin>> {
    PLUGINS.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Every workload name a config may give: the built-in ones, then the plugins.
pub fn workload_names() -> Vec<&'static str> {
    BUILT_IN
        .into_iter()
        .chain(plugins().iter().map(|p| p.name()))
        .collect()
}
