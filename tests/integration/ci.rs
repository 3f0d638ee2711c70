//! contend in CI pipelines: JUnit and GitHub Actions reports, JSON on stdout, shards and their
//! merge, time budgets, progress, and the config conveniences (`init`, `schema`, `[defaults]`,
//! command-line overrides).

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use common::{Run, contend, contend_with_env};
use serde_json::Value;
use tempfile::TempDir;

fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// One scenario that passes and one whose expectation fails (a racy counter expected to lose
/// nothing), under shuttle so that every run is the same.
const PASS_AND_FAIL: &str = r#"
[defaults]
engine = "shuttle"
initial = 10
seed = 3

[[scenario]]
name = "locked"
sync = "mutex"
threads = [{ delta = 1, ops = 5 }, { delta = -1, ops = 5 }]
runs = 50
expect = "no-lost-updates"

[[scenario]]
name = "racy"
sync = "none"
threads = [{ delta = 1, ops = 5 }, { delta = -1, ops = 5 }]
runs = 50
expect = "no-lost-updates"
"#;

#[test]
fn junit_output_parses_with_one_case_per_scenario_and_the_failure_explained() {
    let dir = TempDir::new().unwrap();
    write(&dir, "pair.toml", PASS_AND_FAIL);
    let run = contend(
        &["run", "pair.toml", "--junit", "junit.xml", "-q"],
        dir.path(),
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    let document = roxmltree::Document::parse(&xml).unwrap();
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 1, "one suite per config file");
    let suite = suites[0];
    assert_eq!(suite.attribute("name"), Some("pair.toml"));
    assert_eq!(suite.attribute("tests"), Some("2"));
    assert_eq!(suite.attribute("failures"), Some("1"));
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let names: Vec<_> = cases.iter().map(|c| c.attribute("name").unwrap()).collect();
    assert_eq!(names, ["locked", "racy"]);
    assert!(!cases[0].children().any(|n| n.has_tag_name("failure")));
    let failure = cases[1]
        .children()
        .find(|n| n.has_tag_name("failure"))
        .expect("the racy scenario failed");
    assert!(
        failure
            .attribute("message")
            .unwrap()
            .contains("expected no lost update")
    );
    let text = failure.text().unwrap();
    assert!(
        text.contains("read counter -> 10"),
        "the interleaving: {text}"
    );
    assert!(
        text.contains("contend replay "),
        "the replay command: {text}"
    );
    assert!(
        text.contains("how it ran: config pair.toml:"),
        "how it ran: {text}"
    );
    assert!(text.contains("seed 3, "), "the seed: {text}");
    assert!(text.contains("engine shuttle"), "the engine: {text}");
    assert_valid_junit(&dir.path().join("junit.xml"));
}

/// Checks a JUnit file against the schema strict readers (Jenkins, Ant) check, with xmllint
/// (`.ci/run` installs it when missing).
fn assert_valid_junit(path: &Path) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit.xsd");
    let output = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(path)
        .output()
        .expect("xmllint is installed (apt-get install -y libxml2-utils, as .ci/run does)");
    assert!(
        output.status.success(),
        "{} does not validate against the JUnit schema:\n{}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_junit_schema_rejects_what_strict_readers_reject() {
    // The check above can fail: the shape of the reports before they kept to the schema.
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("old.xml");
    std::fs::write(
        &path,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="contend" tests="1" failures="0" errors="0" skipped="0" time="0.1">
  <testsuite name="a.toml" tests="1" failures="0" errors="0" time="0.1">
    <testcase name="x" classname="a.toml" file="a.toml" time="0.1">
      <properties><property name="seed" value="1"/></properties>
    </testcase>
  </testsuite>
</testsuites>
"#,
    )
    .unwrap();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit.xsd");
    let output = std::process::Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&schema)
        .arg(&path)
        .output()
        .expect("xmllint is installed");
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    for kind in [
        "'testsuites', attribute 'skipped'",
        "'testcase', attribute 'file'",
        "Element 'properties': This element is not expected",
    ] {
        assert!(errors.contains(kind), "{kind} not in {errors}");
    }
}

#[test]
fn github_actions_get_an_annotation_at_the_failed_scenario_and_a_summary() {
    let dir = TempDir::new().unwrap();
    write(&dir, "pair.toml", PASS_AND_FAIL);
    let summary = dir.path().join("summary.md");
    let output = Command::cargo_bin("contend")
        .unwrap()
        .current_dir(dir.path())
        .args(["run", "pair.toml", "-q"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .timeout(Duration::from_secs(600))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let annotations: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::error "))
        .collect();
    assert_eq!(annotations.len(), 1, "{stdout}");
    // The `[[scenario]]` of `racy` is on line 14 of the config (the text starts with a newline);
    // the title's `:` is escaped, as properties require.
    assert!(
        annotations[0]
            .starts_with("::error file=pair.toml,line=14,title=contend%3A scenario racy failed::"),
        "{}",
        annotations[0]
    );
    // One line: the message's line breaks are escaped.
    assert!(annotations[0].contains("%0A"), "{}", annotations[0]);
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(summary.contains("| racy |"), "{summary}");
    assert!(summary.contains("| locked |"), "{summary}");
    assert!(summary.contains("contend replay "), "{summary}");
}

#[test]
fn format_json_prints_the_report_on_stdout() {
    let dir = TempDir::new().unwrap();
    write(&dir, "pair.toml", PASS_AND_FAIL);
    let run = contend(&["run", "pair.toml", "--format", "json"], dir.path());
    assert_eq!(run.code, 1);
    let report: Value = serde_json::from_str(&run.stdout).expect("stdout is JSON alone");
    assert_eq!(report["verdict"], "fail");
    assert_eq!(report["scenarios"][1]["name"], "racy");
    assert_eq!(report["scenarios"][1]["config"]["line"], 14);
}

/// Every scheduler and engine kind a shard splits differently.
const CAMPAIGN: &str = r#"
[defaults]
initial = 10
seed = 11
threads = [{ delta = 1, ops = 8 }, { delta = -1, ops = 9 }]
expect = "lost-updates"

[[scenario]]
name = "random"
engine = "shuttle"
runs = 450

[[scenario]]
name = "pct"
engine = "shuttle"
scheduler = "pct"
runs = 730

[[scenario]]
name = "dfs"
engine = "shuttle"
scheduler = "dfs"
sync = "mutex"
threads = [{ delta = 1, ops = 2 }, { delta = -1, ops = 2 }]
runs = 100000
expect = "no-lost-updates"

[[scenario]]
name = "coroutines"
engine = "async"
executor = "shuttle"
await_in_critical_section = true
runs = 260
"#;

/// The fields of a scenario report that must not depend on how the campaign was split.
fn totals(scenario: &Value) -> Value {
    let mut totals = serde_json::Map::new();
    for key in [
        "name",
        "runs",
        "runs_requested",
        "failing_runs",
        "lost_update_runs",
        "masked_runs",
        "failed_runs",
        "lost_updates",
        "overwrites",
        "net_lost",
        "outcomes",
        "failure_rate",
        "exhaustive",
        "verdict",
        "reason",
        "first_failing_run",
        "ended_by",
        "fingerprint",
    ] {
        totals.insert(key.to_string(), scenario[key].clone());
    }
    let schedule = &scenario["minimal_schedule"];
    totals.insert("interleaving".into(), schedule["interleaving"].clone());
    Value::Object(totals)
}

#[test]
fn three_shards_merged_equal_the_unsharded_run() {
    let dir = TempDir::new().unwrap();
    write(&dir, "campaign.toml", CAMPAIGN);
    let whole = contend(
        &["run", "campaign.toml", "--json", "whole.json", "-q"],
        dir.path(),
    );
    assert_eq!(whole.code, 0, "{}", whole.stdout);
    for index in 1..=3 {
        let shard = format!("{index}/3");
        let json = format!("shard{index}.json");
        let out = format!("out{index}");
        let run = contend(
            &[
                "run",
                "campaign.toml",
                "--shard",
                &shard,
                "--json",
                &json,
                "--out",
                &out,
                "-q",
            ],
            dir.path(),
        );
        assert_eq!(run.code, 0, "{}", run.stdout);
    }
    // A Kubernetes Indexed Job's pod 1 (from 0) is shard 2 of 3.
    let indexed = Command::cargo_bin("contend")
        .unwrap()
        .current_dir(dir.path())
        .args([
            "run",
            "campaign.toml",
            "--shards",
            "3",
            "--json",
            "indexed.json",
            "--out",
            "out-indexed",
            "-q",
        ])
        .env("JOB_COMPLETION_INDEX", "1")
        .output()
        .unwrap();
    assert_eq!(indexed.status.code(), Some(0));
    let shard2 = read_json(&dir.path().join("shard2.json"));
    let indexed = read_json(&dir.path().join("indexed.json"));
    assert_eq!(indexed["shard"], shard2["shard"]);
    for (a, b) in indexed["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .zip(shard2["scenarios"].as_array().unwrap())
    {
        assert_eq!(
            totals(a),
            totals(b),
            "a retried shard gives the same result"
        );
    }

    let merged = contend(
        &[
            "merge",
            "shard3.json",
            "shard1.json",
            "shard2.json",
            "--json",
            "merged.json",
            "--junit",
            "merged.xml",
        ],
        dir.path(),
    );
    assert_eq!(merged.code, 0, "{}{}", merged.stdout, merged.stderr);
    assert!(
        merged.stdout.contains("PASS: 4 scenarios"),
        "{}",
        merged.stdout
    );
    let whole = read_json(&dir.path().join("whole.json"));
    let merged = read_json(&dir.path().join("merged.json"));
    let whole_scenarios = whole["scenarios"].as_array().unwrap();
    let merged_scenarios = merged["scenarios"].as_array().unwrap();
    assert_eq!(whole_scenarios.len(), merged_scenarios.len());
    for (w, m) in whole_scenarios.iter().zip(merged_scenarios) {
        assert_eq!(totals(w), totals(m), "scenario {}", w["name"]);
    }
    // Each shard made a third of the shuttle blocks; DFS is one search, on shard 1.
    let shard1 = read_json(&dir.path().join("shard1.json"));
    assert_eq!(shard1["scenarios"][0]["runs"], 200);
    assert_eq!(shard2["scenarios"][0]["runs"], 150);
    assert_eq!(shard2["scenarios"][2]["runs"], 0);
    let junit = std::fs::read_to_string(dir.path().join("merged.xml")).unwrap();
    assert!(roxmltree::Document::parse(&junit).is_ok());
    assert_valid_junit(&dir.path().join("merged.xml"));
}

fn shard_reports(dir: &TempDir, config: &str, seed_of_shard_2: Option<u64>) -> Vec<Run> {
    write(dir, "campaign.toml", config);
    (1..=2)
        .map(|index| {
            let shard = format!("{index}/2");
            let json = format!("shard{index}.json");
            let mut args = vec![
                "run",
                "campaign.toml",
                "--shard",
                &shard,
                "--json",
                &json,
                "-q",
            ];
            let seed;
            if index == 2
                && let Some(s) = seed_of_shard_2
            {
                seed = s.to_string();
                args.extend(["--seed", &seed]);
            }
            contend(&args, dir.path())
        })
        .collect()
}

#[test]
fn merge_refuses_shards_of_different_seeds_or_configs_and_incomplete_campaigns() {
    let config = "[[scenario]]\nname = \"a\"\nengine = \"shuttle\"\nseed = 1\nthreads = [{ delta = 1, ops = 3 }, { delta = 1, ops = 3 }]\nruns = 300\nexpect = \"lost-updates\"\n";
    let dir = TempDir::new().unwrap();
    shard_reports(&dir, config, Some(2));
    let run = contend(&["merge", "shard1.json", "shard2.json"], dir.path());
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("shard2.json: scenario `a` ran with seed 2, but with seed 1 in shard1.json"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());

    let dir = TempDir::new().unwrap();
    shard_reports(&dir, config, None);
    std::fs::rename(dir.path().join("shard2.json"), dir.path().join("keep.json")).unwrap();
    write(
        &dir,
        "campaign.toml",
        &config.replace("ops = 3 }]", "ops = 4 }]"),
    );
    let other = contend(
        &[
            "run",
            "campaign.toml",
            "--shard",
            "2/2",
            "--json",
            "shard2.json",
            "-q",
        ],
        dir.path(),
    );
    assert_eq!(other.code, 0);
    let run = contend(&["merge", "shard1.json", "shard2.json"], dir.path());
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("scenario `a` is not defined as in shard1.json"),
        "{}",
        run.stderr
    );

    let run = contend(&["merge", "shard1.json"], dir.path());
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("shard 2 of 2 is missing"),
        "{}",
        run.stderr
    );
    let run = contend(&["merge", "shard1.json", "shard1.json"], dir.path());
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("are both shard 1/2"), "{}", run.stderr);
    write(&dir, "broken.json", "{ \"verdict\": ");
    let run = contend(&["merge", "shard1.json", "broken.json"], dir.path());
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("broken.json: not a contend JSON report"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_time_budget_ends_a_scenario_before_its_runs_and_says_so() {
    let dir = TempDir::new().unwrap();
    write(
        &dir,
        "long.toml",
        "[[scenario]]\nname = \"long\"\nengine = \"shuttle\"\nthreads = [{ delta = 1, ops = 50 }, { delta = -1, ops = 50 }]\nruns = 100000000\ntime = \"500ms\"\nexpect = \"lost-updates\"\n",
    );
    let run = contend(&["run", "long.toml", "--json", "r.json", "-q"], dir.path());
    assert_eq!(run.code, 0, "{}", run.stdout);
    let scenario = &read_json(&dir.path().join("r.json"))["scenarios"][0];
    assert_eq!(scenario["ended_by"], "time");
    assert_eq!(scenario["time_budget_seconds"], 0.5);
    let runs = scenario["runs"].as_u64().unwrap();
    assert!(runs > 0 && runs < 100_000_000);
    assert!(
        run.stdout
            .contains("the time budget (500ms) ended the run after"),
        "{}",
        run.stdout
    );

    // --time overrides the config's.
    let run = contend(
        &[
            "run",
            "long.toml",
            "--time",
            "200ms",
            "--json",
            "r.json",
            "-q",
        ],
        dir.path(),
    );
    assert_eq!(run.code, 0);
    assert_eq!(
        read_json(&dir.path().join("r.json"))["scenarios"][0]["time_budget_seconds"],
        0.2
    );
}

#[test]
fn progress_lines_go_to_stderr_when_it_is_not_a_terminal_and_quiet_silences_them() {
    let dir = TempDir::new().unwrap();
    write(
        &dir,
        "long.toml",
        "[[scenario]]\nname = \"long\"\nengine = \"shuttle\"\nthreads = [{ delta = 1, ops = 50 }, { delta = -1, ops = 50 }]\nruns = 100000000\ntime = \"2s\"\nexpect = \"lost-updates\"\n",
    );
    // A line every 300 ms instead of every 10 s: the interval is the only thing it changes.
    let run = contend_with_env(
        &["run", "long.toml"],
        dir.path(),
        &[("CONTEND_PROGRESS_EVERY", "300ms")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("contend: [1/1] long: "))
        .collect();
    assert!(lines.len() >= 2, "progress lines: {}", run.stderr);
    let line = lines[0];
    assert!(line.contains(" of 100,000,000 runs ("), "{line}");
    // The time left is the budget's, not that of 100 million runs.
    let eta: f64 = line
        .split(", ETA ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|seconds| seconds.parse().ok())
        .unwrap_or_else(|| panic!("no ETA: {line}"));
    assert!(eta <= 2.0, "{line}");
    assert!(line.ends_with(" s, budget 2s"), "{line}");
    assert!(
        !run.stdout.contains("contend: [1/1] long: "),
        "progress stays off stdout"
    );
}

#[test]
fn a_bad_progress_interval_is_one_message_and_exit_2() {
    let dir = TempDir::new().unwrap();
    write(&dir, "pair.toml", PASS_AND_FAIL);
    for bad in ["soon", "0s"] {
        let run = contend_with_env(
            &["run", "pair.toml"],
            dir.path(),
            &[("CONTEND_PROGRESS_EVERY", bad)],
        );
        assert_eq!(run.code, 2, "{bad}: {}", run.stderr);
        assert!(
            run.stderr
                .contains(&format!("CONTEND_PROGRESS_EVERY={bad}")),
            "{}",
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
}

#[test]
fn quiet_runs_print_nothing_on_stderr() {
    let dir = TempDir::new().unwrap();
    write(&dir, "pair.toml", PASS_AND_FAIL);
    let run = contend(&["run", "pair.toml", "-q"], dir.path());
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn init_writes_a_starter_config_that_runs_and_never_overwrites() {
    let dir = TempDir::new().unwrap();
    let run = contend(&["init"], dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let written = std::fs::read_to_string(dir.path().join("contend.toml")).unwrap();
    assert!(written.starts_with("# A contend config"));
    let run = contend(&["run", "contend.toml", "--runs", "20", "-q"], dir.path());
    assert_eq!(run.code, 0, "the starter config passes: {}", run.stdout);

    std::fs::write(dir.path().join("mine.toml"), "# mine\n").unwrap();
    let again = contend(&["init", "mine.toml"], dir.path());
    assert_eq!(again.code, 2);
    assert!(
        again.stderr.contains("mine.toml: already exists"),
        "{}",
        again.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("mine.toml")).unwrap(),
        "# mine\n"
    );
}

#[test]
fn the_schema_is_json_that_knows_every_key_of_the_shipped_configs() {
    let dir = TempDir::new().unwrap();
    let run = contend(&["schema"], dir.path());
    assert_eq!(run.code, 0);
    let schema: Value = serde_json::from_str(&run.stdout).unwrap();
    let scenario_keys = schema["$defs"]["RawScenario"]["properties"]
        .as_object()
        .expect("the scenario table's keys");
    assert_eq!(
        schema["$defs"]["RawScenario"]["additionalProperties"],
        false
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for config in ["configs/seed.toml", "configs/starter.toml"] {
        let text = std::fs::read_to_string(root.join(config)).unwrap();
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        let tables = parsed["scenario"]
            .as_array()
            .unwrap()
            .iter()
            .chain(parsed.get("defaults"));
        for table in tables {
            for key in table.as_table().unwrap().keys() {
                assert!(
                    scenario_keys.contains_key(key),
                    "{config}: `{key}` is not in the schema"
                );
            }
        }
    }
    for engine in ["threads", "shuttle", "async", "processes"] {
        assert!(run.stdout.contains(&format!("\"{engine}\"")), "{engine}");
    }
}

#[test]
fn defaults_apply_to_every_scenario_that_does_not_set_a_key() {
    let dir = TempDir::new().unwrap();
    write(&dir, "pair.toml", PASS_AND_FAIL);
    let run = contend(&["run", "pair.toml", "--json", "r.json", "-q"], dir.path());
    assert_eq!(run.code, 1);
    let report = read_json(&dir.path().join("r.json"));
    for scenario in report["scenarios"].as_array().unwrap() {
        assert_eq!(scenario["engine"], "shuttle");
        assert_eq!(scenario["seed"], 3);
        assert_eq!(scenario["initial"], 10);
    }
    write(
        &dir,
        "bad.toml",
        "[defaults]\nname = \"x\"\n\n[[scenario]]\nname = \"a\"\nengine = \"threads\"\nexpect = \"lost-updates\"\nthreads = [{ delta = 1, ops = 5 }]\n",
    );
    let bad = contend(&["run", "bad.toml"], dir.path());
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("bad.toml:2:8"), "{}", bad.stderr);
    assert!(
        bad.stderr.contains("`name` has no default"),
        "{}",
        bad.stderr
    );
}

#[test]
fn counter_defaults_regression_do_not_apply_to_a_program_scenario() {
    // A config whose [defaults] set the counter's keys, and a program scenario beside the
    // counter's: the counter takes them, the program is not refused for them.
    let dir = TempDir::new().unwrap();
    write(
        &dir,
        "mixed.toml",
        "[defaults]\ninitial = 10\nsync = \"mutex\"\nthreads = [{ delta = 1, ops = 3 }]\nseed = 3\n\n\
         [[scenario]]\nname = \"counter\"\nengine = \"shuttle\"\nruns = 5\nexpect = \"no-lost-updates\"\n\n\
         [[scenario]]\nname = \"program\"\nworkload = \"program\"\nengine = \"shuttle\"\nruns = 5\n\
         expect = \"no-failures\"\n[scenario.program]\nshared = { x = 0 }\n\
         threads = [{ name = \"t\", code = \"atomic x += 1\", count = 2 }]\n",
    );
    let run = contend(&["run", "mixed.toml", "--json", "r.json", "-q"], dir.path());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = read_json(&dir.path().join("r.json"));
    let scenarios = report["scenarios"].as_array().unwrap();
    assert_eq!(scenarios[0]["initial"], 10);
    assert_eq!(scenarios[0]["expected_final"], 13);
    assert_eq!(scenarios[1]["workload"], "program");
    assert_eq!(
        scenarios[1]["seed"], 3,
        "keys every workload has still apply"
    );
    // The same key set in the program scenario itself is still refused, at its line.
    write(
        &dir,
        "own.toml",
        "[[scenario]]\nname = \"program\"\nworkload = \"program\"\nengine = \"shuttle\"\n\
         initial = 10\nexpect = \"no-failures\"\n[scenario.program]\nshared = { x = 0 }\n\
         threads = [{ name = \"t\", code = \"x = 1\" }]\n",
    );
    let own = contend(&["run", "own.toml"], dir.path());
    assert_eq!(own.code, 2, "{}", own.stderr);
    assert!(own.stderr.contains("own.toml:5:"), "{}", own.stderr);
    assert!(
        own.stderr
            .contains("`initial` applies to the counter workloads"),
        "{}",
        own.stderr
    );
}

#[test]
fn command_line_overrides_pick_and_change_scenarios() {
    let dir = TempDir::new().unwrap();
    write(&dir, "pair.toml", PASS_AND_FAIL);
    let run = contend(
        &[
            "run",
            "pair.toml",
            "--scenario",
            "locked",
            "--seed",
            "99",
            "--runs",
            "7",
            "--engine",
            "threads",
            "--json",
            "r.json",
            "-q",
        ],
        dir.path(),
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = read_json(&dir.path().join("r.json"));
    let scenarios = report["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 1);
    assert_eq!(scenarios[0]["name"], "locked");
    assert_eq!(scenarios[0]["seed"], 99);
    assert_eq!(scenarios[0]["runs"], 7);
    assert_eq!(scenarios[0]["engine"], "threads");

    let unknown = contend(&["run", "pair.toml", "--scenario", "lockd"], dir.path());
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains(
            "--scenario lockd: no scenario has this name (the configs define: locked, racy)"
        ),
        "{}",
        unknown.stderr
    );
    let engine = contend(&["run", "pair.toml", "--engine", "fibers"], dir.path());
    assert_eq!(engine.code, 2);
    assert!(
        engine.stderr.contains("unknown engine"),
        "{}",
        engine.stderr
    );
    let shard = contend(&["run", "pair.toml", "--shard", "4/3"], dir.path());
    assert_eq!(shard.code, 2);
    assert!(
        shard.stderr.contains("shard 4 of 3 does not exist"),
        "{}",
        shard.stderr
    );
}

#[test]
fn a_shard_without_the_bug_or_without_executions_passes_and_says_why() {
    let dir = TempDir::new().unwrap();
    // 150 runs: blocks 0 and 1 go to shards 1 and 2, shard 3 has none.
    write(
        &dir,
        "c.toml",
        "[[scenario]]\nname = \"a\"\nengine = \"shuttle\"\nseed = 1\nthreads = [{ delta = 1, ops = 3 }, { delta = 1, ops = 3 }]\nruns = 150\nexpect = \"lost-updates\"\n",
    );
    let run = contend(
        &["run", "c.toml", "--shard", "3/3", "--json", "r.json", "-q"],
        dir.path(),
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("no execution of this scenario falls on shard 3/3"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("(shard 3/3 of a campaign"),
        "{}",
        run.stdout
    );
    assert_eq!(
        read_json(&dir.path().join("r.json"))["scenarios"][0]["runs"],
        0
    );
}

#[test]
fn engine_overrides_apply_to_the_selected_scenarios_only_and_are_noted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seed = root.join("configs/seed.toml");
    let dir = TempDir::new().unwrap();
    let run = contend(
        &[
            "run",
            seed.to_str().unwrap(),
            "--engine",
            "shuttle",
            "--scenario",
            "threads-no-lock-small",
            "--runs",
            "50",
            "--json",
            "r.json",
            "-q",
        ],
        dir.path(),
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("note: --engine shuttle runs 1 scenario on the shuttle engine"),
        "{}",
        run.stderr
    );
    let report = read_json(&dir.path().join("r.json"));
    assert_eq!(report["scenarios"][0]["engine"], "shuttle");

    let refused = contend(
        &["run", seed.to_str().unwrap(), "--engine", "async"],
        dir.path(),
    );
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.starts_with("error: with --engine async: "),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_ci_shard_index_beyond_the_total_names_its_variable() {
    let dir = TempDir::new().unwrap();
    write(&dir, "pair.toml", PASS_AND_FAIL);
    let output = Command::cargo_bin("contend")
        .unwrap()
        .current_dir(dir.path())
        .args(["run", "pair.toml", "--shards", "3"])
        .env("JOB_COMPLETION_INDEX", "3")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("JOB_COMPLETION_INDEX=3 names shard 4 of 3"),
        "{stderr}"
    );
}

#[test]
fn a_program_scenario_regression_takes_jitter_on_threads_and_refuses_it_under_shuttle() {
    // `jitter` was refused for every workload but the counters, although a program's or a
    // plugin's threads take the same noise on the threads engine.
    let dir = TempDir::new().unwrap();
    let program = |engine: &str, jitter: &str| {
        format!(
            "[[scenario]]\nname = \"program\"\nworkload = \"program\"\nengine = \"{engine}\"\n\
             runs = 5\n{jitter}\nexpect = \"no-failures\"\n[scenario.program]\n\
             shared = {{ x = 0 }}\nthreads = [{{ name = \"t\", code = \"atomic x += 1\", count = 2 }}]\n"
        )
    };
    for jitter in [
        "jitter = false",
        "jitter = true",
        "jitter = { yield_probability = 0.5 }",
    ] {
        write(&dir, "threads.toml", &program("threads", jitter));
        let run = contend(&["run", "threads.toml", "-q"], dir.path());
        assert_eq!(run.code, 0, "{jitter}: {}{}", run.stdout, run.stderr);
    }
    write(&dir, "shuttle.toml", &program("shuttle", "jitter = false"));
    let run = contend(&["run", "shuttle.toml", "-q"], dir.path());
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("shuttle.toml:6:"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("key `jitter`: `jitter` applies to the threads engine"),
        "{}",
        run.stderr
    );
}
