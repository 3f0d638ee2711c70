//! Parts 17, `main-job`, and 18, `test-suite`: the README's two set-up commands.
//!
//! Part 17 runs `contend run configs/seed.toml` (the main job) with the default `--jobs`
//! against the same run with `-j 1` (one scenario and one execution at a time), alternating;
//! the target is the main job's run time, under 15 s.
//!
//! Part 18 builds and runs the test suite in a fresh clone of the repository's `HEAD`:
//! `cargo test --release` from an empty target folder (build and run, the README's command),
//! against `cargo build --release` of the binary alone from an empty target folder of its own
//! (what the main job's first run builds); then `cargo nextest run --release` in the built
//! clone for each test's time. Targets: the whole under 4 minutes, no test over 20 s. It takes
//! several minutes, so a run of every part leaves it out: name it (`-- test-suite`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::{Row, contend_binary, format_times, median};

/// The main job's config, from the repository's root.
const SEED_CONFIG: &str = "configs/seed.toml";
/// Rounds of part 17: each runs the main job twice (about 15 s a round).
const MAIN_JOB_ROUNDS: usize = 3;
/// The main job's target: seconds of run time.
const MAIN_JOB_TARGET: f64 = 15.0;
/// The test suite's target, build and run: seconds.
const SUITE_TARGET: f64 = 240.0;
/// The slowest test's target: seconds.
const SLOWEST_TEST_TARGET: f64 = 20.0;

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The seconds `contend run configs/seed.toml -q` takes with these extra arguments; the run
/// must pass.
fn main_job(extra: &[&str], out: &Path) -> f64 {
    let started = Instant::now();
    let status = Command::new(contend_binary())
        .args(["run", SEED_CONFIG, "-q", "--out"])
        .arg(out)
        .args(extra)
        .current_dir(repository())
        .stdout(Stdio::null())
        .status()
        .expect("contend starts");
    let seconds = started.elapsed().as_secs_f64();
    assert!(status.success(), "the main job failed: {status}");
    seconds
}

/// Part 17: the main job with the default jobs against `-j 1`.
pub(super) fn main_job_time() -> Vec<Row> {
    let out = tempfile::tempdir().expect("a temporary folder");
    let (mut one_job, mut default) = (Vec::new(), Vec::new());
    for round in 0..MAIN_JOB_ROUNDS {
        if round % 2 == 0 {
            one_job.push(main_job(&["-j", "1"], out.path()));
            default.push(main_job(&[], out.path()));
        } else {
            default.push(main_job(&[], out.path()));
            one_job.push(main_job(&["-j", "1"], out.path()));
        }
    }
    let (baseline, contend) = (median(&one_job), median(&default));
    println!("   -j 1 rounds:    {}", format_times(&one_job));
    println!("   default rounds: {}", format_times(&default));
    println!(
        "   medians: -j 1 {baseline:.2} s, default jobs {contend:.2} s (target: under \
         {MAIN_JOB_TARGET} s)"
    );
    vec![Row {
        name: "17 the main job (configs/seed.toml): run time".to_string(),
        baseline: format!("{baseline:.2} s (-j 1)"),
        contend: format!("{contend:.2} s"),
        ratio: format!("{:.2}x", contend / baseline),
        target: format!("< {MAIN_JOB_TARGET} s"),
        met: Some(contend < MAIN_JOB_TARGET),
    }]
}

/// `cargo` with the bench's own cargo settings removed, building into `target`.
fn cargo(clone: &Path, target: &Path) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("CARGO_") && name != "CARGO_HOME" {
            command.env_remove(name);
        }
    }
    command
        .env("CARGO_TARGET_DIR", target)
        .current_dir(clone)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// Runs `command` to success and returns its seconds.
fn timed(what: &str, command: &mut Command) -> f64 {
    let started = Instant::now();
    let status = command.status().expect("the command starts");
    let seconds = started.elapsed().as_secs_f64();
    assert!(status.success(), "{what} failed: {status}");
    println!("   {what}: {seconds:.1} s");
    seconds
}

/// A fresh clone of the repository's `HEAD`, its crates fetched (not timed).
fn fresh_clone(folder: &Path) -> PathBuf {
    let clone = folder.join("contend");
    let status = Command::new("git")
        .args(["clone", "-q", "--no-hardlinks"])
        .arg(repository())
        .arg(&clone)
        .status()
        .expect("git starts");
    assert!(status.success(), "git clone failed");
    let target = folder.join("fetch");
    let fetched = cargo(&clone, &target).arg("fetch").status();
    assert!(fetched.is_ok_and(|s| s.success()), "cargo fetch failed");
    clone
}

/// Each test's seconds from `cargo nextest run --release` in the built clone, slowest first;
/// `None` without nextest.
fn test_times(clone: &Path, target: &Path) -> Option<Vec<(f64, String)>> {
    let version = cargo(clone, target).args(["nextest", "--version"]).status();
    if !version.is_ok_and(|s| s.success()) {
        println!("   cargo-nextest is not installed: no time per test");
        return None;
    }
    let output = cargo(clone, target)
        .args(["nextest", "run", "--release", "--no-fail-fast"])
        .stderr(Stdio::piped())
        .output()
        .expect("nextest starts");
    assert!(output.status.success(), "cargo nextest run failed");
    let mut times: Vec<(f64, String)> = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(nextest_line)
        .collect();
    times.sort_by(|a, b| b.0.total_cmp(&a.0));
    Some(times)
}

/// `(seconds, test)` of a nextest result line: `        PASS [   1.234s] (3/290) integration
/// ci::a_test`.
fn nextest_line(line: &str) -> Option<(f64, String)> {
    let rest = line.trim_start().strip_prefix("PASS [")?;
    let (seconds, rest) = rest.split_once("s]")?;
    let test = rest.rsplit_once(") ").map_or(rest, |(_, test)| test).trim();
    Some((seconds.trim().parse().ok()?, test.to_string()))
}

/// Part 18: the test suite in a fresh clone, build and run.
pub(super) fn test_suite_time() -> Vec<Row> {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let clone = fresh_clone(folder.path());
    let binary_only = timed(
        "cargo build --release (the binary alone, from empty)",
        cargo(&clone, &folder.path().join("target-binary")).args(["build", "--release"]),
    );
    let tests_target = folder.path().join("target-tests");
    let suite = timed(
        "cargo test --release (build and run, from empty)",
        cargo(&clone, &tests_target).args(["test", "--release"]),
    );
    let mut rows = vec![Row {
        name: "18 the test suite, cargo test --release in a fresh clone: build and run".to_string(),
        baseline: format!("{binary_only:.0} s (the binary's build alone)"),
        contend: format!("{suite:.0} s"),
        ratio: format!("{:.2}x", suite / binary_only),
        target: format!("< {SUITE_TARGET} s"),
        met: Some(suite < SUITE_TARGET),
    }];
    if let Some(times) = test_times(&clone, &tests_target) {
        let slowest = times.first().map_or(0.0, |(seconds, _)| *seconds);
        let middle = median(&times.iter().map(|(s, _)| *s).collect::<Vec<_>>());
        println!("   the slowest tests:");
        for (seconds, test) in times.iter().take(5) {
            println!("   {seconds:6.2} s  {test}");
        }
        rows.push(Row {
            name: format!("18 the slowest of {} tests (nextest)", times.len()),
            baseline: format!("{middle:.2} s (the median test)"),
            contend: format!("{slowest:.2} s"),
            ratio: format!("{:.0}x", slowest / middle.max(0.001)),
            target: format!("< {SLOWEST_TEST_TARGET} s"),
            met: Some(slowest < SLOWEST_TEST_TARGET),
        });
    }
    rows
}
