//! The JSON Schema of config files: the derived schema, the rules it cannot derive, and the
//! registered plugin workloads.

use schemars::JsonSchema;

use crate::workload::registry;

use super::raw::{RawFile, RawJitter};

/// A workload.
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
pub(super) enum WorkloadName {
    /// Each thread adds its own delta to a shared counter, `ops` times.
    Counter,
    /// The lesson's Counter class: workers pause, then call increment() under its lock.
    CounterObject,
    /// Critical sections written in `[scenario.program]` (docs/programs.md).
    Program,
}

/// An engine.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(super) enum EngineName {
    /// Real OS threads with jitter at every shared access.
    Threads,
    /// Controlled executions: every shared access is a scheduling point.
    Shuttle,
    /// Tasks on one thread that switch only at an await.
    Async,
    /// One OS process per thread, the counter in shared memory or a manager.
    Processes,
}

/// A synchronization mode.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(super) enum SyncName {
    /// No protection: read, then write (the lost-update bug).
    None,
    /// A mutex held across the read and the write.
    Mutex,
    /// One atomic read-modify-write per update.
    Atomic,
    /// A correct test-and-test-and-set spinlock.
    Spin,
    /// A broken lock: a plain boolean checked, then set.
    Flag,
}

/// An expectation.
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
pub(super) enum ExpectName {
    /// Some execution must lose an update (the bug must show), and none fail otherwise.
    LostUpdates,
    /// No execution may lose an update or fail otherwise.
    NoLostUpdates,
    /// No execution may fail, whatever the kind.
    NoFailures,
    /// Some execution must fail, of any kind.
    Failure,
    /// Some execution must lose an update (other failures may show too).
    LostUpdate,
    /// Some execution must break an invariant (`contend::sync::invariant_failed`).
    Invariant,
    /// Some execution must deadlock.
    Deadlock,
    /// Some execution must panic.
    Panic,
    /// Some execution must run past its bound (shuttle's `max_steps`).
    Livelock,
}

/// A shuttle scheduler.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(super) enum SchedulerName {
    /// A uniformly random choice at every step.
    Random,
    /// Probabilistic concurrency testing, with `depth`.
    Pct,
    /// Exhaustive depth-first search, up to `runs` schedules.
    Dfs,
    /// Exhaustive search with dynamic partial-order reduction: one execution per equivalence
    /// class of interleavings, up to `runs` executions.
    Dpor,
}

/// An async executor.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(super) enum ExecutorName {
    /// tokio's current-thread runtime.
    Tokio,
    /// shuttle's executor: every await is a scheduling point.
    Shuttle,
}

/// Where the processes engine keeps the counter.
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
pub(super) enum StorageName {
    /// In memory the workers share.
    SharedMemory,
    /// In a server, get then set over a Unix socket.
    Manager,
}

/// `jitter`: a switch, or the noise's parameters.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(super) enum JitterSchema {
    Switch(bool),
    Table(RawJitter),
}

/// Drops the `"default": null` that every key would get (TOML has no null; an absent key takes
/// the default its description gives).
pub(super) fn without_null_defaults(schema: &mut schemars::Schema) {
    if let Some(properties) = schema
        .get_mut("properties")
        .and_then(serde_json::Value::as_object_mut)
    {
        for property in properties.values_mut() {
            if let Some(property) = property.as_object_mut()
                && property.get("default") == Some(&serde_json::Value::Null)
            {
                property.remove("default");
            }
        }
    }
}

/// The JSON Schema of config files.
pub fn json_schema() -> String {
    let mut schema = schemars::schema_for!(RawFile).to_value();
    with_rules(&mut schema);
    serde_json::to_string_pretty(&schema).expect("a schema serializes")
}

/// The rules of a config that JSON Schema can say and the derived schema does not: a
/// scenario's required keys (`engine` and `expect` unless `[defaults]` sets them), no `name`
/// in `[defaults]`, at least one thread, and durations with their unit.
pub(super) fn with_rules(schema: &mut serde_json::Value) {
    use serde_json::json;
    let duration = json!({
        "type": "string",
        "pattern": "^\\s*([0-9]+(\\.[0-9]+)?\\s*[a-zA-Zµ]+\\s*)+$"
    });
    if let Some(properties) = schema.pointer_mut("/$defs/RawScenario/properties") {
        properties["threads"]["minItems"] = json!(1);
        for key in ["time", "timeout", "deadlock_timeout"] {
            let description = properties[key]["description"].clone();
            properties[key] = duration.clone();
            properties[key]["description"] = description;
        }
    }
    let scenario_ref = json!({ "$ref": "#/$defs/RawScenario" });
    schema["properties"]["scenario"]["items"] = json!({
        "allOf": [scenario_ref],
        "required": ["name"]
    });
    schema["properties"]["defaults"] = json!({
        "description": schema["properties"]["defaults"]["description"].clone(),
        "allOf": [{ "$ref": "#/$defs/RawScenario" }],
        "not": { "required": ["name"] }
    });
    // `engine` and `expect` are required in each scenario unless [defaults] sets them.
    let rules: Vec<serde_json::Value> = ["engine", "expect"]
        .iter()
        .map(|key| {
            json!({
                "if": { "not": { "required": ["defaults"], "properties": { "defaults": { "required": [key] } } } },
                "then": { "properties": { "scenario": { "items": { "required": [key] } } } }
            })
        })
        .collect();
    schema["allOf"] = json!(rules);
    with_plugins(schema);
}

/// The registered plugin workloads in the schema: their names as workloads, and for each, its
/// own parameters' schema as `params` of the scenarios that name it.
pub(super) fn with_plugins(schema: &mut serde_json::Value) {
    use serde_json::json;
    let plugins = registry::plugins();
    if plugins.is_empty() {
        return;
    }
    let names: Vec<serde_json::Value> = plugins.iter().map(|p| json!(p.name())).collect();
    if let Some(workload) = schema.pointer_mut("/$defs/RawScenario/properties/workload") {
        let built_in = workload.clone();
        *workload = json!({
            "description": built_in["description"].clone(),
            "anyOf": [built_in, { "enum": names, "description": "a registered plugin workload" }]
        });
    }
    let rules: Vec<serde_json::Value> = plugins
        .iter()
        .map(|plugin| {
            let mut params = plugin.params_schema().to_value();
            if let Some(object) = params.as_object_mut() {
                object.remove("$schema");
                // The params' own definitions join the config's, where their references point.
                if let Some(serde_json::Value::Object(definitions)) = object.remove("$defs")
                    && let Some(serde_json::Value::Object(root)) = schema.get_mut("$defs")
                {
                    for (name, definition) in definitions {
                        root.entry(name).or_insert(definition);
                    }
                }
            }
            json!({
                "if": { "properties": { "workload": { "const": plugin.name() } }, "required": ["workload"] },
                "then": { "properties": { "params": params } }
            })
        })
        .collect();
    if let Some(scenario) = schema.pointer_mut("/$defs/RawScenario") {
        scenario["allOf"] = json!(rules);
    }
}
