//! `workload = "program"`: critical sections written in the config, in a small language run
//! on contend's primitive API. A scenario's `[scenario.program]` table declares shared integer
//! variables (each an accounted [`crate::sync::Shared`] cell), locks, condition variables, the
//! invariants checked when every thread has ended, and the threads with their code.
//!
//! The pieces, one file each: the syntax tree ([`ast`]), the tokens ([`lexer`]), the parser
//! ([`parser`]), the checker ([`checker`]), the interpreter ([`interpreter`]), the plugin that
//! runs and shrinks programs ([`plugin`]) and the reading of the config table with positions
//! mapped to the config file ([`table`]), and the fitting of a program a config defines now to
//! a saved schedule's shape, for replay ([`fit`]). The language is documented in
//! docs/programs.md.

pub mod ast;
pub mod checker;
pub mod error;
pub mod fit;
pub mod interpreter;
pub mod lexer;
pub mod parser;
pub mod plugin;
pub mod table;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use ast::{Expr, Stmt};
use checker::{Declarations, check_condition, check_thread};
use error::ProgramError;
use parser::{KEYWORDS, parse_code, parse_expression};

/// The workload's name in configs.
pub const NAME: &str = "program";

/// The most copies one thread may ask for with `count`.
pub const MAX_COUNT: u32 = 256;

/// A `[scenario.program]` table: the program as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramParams {
    /// Shared integer variables (i64) and their initial values; each is an accounted cell.
    #[serde(default)]
    pub shared: BTreeMap<String, i64>,
    /// Mutexes, by name.
    #[serde(default)]
    pub locks: Vec<String>,
    /// Condition variables, by name.
    #[serde(default)]
    pub conds: Vec<String>,
    /// Invariants over shared variables, checked when every thread has ended.
    #[serde(default)]
    pub check: Vec<String>,
    /// The threads, each with its code (at least one).
    #[schemars(length(min = 1))]
    pub threads: Vec<ThreadParams>,
}

/// One entry of `threads`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadParams {
    /// The thread's name (its copies are `name-1` ... `name-N`).
    pub name: String,
    /// Its code, in the program language.
    pub code: String,
    /// How many copies of it run (default 1; 1 to 256).
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 256))]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// Which part of a `[scenario.program]` table an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The `shared` table, at the variable of this name's index in sorted order.
    Shared(usize),
    /// `locks[i]`.
    Lock(usize),
    /// `conds[i]`.
    Cond(usize),
    /// `check[i]`; the span is inside the string.
    Check(usize),
    /// `threads[i].code`; the span is inside the string.
    Code(usize),
    /// `threads[i].name`.
    ThreadName(usize),
    /// `threads[i].count`.
    Count(usize),
    /// The `threads` list itself.
    Threads,
}

/// A program that cannot run, and where the mistake is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct CompileError {
    /// The part of the table.
    pub place: Place,
    /// What is wrong, with its span inside a code or check string where that is the place.
    pub error: ProgramError,
}

/// A checked program, ready to run.
#[derive(Debug)]
pub struct Compiled {
    /// Shared variables and their initial values, in order.
    pub shared: Vec<(String, i64)>,
    /// Locks, in order.
    pub locks: Vec<String>,
    /// Condition variables, in order.
    pub conds: Vec<String>,
    /// The threads.
    pub threads: Vec<CompiledThread>,
    /// The invariants.
    pub checks: Vec<CompiledCheck>,
}

/// A checked thread.
#[derive(Debug)]
pub struct CompiledThread {
    /// Its name.
    pub name: String,
    /// How many copies run.
    pub count: u32,
    /// Its code as written (for labels and messages).
    pub code: Arc<str>,
    /// Its statements, names resolved.
    pub body: Vec<Stmt>,
    /// How many locals it has.
    pub locals: usize,
}

/// A checked invariant.
#[derive(Debug)]
pub struct CompiledCheck {
    /// As written.
    pub text: String,
    /// Resolved.
    pub expr: Expr,
}

/// Whether `name` can name a variable, lock or condition variable.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&name)
}

/// Declared names of one kind: the kind in words, the names, and the place of the `i`th.
type Group<'a> = (&'static str, Vec<&'a String>, fn(usize) -> Place);

/// An error about a whole entry of the table (no span inside a string).
fn fail(place: Place, message: String) -> CompileError {
    CompileError {
        place,
        error: ProgramError::new(0..0, message),
    }
}

/// The names `params` declares, each a valid name given to one thing only.
fn declarations(params: &ProgramParams) -> Result<Declarations, CompileError> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    let groups: [Group<'_>; 3] = [
        (
            "shared variable",
            params.shared.keys().collect(),
            Place::Shared,
        ),
        ("lock", params.locks.iter().collect(), Place::Lock),
        (
            "condition variable",
            params.conds.iter().collect(),
            Place::Cond,
        ),
    ];
    for (kind, names, place) in &groups {
        for (index, name) in names.iter().enumerate() {
            if !valid_name(name) {
                let why = if KEYWORDS.contains(&name.as_str()) {
                    "it is a keyword of the language"
                } else {
                    "use letters, digits and `_`, not starting with a digit"
                };
                return Err(fail(
                    place(index),
                    format!("`{name}` cannot name a {kind}: {why}"),
                ));
            }
            if let Some(other) = seen.insert(name, kind) {
                return Err(fail(
                    place(index),
                    format!("`{name}` names a {other} already; a {kind} needs a name of its own"),
                ));
            }
        }
    }
    Ok(Declarations {
        shared: params.shared.keys().cloned().collect(),
        locks: params.locks.clone(),
        conds: params.conds.clone(),
    })
}

/// Checks that no two running threads share a name: a copy `name-i` of an entry with `count`
/// is not also the name of another entry (reports call threads by these names).
fn check_copy_names(params: &ProgramParams) -> Result<(), CompileError> {
    let mut copies: BTreeMap<String, usize> = BTreeMap::new();
    for (index, thread) in params.threads.iter().enumerate() {
        if thread.count > 1 {
            for copy in 1..=thread.count {
                copies.insert(format!("{}-{copy}", thread.name), index);
            }
        }
    }
    for (index, thread) in params.threads.iter().enumerate() {
        if let Some(&entry) = copies.get(&thread.name) {
            return Err(fail(
                Place::ThreadName(index),
                format!(
                    "thread name `{}` is the name of a copy of threads[{entry}] (`{}` with count \
                     = {}): reports call each thread by its name, so give this one another",
                    thread.name, params.threads[entry].name, params.threads[entry].count
                ),
            ));
        }
    }
    Ok(())
}

/// Parses and checks `params`: every error a program can show before it runs.
pub fn compile(params: &ProgramParams) -> Result<Compiled, CompileError> {
    let declarations = declarations(params)?;
    if params.threads.is_empty() {
        return Err(fail(
            Place::Threads,
            "a program needs at least one thread".into(),
        ));
    }
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut threads = Vec::with_capacity(params.threads.len());
    for (index, thread) in params.threads.iter().enumerate() {
        if thread.name.trim().is_empty() {
            return Err(fail(
                Place::ThreadName(index),
                "a thread's name must not be empty".into(),
            ));
        }
        if let Some(first) = names.insert(&thread.name, index) {
            return Err(fail(
                Place::ThreadName(index),
                format!(
                    "thread name `{}` is used by threads[{first}] already (use `count` for \
                     copies of one thread)",
                    thread.name
                ),
            ));
        }
        if !(1..=MAX_COUNT).contains(&thread.count) {
            return Err(fail(
                Place::Count(index),
                format!(
                    "count must be between 1 and {MAX_COUNT}, got {}",
                    thread.count
                ),
            ));
        }
        let code_error = |error| CompileError {
            place: Place::Code(index),
            error,
        };
        let mut body = parse_code(&thread.code).map_err(code_error)?;
        let locals = check_thread(&mut body, &declarations).map_err(code_error)?;
        threads.push(CompiledThread {
            name: thread.name.clone(),
            count: thread.count,
            code: Arc::from(thread.code.as_str()),
            body,
            locals,
        });
    }
    check_copy_names(params)?;
    let total: u32 = threads.iter().map(|t| t.count).sum();
    if total as usize > crate::config::MAX_THREADS {
        return Err(fail(
            Place::Threads,
            format!(
                "{total} threads in all; at most {}",
                crate::config::MAX_THREADS
            ),
        ));
    }
    let mut checks = Vec::with_capacity(params.check.len());
    for (index, text) in params.check.iter().enumerate() {
        let check_error = |error| CompileError {
            place: Place::Check(index),
            error,
        };
        let mut expr = parse_expression(text).map_err(check_error)?;
        check_condition(&mut expr, &declarations).map_err(check_error)?;
        checks.push(CompiledCheck {
            text: text.trim().to_string(),
            expr,
        });
    }
    Ok(Compiled {
        shared: params.shared.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        locks: params.locks.clone(),
        conds: params.conds.clone(),
        threads,
        checks,
    })
}
