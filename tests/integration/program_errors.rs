//! Malformed programs: each is refused before any run with exit 2 and one message naming the
//! config file, the line and column of the offending token (inside a thread's `code` string,
//! mapped to the file), the scenario and the key; none panics.

use assert_cmd::Command;
use tempfile::TempDir;

/// The scenario every case's `[scenario.program]` table belongs to.
const HEADER: &str = "[[scenario]]\nname = \"bad\"\nworkload = \"program\"\nengine = \"shuttle\"\n\
                      runs = 10\nseed = 1\nexpect = \"lost-updates\"\n";

/// `(what is wrong, the [scenario.program] table, where the error must point)`: the place is a
/// piece of the config text, unique in it, with `|` where the offending token starts.
const CASES: &[(&str, &str, &str)] = &[
    // Syntax.
    (
        "value missing",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = " }]"#,
        r#""x = |""#,
    ),
    (
        "operand missing",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = x +" }]"#,
        r#"x +|""#,
    ),
    (
        "parenthesis not closed",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = (x + 1" }]"#,
        r#"1|""#,
    ),
    (
        "== as a statement",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x == 1" }]"#,
        "x |== 1",
    ),
    (
        "no assignment operator",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x 1" }]"#,
        "x |1",
    ),
    (
        "if without a block",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "if x > 0 x = 1" }]"#,
        "0 |x = 1",
    ),
    (
        "block never closed",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "if x > 0 { x = 1" }]"#,
        "0 |{ x",
    ),
    (
        "unmatched brace",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = 1 }" }]"#,
        "1 |}",
    ),
    (
        "else alone",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "else { x = 1 }" }]"#,
        "|else",
    ),
    (
        "while without a condition",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "while { }" }]"#,
        "while |{",
    ),
    (
        "repeat of a variable",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "repeat x { }" }]"#,
        "repeat |x",
    ),
    (
        "repeat too large",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "repeat 2000000000 { }" }]"#,
        "repeat |2000000000",
    ),
    (
        "nested repeats past the work bound of a thread",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "repeat 1000 { repeat 1000000 { atomic x += 1 } }" }]"#,
        "repeat |1000 {",
    ),
    (
        "a repeat past the work bound inside a while",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "while x == 0 { repeat 20000000 { x += 1 } }" }]"#,
        "repeat |20000000",
    ),
    (
        "lock without a name",
        r#"locks = ["m"]
threads = [{ name = "t", code = "lock" }]"#,
        r#""lock|""#,
    ),
    (
        "wait without its lock",
        r#"locks = ["m"]
conds = ["c"]
threads = [{ name = "t", code = "wait c" }]"#,
        r#"wait c|""#,
    ),
    (
        "two statements on a line",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = 1 x = 2" }]"#,
        "1 |x = 2",
    ),
    (
        "chained comparison",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "if 1 < x < 3 { }" }]"#,
        "x |< 3",
    ),
    (
        "number too large",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = 99999999999999999999" }]"#,
        "|99999999999999999999",
    ),
    (
        "name starting with a digit",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = 1a" }]"#,
        "|1a",
    ),
    (
        "single ampersand",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = 1 & 2" }]"#,
        "1 |& 2",
    ),
    (
        "array index",
        r#"shared = { a = 0 }
threads = [{ name = "t", code = "a = a[0]" }]"#,
        "a|[0]",
    ),
    (
        "let without a name",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "let = 1" }]"#,
        "let |= 1",
    ),
    (
        "keyword as a local",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "let if = 1" }]"#,
        "let |if",
    ),
    (
        "atomic assignment",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "atomic x = 1" }]"#,
        "atomic x |= 1",
    ),
    (
        "unknown character",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = @" }]"#,
        "|@",
    ),
    (
        "notify without a name",
        r#"conds = ["c"]
threads = [{ name = "t", code = "notify" }]"#,
        r#"notify|""#,
    ),
    (
        "statement starting with a number",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "1 = x" }]"#,
        r#""|1 = x"#,
    ),
    // Names.
    (
        "unknown variable assigned",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "y = 1" }]"#,
        r#""|y = 1"#,
    ),
    (
        "unknown variable read",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = y + 1" }]"#,
        "x = |y + 1",
    ),
    (
        "unknown lock",
        r#"locks = ["m"]
threads = [{ name = "t", code = "lock q" }]"#,
        "lock |q",
    ),
    (
        "variable locked",
        r#"shared = { x = 0 }
locks = ["m"]
threads = [{ name = "t", code = "lock x" }]"#,
        "lock |x",
    ),
    (
        "lock notified",
        r#"locks = ["m"]
conds = ["c"]
threads = [{ name = "t", code = "notify m" }]"#,
        "notify |m",
    ),
    (
        "wait on a variable",
        r#"shared = { x = 0 }
conds = ["c"]
threads = [{ name = "t", code = "wait c x" }]"#,
        "wait c |x",
    ),
    (
        "lock as a value",
        r#"shared = { x = 0 }
locks = ["m"]
threads = [{ name = "t", code = "x = m" }]"#,
        "x = |m",
    ),
    (
        "atomic local",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "let t = 1; atomic t += 1" }]"#,
        "atomic |t",
    ),
    (
        "local shadowing a shared variable",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "let x = 1" }]"#,
        "let |x",
    ),
    (
        "local used before its let",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = t; let t = 1" }]"#,
        "x = |t",
    ),
    (
        "unknown variable in a check",
        r#"shared = { x = 0 }
check = ["y > 0"]
threads = [{ name = "t", code = "x = 1" }]"#,
        r#""|y > 0""#,
    ),
    (
        "thread in a check",
        r#"shared = { x = 0 }
check = ["thread == 0"]
threads = [{ name = "t", code = "x = 1" }]"#,
        r#""|thread == 0""#,
    ),
    (
        "condition variable undeclared",
        r#"locks = ["m"]
threads = [{ name = "t", code = "lock m; wait c m" }]"#,
        "wait |c m",
    ),
    // Types.
    (
        "integer as a condition",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "if x { }" }]"#,
        "if |x {",
    ),
    (
        "condition assigned",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = 1 < 2" }]"#,
        "x = |1 < 2",
    ),
    (
        "not of an integer",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = !x" }]"#,
        "!|x",
    ),
    (
        "and of an integer",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "if x > 0 && 1 { }" }]"#,
        "&& |1",
    ),
    (
        "assert of an integer",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "assert x + 1" }]"#,
        "assert |x + 1",
    ),
    (
        "check of an integer",
        r#"shared = { x = 0 }
check = ["x + 1"]
threads = [{ name = "t", code = "x = 1" }]"#,
        r#""|x + 1""#,
    ),
    (
        "true assigned",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = true" }]"#,
        "x = |true",
    ),
    (
        "sum of conditions",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = (x > 1) + 1" }]"#,
        "(|x > 1)",
    ),
    // Locks.
    (
        "unlock of a lock not held",
        r#"locks = ["m"]
threads = [{ name = "t", code = "unlock m" }]"#,
        "unlock |m",
    ),
    (
        "lock held twice",
        r#"locks = ["m"]
threads = [{ name = "t", code = "lock m; lock m" }]"#,
        "lock m; lock |m",
    ),
    (
        "unlock twice",
        r#"locks = ["m"]
threads = [{ name = "t", code = "lock m; unlock m; unlock m" }]"#,
        "unlock m; unlock |m",
    ),
    (
        "wait without the lock",
        r#"locks = ["m"]
conds = ["c"]
threads = [{ name = "t", code = "wait c m" }]"#,
        "wait c |m",
    ),
    (
        "unlock in a branch",
        r#"shared = { x = 0 }
locks = ["m"]
threads = [{ name = "t", code = "if x > 0 { unlock m }" }]"#,
        "{ unlock |m",
    ),
    (
        "unlock after a loop that releases",
        r#"locks = ["m"]
threads = [{ name = "t", code = "lock m; repeat 2 { unlock m; lock m }; unlock m; unlock m" }]"#,
        "unlock m; unlock |m\"",
    ),
    // Literal arithmetic.
    (
        "division by zero",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = 1 / 0" }]"#,
        "/ |0",
    ),
    (
        "remainder by a zero expression",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = x % (3 - 3)" }]"#,
        "(|3 - 3)",
    ),
    (
        "sum overflow",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = 9223372036854775807 + 1" }]"#,
        "807 |+ 1",
    ),
    (
        "product overflow",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = 4611686018427387904 * 2" }]"#,
        "904 |* 2",
    ),
    (
        "difference overflow",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = -9223372036854775807 - 2" }]"#,
        "807 |- 2",
    ),
    (
        "division by zero in a check",
        r#"shared = { x = 0 }
check = ["x / 0 == 0"]
threads = [{ name = "t", code = "x = 1" }]"#,
        "x / |0 == 0",
    ),
    // Positions through TOML strings.
    (
        "error on a later line of multi-line code",
        "shared = { x = 0 }\nthreads = [{ name = \"t\", code = \"\"\"\nx = 1\ny = 2\n\"\"\" }]",
        "|y = 2",
    ),
    (
        "error after escapes",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = 1\ny = \"a\"" }]"#,
        r#"y = |\"a"#,
    ),
    (
        "error in a literal string",
        "shared = { x = 0 }\nthreads = [{ name = \"t\", code = 'x = 1; q = 2' }]",
        "|q = 2'",
    ),
    (
        "error after a unicode escape",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = 1 # \u00e9\n z = 1" }]"#,
        "|z = 1",
    ),
    (
        "error after a line-ending backslash",
        "shared = { x = 0 }\nthreads = [{ name = \"t\", code = \"\"\"x = 1; \\\n    w = 2\"\"\" }]",
        "|w = 2",
    ),
    // The table itself.
    (
        "keyword as a shared variable",
        r#"shared = { if = 0 }
threads = [{ name = "t", code = "yield" }]"#,
        "{ |if = 0",
    ),
    (
        "a name used twice",
        r#"shared = { x = 0 }
locks = ["x"]
threads = [{ name = "t", code = "yield" }]"#,
        r#"[|"x"]"#,
    ),
    (
        "lock name with a space",
        r#"locks = ["my lock"]
threads = [{ name = "t", code = "yield" }]"#,
        r#"[|"my lock"]"#,
    ),
    (
        "no thread",
        r#"shared = { x = 0 }
threads = []"#,
        "threads = |[]",
    ),
    (
        "count of zero",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = 1", count = 0 }]"#,
        "count = |0",
    ),
    (
        "count too large",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = 1", count = 100000 }]"#,
        "count = |100000",
    ),
    (
        "duplicate thread names",
        r#"shared = { x = 0 }
threads = [{ name = "t", code = "x = 1" }, { name = "t", code = "x = 2" }]"#,
        r#"{ name = |"t", code = "x = 2""#,
    ),
    (
        "empty thread name",
        r#"shared = { x = 0 }
threads = [{ name = "", code = "x = 1" }]"#,
        r#"name = |"""#,
    ),
    (
        "unknown key in the program",
        r#"shared = { x = 0 }
colour = "red"
threads = [{ name = "t", code = "x = 1" }]"#,
        "|colour",
    ),
    (
        "a thread named as another's copy",
        r#"shared = { x = 0 }
threads = [{ name = "w", code = "x = 1", count = 2 }, { name = "w-2", code = "x = 2" }]"#,
        r#"|"w-2""#,
    ),
    (
        "shared value not an integer",
        r#"shared = { x = "zero" }
threads = [{ name = "t", code = "x = 1" }]"#,
        r#"|"zero""#,
    ),
];

/// Line and column (from 1, in characters) of byte `offset` of `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// Runs `contend run` on `config`; asserts exit 2, one message at `expected`, no panic, no
/// output on stdout.
fn refused_at(dir: &TempDir, name: &str, config: &str, expected: (usize, usize)) -> String {
    let path = dir.path().join(format!("{}.toml", name.replace(' ', "-")));
    std::fs::write(&path, config).unwrap();
    let output = Command::cargo_bin("contend")
        .unwrap()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
    assert!(output.stdout.is_empty(), "{name}: ran something");
    assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
    let location = format!("{}:{}:{}: ", path.display(), expected.0, expected.1);
    assert!(
        stderr.starts_with(&format!("error: {location}")),
        "{name}: expected {location}, got {stderr}"
    );
    assert!(!dir.path().join("out").exists(), "{name}: ran something");
    stderr
}

#[test]
fn every_malformed_program_is_refused_with_exit_2_at_its_file_line_and_column() {
    assert!(CASES.len() >= 50, "{} cases", CASES.len());
    let dir = TempDir::new().unwrap();
    for (name, program, at) in CASES {
        let config = format!("{HEADER}[scenario.program]\n{program}\n");
        let needle = at.replace('|', "");
        let found = config
            .match_indices(&needle)
            .map(|(i, _)| i)
            .collect::<Vec<_>>();
        assert_eq!(
            found.len(),
            1,
            "{name}: `{needle}` must be unique in the config"
        );
        let offset = found[0] + at.find('|').unwrap();
        refused_at(&dir, name, &config, line_column(&config, offset));
    }
}

#[test]
fn a_code_error_names_the_scenario_the_key_and_the_place_in_the_code() {
    let dir = TempDir::new().unwrap();
    let config = format!(
        "{HEADER}[scenario.program]\nshared = {{ x = 0 }}\nthreads = [\n  {{ name = \"a\", code = \"x = 1\" }},\n  {{ name = \"b\", code = \"\"\"\nx = 2\nx = x + y\n\"\"\" }},\n]\n"
    );
    let stderr = refused_at(&dir, "named", &config, (14, 9));
    assert!(
        stderr.contains(
            "scenario `bad`, key `program.threads[1].code`: thread `b`, line 2 column 9 of its \
             code: unknown variable `y`"
        ),
        "{stderr}"
    );
}

#[test]
fn program_and_params_keys_are_refused_where_they_do_not_apply() {
    let dir = TempDir::new().unwrap();
    let counter = "[[scenario]]\nname = \"c\"\nworkload = \"counter\"\nengine = \"shuttle\"\n\
                   expect = \"lost-updates\"\nthreads = [{ delta = 1, ops = 1 }]\n\
                   [scenario.program]\nthreads = [{ name = \"t\", code = \"yield\" }]\n";
    let stderr = refused_at(&dir, "counter", counter, (7, 1));
    assert!(stderr.contains("key `program`"), "{stderr}");
    let params = format!("{HEADER}[scenario.params]\nx = 1\n");
    let stderr = refused_at(&dir, "params", &params, (8, 1));
    assert!(
        stderr.contains("[scenario.program], not [scenario.params]"),
        "{stderr}"
    );
    let missing = HEADER.to_string();
    let stderr = refused_at(&dir, "missing", &missing, (4, 10));
    assert!(stderr.contains("missing [scenario.program]"), "{stderr}");
}

#[test]
fn a_table_error_inside_a_program_names_its_whole_key_path_regression() {
    // These named the last key alone: `x`, `extra`, `name`.
    let dir = TempDir::new().unwrap();
    let cases = [
        (
            "shared-type",
            "shared = { x = \"zero\" }\nthreads = [{ name = \"t\", code = \"x = 1\" }]",
            "|\"zero\"",
            "key `program.shared.x`",
        ),
        (
            "unknown-thread-key",
            "shared = { x = 0 }\nthreads = [{ name = \"t\", code = \"x = 1\", extra = 2 }]",
            "|extra",
            "key `program.threads[0].extra`",
        ),
        (
            "second-thread-unnamed",
            "shared = { x = 0 }\nthreads = [\n  { name = \"t\", code = \"x = 1\" },\n  { code = \"x = 2\" },\n]",
            "|{ code",
            "key `program.threads[1].name`",
        ),
        (
            "thread-name-type",
            "shared = { x = 0 }\nthreads = [{ name = 7, code = \"x = 1\" }]",
            "|7",
            "key `program.threads[0].name`",
        ),
    ];
    for (name, program, at, key) in cases {
        let config = format!("{HEADER}[scenario.program]\n{program}\n");
        let needle = at.replace('|', "");
        let offset = config.find(&needle).unwrap() + at.find('|').unwrap();
        let stderr = refused_at(&dir, name, &config, line_column(&config, offset));
        assert!(
            stderr.contains(&format!("scenario `bad`, {key}: ")),
            "{name}: {stderr}"
        );
    }
}

#[test]
fn the_smallest_integer_is_accepted_as_a_literal_regression() {
    // `-9223372036854775808` was refused: its digits alone do not fit in 64 bits.
    let dir = TempDir::new().unwrap();
    let config = format!(
        "{HEADER}[scenario.program]\nshared = {{ x = 0 }}\n\
         check = [\"x == -9_223_372_036_854_775_808\", \"x < -9223372036854775807\"]\n\
         threads = [{{ name = \"t\", code = \"x = -9223372036854775808; assert x + 1 == - 9223372036854775807\" }}]\n"
    )
    .replace("expect = \"lost-updates\"", "expect = \"no-failures\"");
    let path = dir.path().join("min.toml");
    std::fs::write(&path, &config).unwrap();
    let output = Command::cargo_bin("contend")
        .unwrap()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("no failure in 10 runs"), "{stdout}");

    // One past it is still refused, with the range it must fit in; so is its magnitude alone.
    let dir = TempDir::new().unwrap();
    for (name, code, at) in [
        ("past", "x = -9223372036854775809", "|9223372036854775809"),
        (
            "magnitude",
            "x = 9223372036854775808",
            "|9223372036854775808",
        ),
        (
            "subtracted",
            "x = 0 - 9223372036854775808",
            "|9223372036854775808",
        ),
    ] {
        let config = format!(
            "{HEADER}[scenario.program]\nshared = {{ x = 0 }}\n\
             threads = [{{ name = \"t\", code = \"{code}\" }}]\n"
        );
        let offset = config.find(&at.replace('|', "")).unwrap();
        let stderr = refused_at(&dir, name, &config, line_column(&config, offset));
        assert!(
            stderr.contains("from -9223372036854775808 to 9223372036854775807"),
            "{name}: {stderr}"
        );
    }
}
