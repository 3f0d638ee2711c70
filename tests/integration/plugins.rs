//! Plugin workloads: a critical section of one's own, registered by name and run from a config
//! like a built-in workload, with its parameters read into its own type.

use std::path::Path;
use std::sync::{Arc, Once};

use contend::config;
use contend::replay::{ReplayVerdict, replay_workload};
use contend::report::Verdict;
use contend::runner::{RunOptions, run_scenario};
use contend::schedule::file::ScheduleFile;
use contend::sync::{Mutex, Shared};
use contend::thread;
use contend::workload::plugin::{Body, Plugin, PluginEngine};
use contend::workload::registry::{self, RegistryError};
use serde::{Deserialize, Serialize};
use tempfile::TempDir;

/// Threads that each add 1 to a shared counter `increments` times, with a read then a write,
/// under a lock or not.
struct PairCounter;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct PairParams {
    threads: u32,
    increments: u32,
    #[serde(default)]
    locked: bool,
}

impl Plugin for PairCounter {
    type Params = PairParams;

    fn name(&self) -> &'static str {
        "pair-counter"
    }

    fn body(&self, params: &PairParams) -> Body {
        let params = params.clone();
        Arc::new(move || {
            let counter = Arc::new(Shared::named("counter", 0));
            let lock = Arc::new(Mutex::new(()));
            let handles: Vec<_> = (0..params.threads)
                .map(|_| {
                    let (counter, lock) = (Arc::clone(&counter), Arc::clone(&lock));
                    thread::spawn(move || {
                        for _ in 0..params.increments {
                            let _held = params.locked.then(|| lock.lock().unwrap());
                            counter.update(|value| value + 1);
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.join().unwrap();
            }
        })
    }

    fn smaller(&self, params: &PairParams) -> Vec<PairParams> {
        let mut smaller = Vec::new();
        if params.threads > 2 {
            smaller.push(PairParams {
                threads: params.threads - 1,
                ..params.clone()
            });
        }
        if params.increments > 1 {
            smaller.push(PairParams {
                increments: params.increments / 2,
                ..params.clone()
            });
        }
        smaller
    }
}

/// A workload that runs under shuttle only.
struct ShuttleOnly;

impl Plugin for ShuttleOnly {
    type Params = PairParams;

    fn name(&self) -> &'static str {
        "shuttle-only"
    }

    fn body(&self, params: &PairParams) -> Body {
        PairCounter.body(params)
    }

    fn engines(&self) -> &'static [PluginEngine] {
        &[PluginEngine::Shuttle]
    }
}

fn registered() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        registry::register(PairCounter).unwrap();
        registry::register(ShuttleOnly).unwrap();
    });
}

fn scenario(name: &str, engine: &str, expect: &str, params: &str) -> String {
    format!(
        "[[scenario]]\nname = \"{name}\"\nworkload = \"pair-counter\"\nengine = \"{engine}\"\n\
         runs = 200\nseed = 3\nexpect = \"{expect}\"\n\n[scenario.params]\n{params}\n"
    )
}

fn error_of(config: &str) -> String {
    registered();
    config::parse(config, Path::new("plugins.toml"))
        .expect_err("the config is refused")
        .to_string()
}

#[test]
fn a_plugin_bug_shows_is_shrunk_to_a_smaller_variant_saved_and_replayed() {
    registered();
    let dir = TempDir::new().unwrap();
    let text = scenario(
        "racy",
        "shuttle",
        "lost-updates",
        "threads = 4\nincrements = 3",
    );
    let scenarios = config::parse(&text, Path::new("plugins.toml")).unwrap();
    let options = RunOptions {
        artifacts: Some(dir.path().to_path_buf()),
        ..RunOptions::default()
    };
    let report = run_scenario(&scenarios[0], &options).unwrap();
    assert_eq!(report.verdict, Verdict::Pass, "{}", report.reason);
    assert!(report.lost_updates > 0);
    assert_eq!(report.workload, "pair-counter");
    assert!(report.sync.is_none());
    let params = report.params.as_ref().expect("the params are reported");
    assert_eq!(params["threads"].as_integer(), Some(4));

    let schedule = report.minimal_schedule.expect("a minimal schedule");
    assert_eq!(schedule.preemptions, 1);
    assert!(schedule.proven);
    // Shrunk to the smallest variant that still fails: two threads, one increment each.
    let shrunk = schedule.params.as_ref().unwrap();
    assert_eq!(shrunk["threads"].as_integer(), Some(2), "{shrunk:?}");
    assert_eq!(shrunk["increments"].as_integer(), Some(1), "{shrunk:?}");
    assert!(
        schedule
            .interleaving
            .iter()
            .any(|row| row.contains("overwrites")),
        "{:?}",
        schedule.interleaving
    );

    let path = schedule.file.expect("the schedule is saved");
    let text = std::fs::read_to_string(&path).unwrap();
    let file = ScheduleFile::parse(&text, Path::new(&path)).unwrap();
    let replayed = replay_workload(&file, false).unwrap();
    assert_eq!(replayed.verdict(), ReplayVerdict::Reproduced);
    assert_eq!(replayed.preemptions, 1);
}

#[test]
fn a_locked_plugin_loses_no_update_on_shuttle_and_threads() {
    for engine in ["shuttle", "threads"] {
        registered();
        let text = scenario(
            "locked",
            engine,
            "no-lost-updates",
            "threads = 3\nincrements = 5\nlocked = true",
        );
        let scenarios = config::parse(&text, Path::new("plugins.toml")).unwrap();
        let report = run_scenario(&scenarios[0], &RunOptions::default()).unwrap();
        assert_eq!(report.verdict, Verdict::Pass, "{engine}: {}", report.reason);
        assert_eq!(report.runs, 200);
        assert_eq!(report.lost_updates, 0);
        assert_eq!(report.expected_final, 15);
    }
}

#[test]
fn bad_params_are_refused_with_the_line_and_the_key() {
    let config = scenario(
        "bad",
        "shuttle",
        "lost-updates",
        "threads = 2\nincrements = -1",
    );
    let error = error_of(&config);
    assert!(
        error.starts_with("plugins.toml:11:") && error.contains("key `params.increments`"),
        "{error}"
    );
    let unknown = error_of(&scenario(
        "bad",
        "shuttle",
        "lost-updates",
        "threads = 2\nincrements = 1\nspeed = 3",
    ));
    assert!(
        unknown.contains("plugins.toml:12:")
            && unknown.contains("key `params.speed`")
            && unknown.contains("unknown field `speed`"),
        "{unknown}"
    );
    let missing = error_of(&scenario("bad", "shuttle", "lost-updates", "threads = 2"));
    assert!(missing.contains("missing field `increments`"), "{missing}");
}

#[test]
fn an_engine_the_plugin_does_not_run_on_is_refused() {
    let error = error_of(&scenario(
        "async",
        "async",
        "lost-updates",
        "threads = 2\nincrements = 1",
    ));
    assert!(
        error.contains("key `engine`")
            && error.contains("workload `pair-counter` runs on the shuttle and threads engines"),
        "{error}"
    );
    let only = error_of(
        &scenario(
            "only",
            "threads",
            "lost-updates",
            "threads = 2\nincrements = 1",
        )
        .replace("pair-counter", "shuttle-only"),
    );
    assert!(
        only.contains("workload `shuttle-only` runs on the shuttle engines, not `threads`"),
        "{only}"
    );
}

#[test]
fn counter_keys_on_a_plugin_and_params_on_a_counter_are_refused() {
    let sync = error_of(
        &scenario(
            "sync",
            "shuttle",
            "lost-updates",
            "threads = 2\nincrements = 1",
        )
        .replace("runs = 200", "runs = 200\nsync = \"mutex\""),
    );
    assert!(
        sync.contains("key `sync`") && sync.contains("[scenario.params]"),
        "{sync}"
    );
    let params = error_of(
        "[[scenario]]\nname = \"c\"\nengine = \"shuttle\"\nexpect = \"lost-updates\"\n\
         threads = [{ delta = 1, ops = 1 }]\nparams = { a = 1 }\n",
    );
    assert!(
        params.contains("key `params`") && params.contains("plugin workloads"),
        "{params}"
    );
}

#[test]
fn an_unknown_workload_names_every_registered_one() {
    let error = error_of(
        "[[scenario]]\nname = \"u\"\nworkload = \"bank\"\nengine = \"shuttle\"\n\
         expect = \"lost-updates\"\n",
    );
    assert!(
        error.contains("unknown workload `bank`")
            && error.contains("counter, counter-object, program, pair-counter, shuttle-only"),
        "{error}"
    );
}

#[test]
fn a_name_already_taken_cannot_be_registered() {
    registered();
    assert_eq!(
        registry::register(PairCounter),
        Err(RegistryError::Taken("pair-counter".into()))
    );
    struct Counter;
    impl Plugin for Counter {
        type Params = PairParams;
        fn name(&self) -> &'static str {
            "counter"
        }
        fn body(&self, params: &PairParams) -> Body {
            PairCounter.body(params)
        }
    }
    assert_eq!(
        registry::register(Counter),
        Err(RegistryError::Taken("counter".into()))
    );
}

#[test]
fn the_schema_names_each_plugin_and_its_params() {
    registered();
    let schema: serde_json::Value = serde_json::from_str(&config::json_schema()).unwrap();
    let scenario = &schema["$defs"]["RawScenario"];
    let names = scenario["properties"]["workload"]["anyOf"][1]["enum"]
        .as_array()
        .expect("the plugin names");
    assert!(names.iter().any(|name| name == "pair-counter"), "{names:?}");
    let rule = scenario["allOf"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rule| rule["if"]["properties"]["workload"]["const"] == "pair-counter")
        .expect("a rule for pair-counter's params");
    let params = &rule["then"]["properties"]["params"];
    assert_eq!(params["additionalProperties"], false);
    assert!(
        params["required"]
            .as_array()
            .unwrap()
            .contains(&"threads".into())
    );
    assert_eq!(params["properties"]["increments"]["type"], "integer");
}

/// The schedule file of the racy pair counter, saved in `dir`: its path and text.
fn saved_plugin_schedule(dir: &Path) -> (String, String) {
    registered();
    let text = scenario(
        "racy",
        "shuttle",
        "lost-updates",
        "threads = 2\nincrements = 2",
    );
    let scenarios = config::parse(&text, Path::new("plugins.toml")).unwrap();
    let options = RunOptions {
        artifacts: Some(dir.to_path_buf()),
        ..RunOptions::default()
    };
    let report = run_scenario(&scenarios[0], &options).unwrap();
    let path = report
        .minimal_schedule
        .and_then(|s| s.file)
        .expect("the schedule is saved");
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

#[test]
fn a_plugin_schedule_file_without_a_digest_regression_every_edit_is_refused() {
    // A plugin workload's schedule file had no integrity digest: an edited file replayed as
    // if it were the record of the failure. Now every edit of what defines the execution, and
    // every field out of its range, is refused.
    let dir = TempDir::new().unwrap();
    let (path, text) = saved_plugin_schedule(dir.path());
    assert!(
        text.lines()
            .any(|l| l.starts_with("digest = \"fnv1a128:") && l.len() == 52),
        "{text}"
    );
    ScheduleFile::parse(&text, Path::new(&path)).expect("the saved file is read back");
    let line = |key: &str| -> String {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no `{key}` in\n{text}"))
            .to_string()
    };
    let choices = line("choices");
    // An edit that leaves every field in its range is caught by the digest.
    let edited = "edited or damaged";
    let edits: Vec<(String, String, &str)> = vec![
        (
            choices.clone(),
            "choices = []".into(),
            "a preemption is a choice",
        ),
        (
            choices.clone(),
            choices.replacen("]]", "], [999, 1]]", 1),
            "past the schedule's",
        ),
        (
            choices.clone(),
            choices.replacen("]]", "], [9, 1]]", 1),
            edited,
        ),
        (
            line("workload"),
            "workload = \"shuttle-only\"".into(),
            edited,
        ),
        (line("threads"), "threads = 3".into(), edited),
        (line("increments"), "increments = 5".into(), edited),
        (line("seed"), "seed = 4".into(), edited),
        (
            choices.clone(),
            format!("random_values = [1]\n{choices}"),
            edited,
        ),
        (
            "kind = \"lost-update\"".into(),
            "kind = \"invariant\"".into(),
            edited,
        ),
        (
            "kind = \"lost-update\"".into(),
            "kind = \"failed\"".into(),
            "only read in files of version 2",
        ),
        (
            line("max_steps"),
            "max_steps = 0".into(),
            "max_steps must be at least 1",
        ),
        (
            line("engine"),
            "engine = \"warp-drive\"".into(),
            "not an engine",
        ),
        (
            choices.clone(),
            choices.replacen("]", ", 7]", 1),
            "two numbers",
        ),
        (
            choices.clone(),
            "choices = [[5, 1], [3, 2]]".into(),
            "increasing order",
        ),
        (
            line("preemptions"),
            "preemptions = 99".into(),
            "preemption is a choice",
        ),
        (line("digest"), String::new(), "no `digest` line"),
        (line("version"), "version = 1".into(), "format version 1"),
        (
            line("name"),
            "name = \"racy\"\nextra = 1".into(),
            "unknown field",
        ),
    ];
    for (from, to, expected) in edits {
        let damaged = text.replacen(&from, &to, 1);
        assert_ne!(damaged, text, "{from} -> {to}");
        let error = ScheduleFile::parse(&damaged, Path::new(&path))
            .expect_err(&format!("{from} -> {to} is refused"))
            .to_string();
        assert!(
            error.contains(expected) && error.contains(&path),
            "{from} -> {to}: {error}"
        );
    }
}
