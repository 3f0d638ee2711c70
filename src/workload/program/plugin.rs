//! The program workload as a built-in plugin: its body starts one thread per thread copy,
//! joins them all and checks the invariants; its smaller variants drop `count` copies, whole
//! threads and `repeat` iterations, for shrinking.

use std::sync::Arc;

use super::ast::{Stmt, StmtKind};
use super::interpreter::{World, run_checks, run_thread};
use super::{NAME, ProgramParams, compile};
use crate::thread;
use crate::workload::plugin::{Body, Plugin};

/// `workload = "program"`.
pub struct ProgramPlugin;

impl Plugin for ProgramPlugin {
    type Params = ProgramParams;

    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "critical sections written in the config's [scenario.program] (docs/programs.md)"
    }

    fn body(&self, params: &ProgramParams) -> Body {
        let program = match compile(params) {
            Ok(program) => Arc::new(program),
            // Configs are checked before any run; a schedule file edited by hand may not be.
            Err(error) => {
                let message = format!("the program does not compile: {error}");
                return Arc::new(move || panic!("{message}"));
            }
        };
        Arc::new(move || {
            let world = Arc::new(World::new(&program));
            let mut handles = Vec::new();
            let mut index = 0;
            for (entry, spec) in program.threads.iter().enumerate() {
                for copy in 1..=spec.count {
                    let name = copy_name(&spec.name, spec.count, copy);
                    let (program, world) = (Arc::clone(&program), Arc::clone(&world));
                    let started = index;
                    handles.push(thread::spawn_named(name.clone(), move || {
                        run_thread(&program, &world, &program.threads[entry], started, &name)
                    }));
                    index += 1;
                }
            }
            let mut all_ended = true;
            for handle in handles {
                all_ended &= handle.join().is_ok();
            }
            if all_ended {
                run_checks(&program, &world);
            }
        })
    }

    fn smaller(&self, params: &ProgramParams) -> Vec<ProgramParams> {
        smaller(params)
    }

    fn thread_names(&self, params: &ProgramParams) -> Vec<String> {
        params
            .threads
            .iter()
            .flat_map(|spec| (1..=spec.count).map(|copy| copy_name(&spec.name, spec.count, copy)))
            .collect()
    }
}

/// The name of copy `copy` of a thread entry `name` that runs `count` copies: `name` alone,
/// or `name-1` ... `name-N`.
fn copy_name(name: &str, count: u32, copy: u32) -> String {
    if count > 1 {
        format!("{name}-{copy}")
    } else {
        name.to_string()
    }
}

/// Smaller variants of a program, the most promising first: one `count` copy fewer, one
/// thread fewer (while more than two remain, so that a waiter keeps its notifier), then each
/// `repeat` halved.
pub fn smaller(params: &ProgramParams) -> Vec<ProgramParams> {
    let mut variants = Vec::new();
    for (index, thread) in params.threads.iter().enumerate() {
        if thread.count > 1 {
            let mut variant = params.clone();
            variant.threads[index].count -= 1;
            variants.push(variant);
        }
    }
    if params.threads.len() > 2 {
        for index in (0..params.threads.len()).rev() {
            let mut variant = params.clone();
            variant.threads.remove(index);
            variants.push(variant);
        }
    }
    for (index, thread) in params.threads.iter().enumerate() {
        let Ok(statements) = super::parser::parse_code(&thread.code) else {
            continue;
        };
        let mut repeats = Vec::new();
        collect_repeats(&statements, &mut repeats);
        for (count, span) in repeats {
            if count > 1 {
                let mut variant = params.clone();
                let code = &mut variant.threads[index].code;
                code.replace_range(span, &(count / 2).to_string());
                variants.push(variant);
            }
        }
    }
    variants
}

/// The count and span of every `repeat` in `statements`.
fn collect_repeats(statements: &[Stmt], out: &mut Vec<(u64, std::ops::Range<usize>)>) {
    for statement in statements {
        match &statement.kind {
            StmtKind::Repeat(count, span, body) => {
                out.push((*count, span.clone()));
                collect_repeats(body, out);
            }
            StmtKind::If(_, then, otherwise) => {
                collect_repeats(then, out);
                collect_repeats(otherwise, out);
            }
            StmtKind::While(_, body) => collect_repeats(body, out),
            _ => {}
        }
    }
}
