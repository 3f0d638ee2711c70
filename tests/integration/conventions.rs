//! The command line's conventions: colour, completions, the man page, `list` and `check` of
//! configs, `--fail-fast`, report flags naming one file, and names with control characters.

use crate::common;

use std::path::Path;

use common::contend;
use tempfile::TempDir;

const PASS_AND_FAIL: &str = r#"
[[scenario]]
name = "flag-lock"
workload = "counter"
engine = "shuttle"
sync = "flag"
initial = 10
threads = [{ delta = 1, ops = 3 }, { delta = -1, ops = 3 }]
runs = 100
seed = 7
expect = "no-lost-updates"

[[scenario]]
name = "mutex-lock"
workload = "counter"
engine = "shuttle"
sync = "mutex"
initial = 10
threads = [{ delta = 1, ops = 3 }, { delta = -1, ops = 3 }]
runs = 100
seed = 7
expect = "no-lost-updates"
"#;

fn setup(config: &str) -> TempDir {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("demo.toml"), config).unwrap();
    dir
}

/// Runs contend with extra environment variables.
fn contend_env(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> common::Run {
    let mut command = assert_cmd::Command::cargo_bin("contend").unwrap();
    for variable in common::CI_VARIABLES {
        command.env_remove(variable);
    }
    command.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command
        .current_dir(dir)
        .args(args)
        .timeout(std::time::Duration::from_secs(600))
        .output()
        .unwrap();
    common::Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

const ESCAPE: char = '\u{1b}';

#[test]
fn color_always_colours_through_a_pipe_and_never_or_no_color_do_not() {
    let dir = setup(PASS_AND_FAIL);
    let always = contend_env(
        &["run", "demo.toml", "-q", "--color", "always"],
        dir.path(),
        &[],
    );
    assert_eq!(always.code, 1);
    assert!(
        always.stdout.contains("\u{1b}[1m\u{1b}[31mFAIL"),
        "FAIL in red: {}",
        always.stdout
    );
    assert!(
        always.stdout.contains("\u{1b}[1m\u{1b}[32mpass"),
        "pass in green"
    );
    for (args, env) in [
        (vec!["--color", "never"], vec![]),
        (vec![], vec![("NO_COLOR", "1")]),
        (vec![], vec![]),
    ] {
        let mut all = vec!["run", "demo.toml", "-q"];
        all.extend(args.iter());
        let run = contend_env(&all, dir.path(), &env);
        assert_eq!(run.code, 1);
        assert!(
            !run.stdout.contains(ESCAPE),
            "{args:?} {env:?}: {}",
            run.stdout
        );
        assert!(
            !run.stderr.contains(ESCAPE),
            "{args:?} {env:?}: {}",
            run.stderr
        );
    }
    let forced = contend_env(
        &["run", "demo.toml", "-q"],
        dir.path(),
        &[("CLICOLOR_FORCE", "1")],
    );
    assert!(
        forced.stdout.contains(ESCAPE),
        "CLICOLOR_FORCE colours a pipe"
    );
    let error = contend_env(
        &["check", "missing.toml", "--color", "always"],
        dir.path(),
        &[],
    );
    assert_eq!(error.code, 2);
    assert!(
        error.stderr.starts_with("\u{1b}[1m\u{1b}[31merror"),
        "{}",
        error.stderr
    );
}

#[test]
fn completions_for_bash_zsh_and_fish_and_a_man_page_are_generated() {
    let dir = TempDir::new().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F _contend"),
        ("zsh", "#compdef contend"),
        ("fish", "complete -c contend"),
    ] {
        let run = contend(&["completions", shell], dir.path());
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.contains(marker), "{shell}: {}", run.stdout);
        assert!(run.stdout.contains("fail-fast"), "{shell} knows the flags");
        assert!(run.stdout.contains("replay"), "{shell} knows the commands");
    }
    let run = contend(&["completions", "tcsh"], dir.path());
    assert_eq!(run.code, 2);
    let man = contend(&["man"], dir.path());
    assert_eq!(man.code, 0);
    assert!(man.stdout.contains(".TH contend 1"), "{}", man.stdout);
    assert!(
        man.stdout.contains("completions"),
        "the man page lists the commands"
    );
}

#[test]
fn list_and_check_validate_configs_without_running_them() {
    let dir = setup(PASS_AND_FAIL);
    let list = contend(&["list", "demo.toml"], dir.path());
    assert_eq!(list.code, 0, "{}", list.stderr);
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert!(lines[0].starts_with("scenario"), "{}", list.stdout);
    assert!(
        lines[1].starts_with("flag-lock ")
            && lines[1].contains("counter")
            && lines[1].contains("shuttle")
            && lines[1].contains("100")
            && lines[1].contains("no-lost-updates")
            && lines[1].ends_with("demo.toml:2"),
        "{}",
        list.stdout
    );
    assert!(!dir.path().join("contend-out").exists(), "nothing ran");
    let check = contend(&["check", "demo.toml"], dir.path());
    assert_eq!(check.code, 0);
    assert_eq!(check.stdout, "demo.toml: ok, 2 scenarios\n");

    std::fs::write(
        dir.path().join("bad.toml"),
        "[[scenario]]\nname = \"x\"\nworkload = \"counter\"\nengine = \"shuttle\"\n\
         sync = \"none\"\nthreads = []\nexpect = \"lost-updates\"\n",
    )
    .unwrap();
    for command in ["check", "list"] {
        let run = contend(&[command, "demo.toml", "bad.toml"], dir.path());
        assert_eq!(run.code, 2, "{command}: {}", run.stdout);
        assert!(run.stderr.contains("bad.toml"), "{command}: {}", run.stderr);
        assert!(run.stderr.contains("threads"), "{command}: {}", run.stderr);
    }
    let plain = contend(&["list"], dir.path());
    assert_eq!(plain.code, 0);
    assert!(plain.stdout.contains("sync modes"));
}

#[test]
fn fail_fast_stops_the_run_at_the_first_failed_scenario_and_reports_the_rest_as_not_run() {
    let dir = setup(PASS_AND_FAIL);
    let run = contend(
        &[
            "run",
            "demo.toml",
            "-q",
            "--fail-fast",
            "--json",
            "r.json",
            "--junit",
            "r.xml",
        ],
        dir.path(),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains("1 failed, 1 not run"), "{}", run.stdout);
    assert!(
        run.stdout.contains("not run (--fail-fast"),
        "{}",
        run.stdout
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(report["scenarios"].as_array().unwrap().len(), 1);
    assert_eq!(report["not_run"], serde_json::json!(["mutex-lock"]));
    let junit = std::fs::read_to_string(dir.path().join("r.xml")).unwrap();
    assert!(junit.contains("<skipped"), "{junit}");

    let run = contend(
        &[
            "run",
            "demo.toml",
            "-q",
            "--fail-fast",
            "--no-fail-fast",
            "--json",
            "r.json",
        ],
        dir.path(),
    );
    assert_eq!(run.code, 1);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(
        report["scenarios"].as_array().unwrap().len(),
        2,
        "the last flag wins"
    );
    assert!(report.get("not_run").is_none());
}

#[test]
fn two_report_flags_naming_one_file_are_refused_before_running() {
    let dir = setup(PASS_AND_FAIL);
    for args in [
        vec!["run", "demo.toml", "--json", "r", "--html", "r"],
        vec!["run", "demo.toml", "--junit", "./r", "--html", "r"],
        vec!["run", "demo.toml", "--html", "contend-out/report.html"],
    ] {
        let run = contend(&args, dir.path());
        assert_eq!(run.code, 2, "{args:?}: {}", run.stdout);
        assert!(run.stderr.contains("--html"), "{args:?}: {}", run.stderr);
        assert!(!dir.path().join("r").exists());
    }
}

#[test]
fn control_characters_in_scenario_names_are_escaped_on_the_terminal() {
    let dir =
        setup(&PASS_AND_FAIL.replace("name = \"mutex-lock\"", "name = \"mutex\\u001b[2Jlock\""));
    let run = contend(&["run", "demo.toml", "-q", "--color", "never"], dir.path());
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!run.stdout.contains(ESCAPE), "{}", run.stdout);
    assert!(run.stdout.contains("mutex\\u{1b}[2Jlock"), "{}", run.stdout);
    let list = contend(&["list", "demo.toml"], dir.path());
    assert!(
        list.stdout.contains("mutex\\u{1b}[2Jlock"),
        "{}",
        list.stdout
    );
}

#[test]
fn the_readme_is_short_and_every_page_it_links_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.lines().count() < 200,
        "README.md has {} lines",
        readme.lines().count()
    );
    let mut pages = Vec::new();
    for file in std::iter::once(root.join("README.md")).chain(
        std::fs::read_dir(root.join("docs"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "md")),
    ) {
        let text = std::fs::read_to_string(&file).unwrap();
        for link in text.split("](").skip(1) {
            let target = link.split(')').next().unwrap().split('#').next().unwrap();
            if target.is_empty() || target.contains("://") {
                continue;
            }
            let path = file.parent().unwrap().join(target);
            assert!(
                path.exists(),
                "{} links {target}, which does not exist",
                file.display()
            );
            pages.push(target.to_string());
        }
    }
    assert!(pages.iter().any(|p| p == "docs/usage.md"), "{pages:?}");
    assert!(
        !readme.contains("shared/"),
        "the README refers to nothing outside the project"
    );
}

#[test]
fn the_schema_marks_required_keys_one_thread_at_least_and_durations_with_a_unit() {
    let dir = TempDir::new().unwrap();
    let run = contend(&["schema"], dir.path());
    assert_eq!(run.code, 0);
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        schema["properties"]["scenario"]["items"]["required"],
        serde_json::json!(["name"])
    );
    assert_eq!(
        schema["properties"]["defaults"]["not"]["required"],
        serde_json::json!(["name"])
    );
    for (rule, key) in schema["allOf"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["engine", "expect"])
    {
        assert_eq!(
            rule["then"]["properties"]["scenario"]["items"]["required"],
            serde_json::json!([key]),
            "{rule}"
        );
        assert_eq!(
            rule["if"]["not"]["properties"]["defaults"]["required"],
            serde_json::json!([key]),
            "{key} is required unless [defaults] sets it"
        );
    }
    let scenario = &schema["$defs"]["RawScenario"]["properties"];
    assert_eq!(scenario["threads"]["minItems"], 1);
    for key in ["time", "timeout"] {
        let pattern = scenario[key]["pattern"].as_str().unwrap();
        assert!(pattern.contains("[a-zA-Z"), "{key} needs a unit: {pattern}");
        assert!(scenario[key]["description"].is_string());
    }
}
