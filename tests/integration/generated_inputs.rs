//! Generated bad input: mutated configs and mutated schedule files, each run through the real
//! binary. Every one must end with exit 0, 1 or 2, without a panic, within a bounded time, and
//! leave no file outside `--out`.
//!
//! The mutations are drawn from a fixed seed (set `CONTEND_FUZZ_SEED` to explore others), so
//! that a failure repeats; the case that failed is printed whole.

use crate::common;

use std::path::Path;
use std::sync::Arc;

use contend::check::{Check, Engine, Expect, Scheduler, Shared, thread};
use contend::schedule::file::ScheduleFile;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tempfile::TempDir;

use common::contend;

/// Cases per kind of input: enough to meet every class of mutation several times.
const CASES: usize = 40;

/// A valid config with a scenario per engine, kept small so that a case runs in milliseconds.
const CONFIG: &str = r#"[defaults]
initial = 10
seed = 42
runs = 4

[[scenario]]
name = "shuttle"
engine = "shuttle"
scheduler = "pct"
depth = 2
sync = "none"
threads = [{ delta = 1, ops = 3 }, { delta = -1, ops = 4 }]
expect = "lost-updates"

[[scenario]]
name = "threads"
engine = "threads"
sync = "mutex"
threads = [[1, 20], [-1, 20]]
jitter = { yield_probability = 0.1, max_spin = 10 }
expect = "no-lost-updates"

[[scenario]]
name = "async"
engine = "async"
executor = "shuttle"
await_in_critical_section = true
threads = [{ delta = 2, ops = 3 }, { delta = -1, ops = 3 }]
expect = "lost-updates"

[[scenario]]
name = "program"
workload = "program"
engine = "shuttle"
runs = 50
expect = "invariant"
[scenario.program]
shared = { balance = 100 }
locks = ["m"]
check = ["balance >= 0"]
threads = [
  { name = "alice", code = "if balance >= 80 {\n  balance -= 80\n}", count = 2 },
  { name = "bob", code = "lock m; balance += thread; unlock m" },
]
"#;

/// Values that break sizes, signs, types and encodings.
const NASTY: [&str; 16] = [
    "0",
    "-1",
    "1.5",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "99999999999999999999999",
    "\"\"",
    "\"\\u001b[2J\"",
    "true",
    "[]",
    "{}",
    "[[1, 2, 3]]",
    "nan",
    "\"x\"",
    "1e308",
];

/// One random change to `text`.
fn mutate(text: &str, rng: &mut SmallRng) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let line = rng.random_range(0..lines.len());
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    match rng.random_range(0..7) {
        // A value replaced by a nasty one.
        0 | 1 => {
            if let Some(eq) = out[line].find(" = ") {
                let nasty = NASTY[rng.random_range(0..NASTY.len())];
                out[line] = format!("{} = {nasty}", &out[line][..eq]);
            }
        }
        // A number inside the line replaced.
        2 => {
            let digits: Vec<usize> = out[line]
                .char_indices()
                .filter(|(_, c)| c.is_ascii_digit())
                .map(|(i, _)| i)
                .collect();
            if let Some(&at) = digits.get(rng.random_range(0..digits.len().max(1))) {
                let nasty = NASTY[rng.random_range(0..6)];
                out[line].replace_range(at..at + 1, nasty);
            }
        }
        3 => {
            out.remove(line);
        }
        4 => {
            let copy = out[line].clone();
            out.insert(line, copy);
        }
        // Truncated anywhere.
        5 => {
            let joined = out.join("\n");
            let mut cut = rng.random_range(0..joined.len().max(1));
            while !joined.is_char_boundary(cut) {
                cut -= 1;
            }
            return joined[..cut].to_string();
        }
        // A byte flipped to a control or non-ASCII character.
        _ => {
            let bytes = out[line].len();
            if bytes > 0 {
                let mut at = rng.random_range(0..bytes);
                while !out[line].is_char_boundary(at) {
                    at -= 1;
                }
                let replacement =
                    ['\u{0}', '\u{7}', '\u{1b}', 'é', '\t', '"', '['][rng.random_range(0..7)];
                let width = out[line][at..].chars().next().map_or(1, char::len_utf8);
                out[line].replace_range(at..at + width, &replacement.to_string());
            }
        }
    }
    out.join("\n") + "\n"
}

fn seed() -> u64 {
    std::env::var("CONTEND_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_130)
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

/// Runs one case and checks what every case must do; `contend` itself fails the test on a
/// panic, a signal or a hang (its guard).
fn check_case(dir: &Path, args: &[&str], input: &str, allowed: &[&str]) {
    let run = contend(args, dir);
    assert!(
        [0, 1, 2].contains(&run.code),
        "exit {} for input:\n{input}\n{}{}",
        run.code,
        run.stdout,
        run.stderr
    );
    if run.code == 2 {
        assert!(
            run.stderr.starts_with("error: "),
            "exit 2 without a message for input:\n{input}\n{}",
            run.stderr
        );
    }
    for name in listing(dir) {
        assert!(
            allowed.contains(&name.as_str()),
            "`{name}` written outside --out for input:\n{input}"
        );
    }
}

#[test]
fn mutated_configs_end_in_a_verdict_or_one_message() {
    let mut rng = SmallRng::seed_from_u64(seed());
    for _ in 0..CASES {
        let dir = TempDir::new().unwrap();
        let mut text = CONFIG.to_string();
        for _ in 0..rng.random_range(1..=3) {
            text = mutate(&text, &mut rng);
        }
        std::fs::write(dir.path().join("c.toml"), &text).unwrap();
        // A time budget bounds a mutated `runs`; -q keeps stderr to errors.
        check_case(
            dir.path(),
            &["run", "c.toml", "-q", "--time", "2s", "--out", "out"],
            &text,
            &["c.toml", "out"],
        );
    }
}

#[test]
fn mutated_schedule_files_end_in_a_verdict_or_one_message() {
    mutated_schedule_files_of("shuttle", seed() ^ 1);
}

#[test]
fn mutated_program_schedule_files_end_in_a_verdict_or_one_message() {
    mutated_schedule_files_of("program", seed() ^ 2);
}

/// Saves the failing schedule of scenario `scenario` of [`CONFIG`], then replays mutations of
/// it drawn from `seed`.
fn mutated_schedule_files_of(scenario: &str, seed: u64) {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("c.toml"), CONFIG).unwrap();
    let run = contend(
        &[
            "run",
            "c.toml",
            "-q",
            "--scenario",
            scenario,
            "--out",
            "out",
        ],
        dir.path(),
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let schedule =
        std::fs::read_to_string(dir.path().join(format!("out/{scenario}.schedule.toml"))).unwrap();
    assert!(schedule.contains("\nversion = 3\n"), "{schedule}");
    replay_mutations_of(&schedule, seed);
}

#[test]
fn mutated_check_schedule_files_end_in_one_message() {
    // A check's schedule replays from its test, never from the command line: every mutation
    // ends in one message, the unchanged file's naming the test's command.
    let dir = TempDir::new().unwrap();
    let report = Check::new("mutated_check")
        .engines([Engine::Shuttle(Scheduler::Random)])
        .runs(20)
        .expect(Expect::LostUpdates)
        .schedule_dir(dir.path())
        .run(|| {
            let counter = Arc::new(Shared::named("counter", 0));
            let other = Arc::clone(&counter);
            let handle = thread::spawn(move || other.update(|value| value + 1));
            counter.update(|value| value + 1);
            handle.join().unwrap();
        });
    let path = report.engines[0]
        .first_failure
        .as_ref()
        .and_then(|failure| failure.schedule_file.clone())
        .expect("a saved schedule");
    let schedule = std::fs::read_to_string(path).unwrap();
    assert!(schedule.contains("\nkind = \"check\"\n"), "{schedule}");
    replay_mutations_of(&schedule, seed() ^ 3);
}

#[test]
fn mutated_version_2_schedule_files_end_in_a_verdict_or_one_message() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/schedules-v2");
    for (at, name) in ["counter-racy", "overdraft", "racy_counter.random"]
        .iter()
        .enumerate()
    {
        let schedule = std::fs::read_to_string(data.join(format!("{name}.schedule.toml"))).unwrap();
        replay_mutations_of(&schedule, seed() ^ (4 + at as u64));
    }
}

/// Replays mutations of the schedule file `schedule` drawn from `seed`: each ends in a verdict
/// or one message, reading it never panics, and an edited file is refused.
fn replay_mutations_of(schedule: &str, seed: u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    for _ in 0..CASES {
        let case = TempDir::new().unwrap();
        let mut text = schedule.to_string();
        for _ in 0..rng.random_range(1..=2) {
            text = mutate(&text, &mut rng);
        }
        std::fs::write(case.path().join("s.toml"), &text).unwrap();
        check_case(case.path(), &["replay", "s.toml"], &text, &["s.toml"]);
        // An edited schedule is refused: only an unchanged record replays.
        let read = ScheduleFile::parse(&text, Path::new("s.toml"));
        let run = contend(&["replay", "s.toml"], case.path());
        if text != schedule && (run.code != 2 || read.is_ok()) {
            let file: Result<toml::Table, _> = toml::from_str(&text);
            let original: toml::Table = toml::from_str(schedule).unwrap();
            assert_eq!(
                file.ok(),
                Some(original),
                "an edited schedule was read or replayed (exit {}):\n{text}",
                run.code
            );
        }
    }
}
