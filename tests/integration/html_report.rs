//! The HTML report in a real browser: headless Chromium renders the report of a run with a
//! failure and a pass; the DOM it builds holds the scenarios, verdicts, counts and lanes; the
//! page asks the network for nothing; screenshots are kept under `target/`.
//!
//! `.ci/run` installs Chromium when it is missing.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::contend;
use serde_json::Value;
use tempfile::TempDir;

const CONFIG: &str = r#"
[[scenario]]
name = "flag-lock"
workload = "counter"
engine = "shuttle"
scheduler = "random"
sync = "flag"
initial = 10
threads = [{ delta = 1, ops = 3 }, { delta = -1, ops = 3 }]
runs = 200
seed = 7
expect = "no-lost-updates"

[[scenario]]
name = "mutex-lock"
workload = "counter"
engine = "shuttle"
scheduler = "random"
sync = "mutex"
initial = 10
threads = [{ delta = 1, ops = 3 }, { delta = -1, ops = 3 }]
runs = 200
seed = 7
expect = "no-lost-updates"
"#;

/// The browser: `CHROMIUM` if set, else the first of the usual names on the PATH.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "no Chromium on the PATH: the HTML report is tested in a real browser \
         (`apt-get install -y chromium`, as .ci/run does, or set CHROMIUM)"
    );
}

/// Runs headless Chromium on `page` with `args`; returns its stdout. A guard, not a measure
/// of speed, stops a browser that hangs.
fn browse(page: &Path, profile: &Path, args: &[String]) -> String {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start Chromium");
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap());
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(300) {
            child.kill().unwrap();
            panic!("Chromium did not finish with {page:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

/// The URLs the page itself asked the network for: requests made on behalf of a `file://`
/// page (the browser's own background requests are not the page's).
fn page_requests(net_log: &Path) -> Vec<String> {
    let log: Value = serde_json::from_str(&std::fs::read_to_string(net_log).unwrap())
        .expect("Chromium's net log is JSON");
    let start_job = &log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"];
    log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| &event["type"] == start_job)
        .filter(|event| {
            event["params"]["network_isolation_key"]
                .as_str()
                .is_some_and(|key| key.contains("file://"))
        })
        .filter_map(|event| event["params"]["url"].as_str().map(str::to_string))
        .filter(|url| !url.starts_with("file:") && !url.starts_with("data:"))
        .collect()
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html-report");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn chromium_renders_the_report_of_a_failure_and_a_pass() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("demo.toml"), CONFIG).unwrap();
    let run = contend(
        &["run", "demo.toml", "-q", "--html", "report.html"],
        dir.path(),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let page = dir.path().join("report.html");
    assert_eq!(
        std::fs::read(&page).unwrap(),
        std::fs::read(dir.path().join("contend-out/report.html")).unwrap(),
        "--out holds the same report.html"
    );

    let net_log = dir.path().join("net-log.json");
    let dom = browse(
        &page,
        &dir.path().join("profile"),
        &[
            format!("--log-net-log={}", net_log.display()),
            "--dump-dom".to_string(),
        ],
    );
    let xml = xml_of_dom(&dom);
    let document = roxmltree::Document::parse_with_options(
        &xml,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{dom}"));
    let text_of = |id: &str| {
        document
            .descendants()
            .find(|n| n.attribute("id") == Some(id))
            .unwrap_or_else(|| panic!("no #{id} in\n{dom}"))
            .descendants()
            .filter(|n| n.is_text())
            .filter_map(|n| n.text())
            .collect::<String>()
    };
    let summary = text_of("summary");
    assert!(summary.contains("1 failed, 1 passed"), "{summary}");
    let failing = text_of("scenario-flag-lock");
    assert!(failing.starts_with("FAIL flag-lock"), "{failing}");
    assert!(failing.contains("of 200 runs"), "{failing}");
    assert!(failing.contains("replay: contend replay"), "{failing}");
    let passing = text_of("scenario-mutex-lock");
    assert!(passing.starts_with("PASS mutex-lock"), "{passing}");
    assert!(passing.contains("no update lost in 200 runs"), "{passing}");
    // Failures first.
    assert!(
        dom.find("scenario-flag-lock").unwrap() < dom.find("id=\"scenario-mutex-lock").unwrap()
    );
    // The interleaving: a lane per thread of the minimal schedule, its accesses, a
    // preemption and the write that lost an update linked to the write it discarded.
    let lanes: Vec<_> = document
        .descendants()
        .filter(|n| n.attribute("class") == Some("lane"))
        .map(|n| n.attribute("data-thread").unwrap().to_string())
        .collect();
    assert_eq!(lanes, ["Thread-1", "Thread-2"], "{dom}");
    let class_count = |class: &str| {
        document
            .descendants()
            .filter(|n| n.attribute("class") == Some(class))
            .count()
    };
    assert!(class_count("preemption") >= 1, "{dom}");
    assert_eq!(class_count("discards"), 1, "{dom}");
    assert_eq!(class_count("access write lost-update"), 1, "{dom}");
    assert_eq!(
        class_count("bar expected"),
        2,
        "one expected bar per scenario"
    );

    let requests = page_requests(&net_log);
    assert!(requests.is_empty(), "the report asked for {requests:?}");

    let shots = artifacts();
    for (name, size) in [
        ("report-laptop.png", "1280,2200"),
        ("report-phone.png", "390,2600"),
    ] {
        let shot = shots.join(name);
        let _ = std::fs::remove_file(&shot);
        browse(
            &page,
            &dir.path().join("profile"),
            &[
                format!("--window-size={size}"),
                format!("--screenshot={}", shot.display()),
            ],
        );
        let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("{}: {e}", shot.display()));
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 20_000,
            "{}",
            shot.display()
        );
    }
    std::fs::copy(&page, shots.join("report.html")).unwrap();
}

#[test]
fn the_network_check_sees_a_page_that_loads_an_image() {
    // The check above must be able to fail: a page that loads an image is caught.
    let dir = TempDir::new().unwrap();
    let page = dir.path().join("loads.html");
    std::fs::write(
        &page,
        r#"<!DOCTYPE html><html><body><img src="http://contend.invalid/x.png"></body></html>"#,
    )
    .unwrap();
    let net_log = dir.path().join("net-log.json");
    browse(
        &page,
        &dir.path().join("profile"),
        &[
            format!("--log-net-log={}", net_log.display()),
            "--dump-dom".to_string(),
        ],
    );
    assert_eq!(page_requests(&net_log), ["http://contend.invalid/x.png"]);
}

/// Chromium's DOM dump as XML: void elements closed, the doctype dropped.
fn xml_of_dom(dom: &str) -> String {
    let mut xml = dom.replacen("<!DOCTYPE html>", "", 1);
    for void in ["meta", "br", "hr", "img", "input", "link"] {
        let mut out = String::with_capacity(xml.len());
        let mut rest = xml.as_str();
        let open = format!("<{void}");
        while let Some(at) = rest.find(&open) {
            let end = at + rest[at..].find('>').unwrap();
            out.push_str(&rest[..end]);
            if !rest[..end].ends_with('/') {
                out.push('/');
            }
            out.push('>');
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        xml = out;
    }
    xml
}
