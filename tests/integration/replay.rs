//! Schedule files and `contend replay` as a user meets them: `contend run` saves a schedule for
//! each failing scenario, `contend replay FILE` re-executes it (exit 1 while the failure
//! reproduces, 0 once it no longer does), and a bad file is one clear error with exit 2.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tempfile::TempDir;

use crate::common;

use common::{Run, contend};

/// A scenario table for a config.
fn scenario(
    name: &str,
    engine: &str,
    scheduler: Option<&str>,
    sync: &str,
    threads: &str,
    runs: u64,
) -> String {
    let scheduler = scheduler
        .map(|s| format!("scheduler = \"{s}\"\n"))
        .unwrap_or_default();
    format!(
        r#"
[[scenario]]
name = "{name}"
engine = "{engine}"
{scheduler}sync = "{sync}"
initial = 10
threads = {threads}
runs = {runs}
seed = 7
expect = "lost-updates"
"#
    )
}

const SMALL: &str = "[{ delta = 1, ops = 5 }, { delta = -1, ops = 5 }]";

/// `contend run config.toml --out out --json report.json EXTRA...` in `dir`, which must pass;
/// returns the run and the JSON report.
fn run_config(dir: &Path, config: &str, extra: &[&str]) -> (Run, Value) {
    std::fs::write(dir.join("config.toml"), config).unwrap();
    let mut args = vec![
        "run",
        "config.toml",
        "--out",
        "out",
        "--json",
        "report.json",
    ];
    args.extend_from_slice(extra);
    let run = contend(&args, dir);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    (run, report)
}

/// The schedule file the report names for scenario `index`, checked to exist and to be the one
/// the text report tells the user to replay. Returns the path as the report gives it (relative
/// to `dir`, where contend ran) and the path to open from the test.
fn saved_schedule(dir: &Path, run: &Run, report: &Value, index: usize) -> (String, PathBuf) {
    let scenario = &report["scenarios"][index];
    let named = scenario["schedule_file"]
        .as_str()
        .unwrap_or_else(|| panic!("no schedule_file in {scenario}"))
        .to_string();
    let path = dir.join(&named);
    assert!(path.is_file(), "{} does not exist", path.display());
    // `NAME.schedule.toml`, or `NAME-N.schedule.toml` when that is taken.
    let name = scenario["name"].as_str().unwrap();
    let file_name = path.file_name().unwrap().to_str().unwrap();
    let stem = file_name.strip_suffix(".schedule.toml").unwrap_or_default();
    let numbered = stem
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n >= 2));
    assert!(
        stem == name || numbered,
        "{named} is not named after scenario `{name}`"
    );
    assert!(
        run.stdout
            .contains(&format!("replay: contend replay {named}")),
        "the text report does not say how to replay {named}:\n{}",
        run.stdout
    );
    (named, path)
}

fn read_toml(path: &Path) -> toml::Table {
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `contend replay FILE EXTRA...` in `dir`; a replay that runs (exit 0 or 1) says nothing on
/// stderr, shuttle included.
fn replay(dir: &Path, file: &str, extra: &[&str]) -> Run {
    let mut args = vec!["replay", file];
    args.extend_from_slice(extra);
    let run = contend(&args, dir);
    if run.code == 0 || run.code == 1 {
        assert!(
            run.stderr.trim().is_empty(),
            "a replay wrote to stderr:\n{}",
            run.stderr
        );
    }
    run
}

/// The lost updates and the final value of the replay's `outcome:` line.
fn outcome(stdout: &str) -> (u64, i64) {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("outcome: "))
        .unwrap_or_else(|| panic!("no outcome line:\n{stdout}"));
    let (lost, rest) = line
        .split_once(" lost; the counter ends at ")
        .unwrap_or_else(|| panic!("unexpected outcome line: {line}"));
    let lost: u64 = lost
        .split_whitespace()
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap();
    let final_value: i64 = rest
        .split(',')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("unexpected outcome line: {line}"));
    (lost, final_value)
}

/// The rows of the replay's interleaving table: lines whose first token is a step number.
fn table_rows(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|t| t.parse::<u64>().is_ok())
        })
        .collect()
}

/// Runs one failing scenario, replays its saved schedule, and checks that the replay shows the
/// recorded failure with the recorded numbers.
fn round_trip(engine: &str, scheduler: Option<&str>, sync: &str, threads: &str, runs: u64) {
    let dir = TempDir::new().unwrap();
    let name = format!("{sync}-{}", scheduler.unwrap_or(engine));
    let config = scenario(&name, engine, scheduler, sync, threads, runs);
    let (run, report) = run_config(dir.path(), &config, &[]);
    let entry = &report["scenarios"][0];
    assert_eq!(entry["verdict"], "pass", "{entry}");

    let minimal = &entry["minimal_schedule"];
    for field in ["preemptions", "steps", "minimality", "proven"] {
        assert!(
            minimal.get(field).is_some(),
            "minimal_schedule lacks `{field}`: {minimal}"
        );
    }

    let (named, path) = saved_schedule(dir.path(), &run, &report, 0);
    let file = read_toml(&path);
    assert_eq!(file["format"].as_str(), Some("contend-schedule"));
    assert_eq!(file["target"]["name"].as_str(), Some(name.as_str()));
    assert_eq!(file["target"]["engine"].as_str(), Some(engine));
    assert_eq!(file["target"]["sync"].as_str(), Some(sync));
    assert_eq!(
        file["target"].get("scheduler").and_then(|s| s.as_str()),
        scheduler
    );
    // The report and the file describe the same schedule.
    let file_minimal = &file["schedule"];
    assert_eq!(
        minimal["preemptions"].as_i64(),
        file_minimal["preemptions"].as_integer()
    );
    assert_eq!(
        minimal["steps"].as_i64(),
        file_minimal["steps"].as_integer()
    );
    assert_eq!(
        minimal["minimality"].as_str(),
        file_minimal["minimality"].as_str()
    );
    assert_eq!(
        minimal["proven"].as_bool(),
        Some(file_minimal["minimality"].as_str() == Some("proven"))
    );

    let replayed = replay(dir.path(), &named, &[]);
    assert_eq!(replayed.code, 1, "{}{}", replayed.stdout, replayed.stderr);
    assert!(
        replayed.stdout.contains("the recorded failure reproduces"),
        "{}",
        replayed.stdout
    );
    assert!(
        !replayed.stdout.contains("other numbers than recorded"),
        "{}",
        replayed.stdout
    );
    let failure = &file["failure"];
    let (lost, final_value) = outcome(&replayed.stdout);
    assert_eq!(
        Some(lost as i64),
        failure["lost_updates"].as_integer(),
        "{}",
        replayed.stdout
    );
    assert!(lost > 0);
    assert_eq!(
        Some(final_value),
        failure["final"].as_integer(),
        "{}",
        replayed.stdout
    );
    assert!(
        replayed.stdout.contains(&format!(
            "expected {}",
            failure["expected_final"].as_integer().unwrap()
        )),
        "{}",
        replayed.stdout
    );
    assert!(!table_rows(&replayed.stdout).is_empty());
}

#[test]
fn no_lock_under_shuttle_random_round_trips() {
    round_trip("shuttle", Some("random"), "none", SMALL, 20);
}

#[test]
fn no_lock_under_shuttle_pct_round_trips() {
    round_trip("shuttle", Some("pct"), "none", SMALL, 50);
}

#[test]
fn no_lock_under_shuttle_dfs_round_trips() {
    round_trip(
        "shuttle",
        Some("dfs"),
        "none",
        "[{ delta = 1, ops = 2 }, { delta = -1, ops = 3 }]",
        1000,
    );
}

/// 2 x 100 racy ops with jitter lose updates in 999 of 1,000 runs (load 6, 2 cores); even at
/// one run in two on a loaded machine, 30 runs all losing nothing has a chance of 2^-30.
#[test]
fn no_lock_on_threads_round_trips() {
    round_trip(
        "threads",
        None,
        "none",
        "[{ delta = 1, ops = 100 }, { delta = -1, ops = 101 }]",
        30,
    );
}

#[test]
fn flag_under_shuttle_random_round_trips() {
    round_trip("shuttle", Some("random"), "flag", SMALL, 50);
}

#[test]
fn flag_under_shuttle_pct_round_trips() {
    round_trip("shuttle", Some("pct"), "flag", SMALL, 300);
}

/// The flag lock loses updates in 98.9% of runs of 2 x 100 ops on real threads; at one run in
/// two, 50 runs all losing nothing has a chance of 2^-50.
#[test]
fn flag_on_threads_round_trips() {
    round_trip(
        "threads",
        None,
        "flag",
        "[{ delta = 1, ops = 100 }, { delta = -1, ops = 101 }]",
        50,
    );
}

/// Checks the `[schedule]` of a schedule file (`preemptions`, proven) and its shrunk counter:
/// two threads of the scenario's deltas with one op each.
fn assert_proven_minimal(file: &toml::Table, preemptions: i64) {
    let minimal = &file["schedule"];
    assert_eq!(minimal["preemptions"].as_integer(), Some(preemptions));
    assert_eq!(minimal["minimality"].as_str(), Some("proven"));
    let threads = file["target"]["shrunk"]["threads"].as_array().unwrap();
    assert_eq!(threads.len(), 2, "{minimal}");
    for thread in threads {
        assert_eq!(thread["ops"].as_integer(), Some(1), "{minimal}");
    }
    let deltas: Vec<_> = threads
        .iter()
        .map(|t| t["delta"].as_integer().unwrap())
        .collect();
    assert_eq!(deltas, [1, -1]);
}

#[test]
fn the_lessons_counter_shrinks_to_one_proven_preemption() {
    let dir = TempDir::new().unwrap();
    let config = scenario(
        "lesson",
        "shuttle",
        None,
        "none",
        "[{ delta = 1, ops = 1_000_000 }, { delta = -1, ops = 1_000_001 }]",
        1,
    );
    let (run, report) = run_config(dir.path(), &config, &[]);
    let minimal = &report["scenarios"][0]["minimal_schedule"];
    assert_eq!(minimal["preemptions"], 1, "{minimal}");
    assert_eq!(minimal["proven"], true, "{minimal}");
    assert_eq!(minimal["minimality"], "proven", "{minimal}");

    let (named, path) = saved_schedule(dir.path(), &run, &report, 0);
    assert_proven_minimal(&read_toml(&path), 1);
    let replayed = replay(dir.path(), &named, &[]);
    assert_eq!(replayed.code, 1, "{}", replayed.stdout);
    assert!(
        replayed.stdout.contains("1 preemption,"),
        "{}",
        replayed.stdout
    );
}

#[test]
fn the_flag_locks_minimal_schedule_has_two_proven_preemptions() {
    let dir = TempDir::new().unwrap();
    let config = scenario("flag", "shuttle", None, "flag", SMALL, 50);
    let (run, report) = run_config(dir.path(), &config, &[]);
    let minimal = &report["scenarios"][0]["minimal_schedule"];
    assert_eq!(minimal["preemptions"], 2, "{minimal}");
    assert_eq!(minimal["proven"], true, "{minimal}");

    let (_, path) = saved_schedule(dir.path(), &run, &report, 0);
    assert_proven_minimal(&read_toml(&path), 2);
}

#[test]
fn an_unshrunk_schedule_is_saved_as_such_and_still_replays() {
    let dir = TempDir::new().unwrap();
    let config = scenario(
        "unshrunk",
        "shuttle",
        None,
        "none",
        "[{ delta = 1, ops = 20 }, { delta = -1, ops = 20 }]",
        5,
    );
    let (run, report) = run_config(dir.path(), &config, &["--no-shrink"]);
    let (named, path) = saved_schedule(dir.path(), &run, &report, 0);
    let file = read_toml(&path);
    assert_eq!(file["schedule"]["minimality"].as_str(), Some("not-shrunk"));
    assert_eq!(report["scenarios"][0]["minimal_schedule"]["proven"], false);
    // Not shrunk: the workload is the scenario's own.
    let ops: Vec<_> = file["target"]["shrunk"]["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["ops"].as_integer().unwrap())
        .collect();
    assert_eq!(ops, [20, 20]);

    let replayed = replay(dir.path(), &named, &[]);
    assert_eq!(replayed.code, 1, "{}{}", replayed.stdout, replayed.stderr);
    assert!(
        replayed.stdout.contains("the recorded failure reproduces"),
        "{}",
        replayed.stdout
    );
    let (lost, final_value) = outcome(&replayed.stdout);
    assert_eq!(
        Some(lost as i64),
        file["failure"]["lost_updates"].as_integer()
    );
    assert_eq!(Some(final_value), file["failure"]["final"].as_integer());
}

#[test]
fn a_second_run_never_overwrites_a_saved_schedule() {
    let dir = TempDir::new().unwrap();
    let config = scenario("twice", "shuttle", None, "none", SMALL, 20);
    let (run, report) = run_config(dir.path(), &config, &[]);
    let (named, first) = saved_schedule(dir.path(), &run, &report, 0);
    assert_eq!(
        named,
        format!("out{}twice.schedule.toml", std::path::MAIN_SEPARATOR)
    );
    let before = std::fs::read(&first).unwrap();

    let (run, report) = run_config(dir.path(), &config, &[]);
    let (named, second) = saved_schedule(dir.path(), &run, &report, 0);
    assert_eq!(
        named,
        format!("out{}twice-2.schedule.toml", std::path::MAIN_SEPARATOR)
    );
    assert_eq!(std::fs::read(&first).unwrap(), before);
    assert!(second.is_file());

    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "report.html",
            "report.json",
            "twice-2.schedule.toml",
            "twice.schedule.toml"
        ]
    );
}

/// A saved schedule of the no-lock counter under shuttle: returns the temporary folder and the
/// file's path relative to it.
fn saved_racy_schedule() -> (TempDir, String) {
    let dir = TempDir::new().unwrap();
    let config = scenario("racy", "shuttle", None, "none", SMALL, 20);
    let (run, report) = run_config(dir.path(), &config, &[]);
    let (named, _) = saved_schedule(dir.path(), &run, &report, 0);
    (dir, named)
}

#[test]
fn a_schedule_whose_failure_is_fixed_replays_with_exit_0() {
    let (dir, named) = saved_racy_schedule();
    // The fix is in the config; the schedule file stays as it was saved.
    let fixed = scenario("racy", "shuttle", None, "mutex", SMALL, 20);
    write(&dir, "fixed-config.toml", fixed);

    let replayed = replay(dir.path(), &named, &["--config", "fixed-config.toml"]);
    assert_eq!(replayed.code, 0, "{}{}", replayed.stdout, replayed.stderr);
    assert!(
        replayed
            .stdout
            .contains("fixed: the scenario as the config defines it now does not fail"),
        "{}",
        replayed.stdout
    );
    assert_eq!(outcome(&replayed.stdout), (0, 10), "{}", replayed.stdout);
}

/// The flag lock's schedule, and the config it came from with `sync` fixed to a mutex.
fn flag_schedule_and_fix(dir: &Path) -> String {
    let config = scenario("flag", "shuttle", None, "flag", SMALL, 200);
    let (run, report) = run_config(dir, &config, &[]);
    let (named, _) = saved_schedule(dir, &run, &report, 0);
    std::fs::write(
        dir.join("fixed.toml"),
        config.replace("sync = \"flag\"", "sync = \"mutex\""),
    )
    .unwrap();
    named
}

#[test]
fn replay_against_the_fixed_config_exits_0_and_against_the_unfixed_one_exits_1() {
    let dir = TempDir::new().unwrap();
    let named = flag_schedule_and_fix(dir.path());

    let fixed = replay(dir.path(), &named, &["--config", "fixed.toml"]);
    assert_eq!(fixed.code, 0, "{}{}", fixed.stdout, fixed.stderr);
    assert!(fixed.stdout.contains("(sync mutex,"), "{}", fixed.stdout);
    assert!(fixed.stdout.contains("followed: "), "{}", fixed.stdout);
    assert!(fixed.stdout.contains("fixed: "), "{}", fixed.stdout);
    assert_eq!(outcome(&fixed.stdout).0, 0, "{}", fixed.stdout);

    let unfixed = replay(dir.path(), &named, &["--config", "config.toml"]);
    assert_eq!(unfixed.code, 1, "{}{}", unfixed.stdout, unfixed.stderr);
    assert!(unfixed.stdout.contains("(sync flag,"), "{}", unfixed.stdout);
    assert!(outcome(&unfixed.stdout).0 > 0, "{}", unfixed.stdout);

    // Without --config the file's own scenario is replayed: the bug is still there.
    let recorded = replay(dir.path(), &named, &[]);
    assert_eq!(recorded.code, 1, "{}{}", recorded.stdout, recorded.stderr);
}

#[test]
fn replay_against_a_config_without_the_scenario_is_refused_with_exit_2() {
    let dir = TempDir::new().unwrap();
    let named = flag_schedule_and_fix(dir.path());
    let renamed = std::fs::read_to_string(dir.path().join("fixed.toml"))
        .unwrap()
        .replace("name = \"flag\"", "name = \"other\"");
    std::fs::write(dir.path().join("renamed.toml"), renamed).unwrap();
    let run = replay(dir.path(), &named, &["--config", "renamed.toml"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("renamed.toml") && run.stderr.contains("no scenario named `flag`"),
        "{}",
        run.stderr
    );
    let missing = replay(dir.path(), &named, &["--config", "missing.toml"]);
    assert_eq!(missing.code, 2, "{}{}", missing.stdout, missing.stderr);
}

/// Checks that `contend replay FILE` rejects the file with exit 2 and one line on stderr,
/// `error: FILE...`, that contains each of `fragments`; returns that line.
fn assert_rejected(dir: &Path, file: &str, fragments: &[&str]) -> String {
    let run = replay(dir, file, &[]);
    assert_eq!(
        run.code, 2,
        "{file}: exit {}\n{}{}",
        run.code, run.stdout, run.stderr
    );
    assert!(
        run.stdout.is_empty(),
        "{file}: a rejected file printed:\n{}",
        run.stdout
    );
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{file}: not one line on stderr:\n{}",
        run.stderr
    );
    let line = lines[0];
    assert!(
        line.starts_with(&format!("error: {file}")),
        "the message does not name {file}: {line}"
    );
    for noise in [
        "failing seed",
        "Task failed",
        "failing schedule",
        "shuttle::replay",
    ] {
        assert!(!line.contains(noise), "shuttle noise: {line}");
    }
    for fragment in fragments {
        assert!(line.contains(fragment), "`{fragment}` not in: {line}");
    }
    line.to_string()
}

/// Writes `text` as `name` beside the saved schedule.
fn write(dir: &TempDir, name: &str, text: impl AsRef<[u8]>) {
    std::fs::write(dir.path().join(name), text).unwrap();
}

fn saved_text(dir: &TempDir, named: &str) -> String {
    std::fs::read_to_string(dir.path().join(named)).unwrap()
}

/// The 1-based line of the first line of `text` that starts with `prefix`.
fn line_of(text: &str, prefix: &str) -> usize {
    text.lines().position(|l| l.starts_with(prefix)).unwrap() + 1
}

#[test]
fn a_missing_file_is_an_error() {
    let dir = TempDir::new().unwrap();
    assert_rejected(dir.path(), "nowhere.schedule.toml", &["cannot read"]);
}

#[test]
fn an_empty_file_is_not_a_schedule() {
    let dir = TempDir::new().unwrap();
    write(&dir, "empty.toml", "");
    assert_rejected(dir.path(), "empty.toml", &["not a contend schedule file"]);
}

#[test]
fn binary_garbage_is_an_error() {
    let dir = TempDir::new().unwrap();
    write(
        &dir,
        "garbage.toml",
        [0u8, 0xff, 0xfe, 0x80, b'[', 0x01, 0x9c],
    );
    assert_rejected(dir.path(), "garbage.toml", &[]);
}

#[test]
fn text_that_is_not_toml_is_an_error_with_its_position() {
    let dir = TempDir::new().unwrap();
    write(&dir, "prose.toml", "# a note\nthis is not toml at all\n");
    assert_rejected(dir.path(), "prose.toml", &["prose.toml:2:"]);
}

#[test]
fn a_file_cut_in_half_is_an_error() {
    let (dir, named) = saved_racy_schedule();
    let text = saved_text(&dir, &named);
    write(&dir, "half.toml", &text.as_bytes()[..text.len() / 2]);
    assert_rejected(dir.path(), "half.toml", &[]);
}

#[test]
fn a_file_cut_inside_a_table_header_is_an_error_with_its_position() {
    let (dir, named) = saved_racy_schedule();
    let text = saved_text(&dir, &named);
    let header = text.find("[[target.shrunk.threads]]").unwrap();
    let line = line_of(&text, "[[target.shrunk.threads]]");
    write(
        &dir,
        "cut.toml",
        &text[..header + "[[target.shrunk.thr".len()],
    );
    assert_rejected(dir.path(), "cut.toml", &[&format!("cut.toml:{line}:")]);
}

#[test]
fn toml_that_is_not_a_schedule_is_named_as_such() {
    let (dir, named) = saved_racy_schedule();
    // A config given by mistake.
    assert_rejected(dir.path(), "config.toml", &["not a contend schedule file"]);
    // A schedule without its `format`, or with another one.
    let text = saved_text(&dir, &named);
    let without: String = text
        .lines()
        .filter(|l| !l.starts_with("format = "))
        .map(|l| format!("{l}\n"))
        .collect();
    write(&dir, "no-format.toml", without);
    assert_rejected(
        dir.path(),
        "no-format.toml",
        &["not a contend schedule file"],
    );
    write(
        &dir,
        "other-format.toml",
        text.replace(
            "format = \"contend-schedule\"",
            "format = \"someone-elses-schedule\"",
        ),
    );
    assert_rejected(
        dir.path(),
        "other-format.toml",
        &["not a contend schedule file"],
    );
}

#[test]
fn another_format_version_is_named() {
    let (dir, named) = saved_racy_schedule();
    let text = saved_text(&dir, &named);
    assert!(text.contains("\nversion = 3\n"));
    write(
        &dir,
        "v99.toml",
        text.replace("\nversion = 3\n", "\nversion = 99\n"),
    );
    assert_rejected(dir.path(), "v99.toml", &["version 99"]);
}

#[test]
fn an_unknown_key_is_named_with_its_position() {
    let (dir, named) = saved_racy_schedule();
    let text = saved_text(&dir, &named);

    let top = text.replace(
        "shuttle_version = ",
        "favourite_colour = \"blue\"\nshuttle_version = ",
    );
    let line = line_of(&top, "favourite_colour");
    write(&dir, "top.toml", &top);
    assert_rejected(
        dir.path(),
        "top.toml",
        &[&format!("top.toml:{line}:"), "favourite_colour"],
    );

    let nested = text.replace("\nminimality = ", "\nconfidence = 3\nminimality = ");
    let line = line_of(&nested, "confidence");
    write(&dir, "nested.toml", &nested);
    assert_rejected(
        dir.path(),
        "nested.toml",
        &[&format!("nested.toml:{line}:"), "confidence"],
    );
}

/// The saved racy schedule with its `[schedule]` choices line replaced by `choices`.
fn with_minimal_choices(text: &str, choices: &str) -> String {
    let minimal = text.find("\n[schedule]\n").unwrap();
    let start = minimal
        + text[minimal..]
            .find("\nchoices = ")
            .expect("a choices line")
        + 1;
    let end = start + text[start..].find('\n').unwrap();
    format!("{}choices = {choices}{}", &text[..start], &text[end..])
}

/// The `[schedule]` choices of a schedule file, as `(step, task)` pairs.
fn minimal_choices(file: &toml::Table) -> Vec<(i64, i64)> {
    file["schedule"]["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            let pair = pair.as_array().unwrap();
            (pair[0].as_integer().unwrap(), pair[1].as_integer().unwrap())
        })
        .collect()
}

#[test]
fn a_choice_of_a_task_that_does_not_exist_is_an_error() {
    let (dir, named) = saved_racy_schedule();
    let text = saved_text(&dir, &named);
    let file: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(
        file["target"]["shrunk"]["threads"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (step, _) = minimal_choices(&file)[0];
    write(
        &dir,
        "task7.toml",
        with_minimal_choices(&text, &format!("[[{step}, 7]]")),
    );
    assert_rejected(dir.path(), "task7.toml", &["task 7"]);
}

#[test]
fn choices_out_of_order_are_an_error() {
    let (dir, named) = saved_racy_schedule();
    let text = saved_text(&dir, &named);
    let file: toml::Table = toml::from_str(&text).unwrap();
    let (step, task) = minimal_choices(&file)[0];
    write(
        &dir,
        "order.toml",
        with_minimal_choices(
            &text,
            &format!("[[{}, {task}], [{step}, {task}]]", step + 1),
        ),
    );
    assert_rejected(dir.path(), "order.toml", &["increasing order"]);
}

#[test]
fn a_choice_beyond_the_end_of_the_execution_diverges() {
    let (dir, named) = saved_racy_schedule();
    // A schedule contend itself wrote (an edited file is refused before it runs, see
    // `an_edited_schedule_file_is_refused`): the failure's own choice goes, so the execution
    // does not fail, and cannot follow the schedule to its end either.
    let mut file = contend::schedule::file::ScheduleFile::load(&dir.path().join(&named)).unwrap();
    file.schedule.choices.last_mut().unwrap().step = 99_999;
    write(&dir, "far.toml", file.to_toml());
    assert!(
        saved_text(&dir, "far.toml").contains("99999"),
        "the edit did not happen"
    );
    assert_rejected(dir.path(), "far.toml", &["diverges", "decision 99999"]);
}

#[test]
fn a_thread_with_no_ops_is_an_error() {
    let (dir, named) = saved_racy_schedule();
    let text = saved_text(&dir, &named);
    let minimal = text.find("[[target.shrunk.threads]]").unwrap();
    let (head, tail) = text.split_at(minimal);
    let edited = format!("{head}{}", tail.replacen("ops = 1\n", "ops = 0\n", 1));
    assert_ne!(edited, text, "the edit did not happen");
    write(&dir, "ops0.toml", edited);
    assert_rejected(dir.path(), "ops0.toml", &["at least 1 op"]);
}

#[test]
fn the_replay_trace_has_one_event_per_table_row() {
    let dir = TempDir::new().unwrap();
    let config = scenario("flag", "shuttle", None, "flag", SMALL, 50);
    let (run, report) = run_config(dir.path(), &config, &[]);
    let (named, _) = saved_schedule(dir.path(), &run, &report, 0);

    let replayed = replay(dir.path(), &named, &["--trace", "trace.jsonl"]);
    assert_eq!(replayed.code, 1, "{}{}", replayed.stdout, replayed.stderr);
    let rows = table_rows(&replayed.stdout);
    assert!(!rows.is_empty(), "{}", replayed.stdout);

    let trace = std::fs::read_to_string(dir.path().join("trace.jsonl")).unwrap();
    let events: Vec<Value> = trace
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let steps: Vec<&Value> = events
        .iter()
        .filter(|e| e["target"] == "contend::replay")
        .collect();
    assert_eq!(steps.len(), rows.len(), "{trace}\n{}", replayed.stdout);
    for (index, (event, row)) in steps.iter().zip(&rows).enumerate() {
        for field in ["step", "thread", "access"] {
            assert!(
                event.get(field).is_some(),
                "an event lacks `{field}`: {event}"
            );
        }
        // The events follow the table, row by row.
        assert_eq!(event["step"], index as u64 + 1, "{event}");
        let number: u64 = row.split_whitespace().next().unwrap().parse().unwrap();
        assert_eq!(number, index as u64 + 1, "{row}");
        let access = event["access"].as_str().unwrap();
        assert!(row.contains(access), "row `{row}` lacks `{access}`");
    }
}

#[test]
fn verbose_replay_prints_the_choices() {
    let (dir, named) = saved_racy_schedule();
    let file = read_toml(&dir.path().join(&named));
    let choices = minimal_choices(&file);
    assert!(!choices.is_empty());

    let verbose = replay(dir.path(), &named, &["-v"]);
    assert_eq!(verbose.code, 1, "{}", verbose.stdout);
    let lines: Vec<&str> = verbose.stdout.lines().collect();
    let heading = lines
        .iter()
        .position(|l| l.starts_with("choices"))
        .unwrap_or_else(|| panic!("no choices heading:\n{}", verbose.stdout));
    // One line a choice, in order, naming its decision, its thread and its table row.
    for (offset, (step, task)) in choices.iter().enumerate() {
        let line = lines[heading + 1 + offset].trim();
        assert!(
            line.starts_with(&format!("decision {step}: run Thread-{task}")),
            "{line}"
        );
        assert!(line.contains(", before row "), "{line}");
    }

    let quiet = replay(dir.path(), &named, &[]);
    assert!(
        !quiet.stdout.lines().any(|l| l.starts_with("choices")),
        "{}",
        quiet.stdout
    );
}

#[test]
fn replay_refuses_a_trace_that_would_overwrite_the_schedule_file() {
    let (dir, named) = saved_racy_schedule();
    let before = std::fs::read(dir.path().join(&named)).unwrap();
    let run = replay(dir.path(), &named, &["--trace", &named]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("an input of this command"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(dir.path().join(&named)).unwrap(), before);
}

#[test]
fn replay_refuses_a_trace_folder_before_replaying() {
    let (dir, named) = saved_racy_schedule();
    std::fs::create_dir(dir.path().join("a-folder")).unwrap();
    let run = replay(dir.path(), &named, &["--trace", "a-folder"]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty(), "it replayed anyway:\n{}", run.stdout);
    assert!(
        run.stderr.contains("a-folder: --trace must name a file"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_livelock_schedule_is_saved_with_its_step_bound_and_replays() {
    let dir = TempDir::new().unwrap();
    let config = r#"
[[scenario]]
name = "livelock"
engine = "shuttle"
sync = "spin"
threads = [{ delta = 1, ops = 5 }, { delta = -1, ops = 5 }]
runs = 10
seed = 1
max_steps = 60
expect = "no-lost-updates"
"#;
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    let run = contend(&["run", "config.toml", "--out", "out"], dir.path());
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("replay: contend replay out/livelock.schedule.toml"),
        "{}",
        run.stdout
    );
    let file = read_toml(&dir.path().join("out/livelock.schedule.toml"));
    // Counter files said `failed` for every failure but a lost update: now the kind itself.
    assert_eq!(file["failure"]["kind"].as_str(), Some("livelock"));
    assert_eq!(file["schedule"]["max_steps"].as_integer(), Some(60));
    let replayed = replay(dir.path(), "out/livelock.schedule.toml", &[]);
    assert_eq!(replayed.code, 1, "{}{}", replayed.stdout, replayed.stderr);
    assert!(replayed.stdout.contains("livelock"), "{}", replayed.stdout);
}

#[test]
fn a_schedule_whose_expected_final_overflows_is_rejected() {
    let (dir, named) = saved_racy_schedule();
    let text = saved_text(&dir, &named);
    let minimal = text.find("\n[target.shrunk]\n").unwrap();
    let (head, tail) = text.split_at(minimal);
    write(
        &dir,
        "overflow.toml",
        format!(
            "{head}{}",
            tail.replacen("delta = 1\n", "delta = 9223372036854775807\n", 1)
        ),
    );
    assert_rejected(dir.path(), "overflow.toml", &["does not fit in 64 bits"]);
}

#[test]
fn no_shrink_on_real_threads_says_there_is_no_schedule_to_keep() {
    let dir = TempDir::new().unwrap();
    let config = scenario("threads", "threads", None, "none", SMALL, 50);
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    let run = contend(
        &["run", "config.toml", "--out", "out", "--no-shrink"],
        dir.path(),
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("no schedule: a failure on real threads"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("not reproduced"), "{}", run.stdout);
}

#[test]
fn a_replay_command_with_spaces_in_its_path_is_quoted() {
    let dir = TempDir::new().unwrap();
    let config = scenario("racy", "shuttle", None, "none", SMALL, 20);
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    let run = contend(&["run", "config.toml", "--out", "my out"], dir.path());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("replay: contend replay 'my out/racy.schedule.toml'"),
        "{}",
        run.stdout
    );
    let replayed = replay(dir.path(), "my out/racy.schedule.toml", &[]);
    assert_eq!(replayed.code, 1);
}

/// The lines of a replay's output that name an overwrite in words.
fn sentences(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| l.contains(", overwriting "))
        .collect()
}

#[test]
fn replay_holding_every_step_in_memory_regression_the_default_window_matches_full() {
    // The default output of a long schedule's replay keeps only a window of its steps while it
    // runs: its rows, its first overwrites in words and its counts must be those of --full,
    // which keeps them all.
    let dir = TempDir::new().unwrap();
    let threads = "[{ delta = 1, ops = 3000 }, { delta = -1, ops = 3001 }]";
    let config = scenario("long", "shuttle", Some("random"), "none", threads, 1);
    let (run, report) = run_config(dir.path(), &config, &["--no-shrink"]);
    let (file, _) = saved_schedule(dir.path(), &run, &report, 0);
    let short = replay(dir.path(), &file, &[]);
    let full = replay(dir.path(), &file, &["--full"]);
    assert_eq!(
        (short.code, full.code),
        (1, 1),
        "{}{}",
        short.stderr,
        full.stderr
    );
    let full_rows = table_rows(&full.stdout);
    assert_eq!(full_rows.len(), 12_002, "2 x 6,001 accesses");
    let shown = table_rows(&short.stdout);
    assert!(!shown.is_empty() && shown.len() <= 31, "{}", short.stdout);
    let first: usize = shown[0].split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(
        shown,
        full_rows[first - 1..first - 1 + shown.len()],
        "the window's rows differ from --full's"
    );
    assert!(shown.iter().any(|row| row.contains("(overwrites)")));
    if first > 1 {
        assert!(
            short
                .stdout
                .contains(&format!("  ... {} steps before\n", first - 1)),
            "{}",
            short.stdout
        );
    }
    let after = full_rows.len() - (first - 1 + shown.len());
    assert!(
        short
            .stdout
            .contains(&format!("  ... {after} steps after\n")),
        "{}",
        short.stdout
    );
    let overwrites = full_rows
        .iter()
        .filter(|row| row.contains("(overwrites)"))
        .count();
    let counts = format!(
        "({} steps, {} overwrites: `--full` prints them all)",
        words(full_rows.len()),
        words(overwrites)
    );
    assert!(short.stdout.contains(&counts), "{counts}\n{}", short.stdout);
    let all = sentences(&full.stdout);
    assert_eq!(all.len(), overwrites);
    assert_eq!(sentences(&short.stdout), all[..10.min(all.len())]);
    assert_eq!(outcome(&short.stdout), outcome(&full.stdout));
    assert_eq!(
        outcome(&short.stdout).0,
        report["scenarios"][0]["lost_updates"].as_u64().unwrap()
    );
}

/// A count as contend prints it: `12,002`.
fn words(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
