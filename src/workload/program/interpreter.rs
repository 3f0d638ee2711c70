//! The interpreter: runs a checked program's threads on contend's primitive API.
//!
//! Every read and write of a shared variable is one access of its [`Shared`] cell (a
//! scheduling point under shuttle, a jitter point on real threads), and so is every `lock`,
//! `unlock`, `wait`, `notify` and `yield`; locals and literals are not. While an execution is
//! logged, each thread's accesses carry the statement they belong to and its line in the
//! thread's `code`. A runtime error (a division by zero on a value read, an overflow) panics
//! with the statement named; a failed `assert` or `check` is an invariant failure.

use std::fmt::Write as _;
use std::sync::Arc;

use super::ast::{AssignOp, BinOp, Expr, Resolved, Stmt, StmtKind, UnOp};
use super::error::line_column;
use super::{Compiled, CompiledThread};
use crate::sync::{Condvar, Mutex, MutexGuard, Shared, context, invariant_failed};
use crate::thread;

/// The `while` loops of one thread may run this many iterations in all before the thread is
/// stopped as a livelock (on real threads no step limit applies; under shuttle it comes before
/// the default `max_steps`).
pub const MAX_LOOP_ITERATIONS: u64 = 1_000_000;

/// One execution's shared state: a cell per shared variable, a mutex per lock, a condition
/// variable per `conds` entry.
pub struct World {
    shared: Vec<Shared>,
    locks: Vec<Mutex<()>>,
    conds: Vec<Condvar>,
}

impl World {
    /// Fresh state for `program`, made inside an execution: the body's thread writes each
    /// shared variable's initial value (one access each, as the counter workload's setup makes
    /// one), so that a program of one variable meets the same scheduling points as the counter.
    pub fn new(program: &Compiled) -> World {
        let shared: Vec<Shared> = program
            .shared
            .iter()
            .map(|(name, initial)| Shared::named(name.clone(), *initial))
            .collect();
        for (cell, (_, initial)) in shared.iter().zip(&program.shared) {
            cell.set(*initial);
        }
        World {
            shared,
            locks: program
                .locks
                .iter()
                .map(|name| Mutex::named(name.clone(), ()))
                .collect(),
            conds: program.conds.iter().map(Condvar::named).collect(),
        }
    }
}

/// Runs copy `name` of `thread`, the `index`th thread started (from 0).
pub fn run_thread(
    program: &Compiled,
    world: &World,
    thread: &CompiledThread,
    index: usize,
    name: &str,
) {
    let mut runner = Runner {
        program,
        world,
        code: &thread.code,
        name,
        index: index as i64,
        locals: vec![0; thread.locals],
        held: (0..program.locks.len()).map(|_| None).collect(),
        accesses: 0,
        iterations: 0,
        seen: None,
    };
    runner.statements(&thread.body);
}

/// Checks the program's invariants once every thread has ended: an invariant failure names
/// the first that does not hold and the values it read.
pub fn run_checks(program: &Compiled, world: &World) {
    for check in &program.checks {
        let mut runner = Runner {
            program,
            world,
            code: &check.text,
            name: "main",
            index: -1,
            locals: Vec::new(),
            held: Vec::new(),
            accesses: 0,
            iterations: 0,
            seen: Some(Vec::new()),
        };
        let text: Arc<str> = Arc::from(format!("check `{}`", check.text));
        context::note(|| text);
        let holds = runner.eval(&check.expr, None) != 0;
        if !holds {
            invariant_failed(format!(
                "check `{}` is false once every thread has ended{}",
                check.text,
                runner.values()
            ));
        }
    }
}

struct Runner<'a> {
    program: &'a Compiled,
    world: &'a World,
    code: &'a str,
    name: &'a str,
    index: i64,
    locals: Vec<i64>,
    held: Vec<Option<MutexGuard<'a, ()>>>,
    accesses: u64,
    iterations: u64,
    /// While an `assert` or a check is evaluated: the values it read, for its message.
    seen: Option<Vec<(String, i64)>>,
}

impl<'a> Runner<'a> {
    fn statements(&mut self, statements: &'a [Stmt]) {
        for statement in statements {
            self.statement(statement);
        }
    }

    /// The statement as the interleaving and messages name it: thread, line and text.
    fn label(&self, statement: &Stmt) -> String {
        let (line, _) = line_column(self.code, statement.span.start);
        let text = self.code.get(statement.span.clone()).unwrap_or("").trim();
        format!("{}, line {line}: {text}", self.name)
    }

    fn fail(&self, statement: &Stmt, what: &str) -> ! {
        panic!("{}: {what}", self.label(statement))
    }

    fn statement(&mut self, statement: &'a Stmt) {
        context::note(|| Arc::from(self.label(statement)));
        match &statement.kind {
            StmtKind::Let(name, value) => {
                let value = self.eval(value, Some(statement));
                self.assign_local(name.resolved, value);
            }
            StmtKind::Assign(name, op, value) => self.assign(statement, name.resolved, *op, value),
            StmtKind::Atomic(name, op, value) => self.atomic(statement, name.resolved, *op, value),
            StmtKind::Lock(_)
            | StmtKind::Unlock(_)
            | StmtKind::Wait(..)
            | StmtKind::Notify(_)
            | StmtKind::NotifyAll(_) => self.synchronise(statement),
            StmtKind::If(cond, then, otherwise) => {
                if self.eval(cond, Some(statement)) != 0 {
                    self.statements(then);
                } else {
                    self.statements(otherwise);
                }
            }
            StmtKind::While(cond, body) => self.run_while(statement, cond, body),
            StmtKind::Repeat(count, _, body) => {
                for _ in 0..*count {
                    self.statements(body);
                }
            }
            StmtKind::Assert(cond) => {
                self.seen = Some(Vec::new());
                let holds = self.eval(cond, Some(statement)) != 0;
                let values = self.values();
                if !holds {
                    let text = self.label(statement);
                    invariant_failed(format!("{text} is false{values}"));
                }
            }
            StmtKind::Yield => {
                self.accesses += 1;
                thread::yield_now();
            }
        }
    }

    /// `atomic x += e` / `atomic x -= e`: `e`, then one indivisible add.
    fn atomic(&mut self, statement: &Stmt, target: Resolved, op: AssignOp, value: &Expr) {
        let Resolved::Shared(cell) = target else {
            unreachable!("the checker allows atomic updates of shared variables only")
        };
        let amount = self.eval(value, Some(statement));
        let delta = match op {
            AssignOp::Sub => amount.checked_neg(),
            _ => Some(amount),
        };
        let Some(delta) = delta else {
            self.fail(statement, "arithmetic overflow")
        };
        self.accesses += 1;
        let old = self.world.shared[cell].fetch_add(delta);
        if old.checked_add(delta).is_none() {
            self.fail(statement, &format!("arithmetic overflow: {old} + {delta}"));
        }
    }

    /// `lock`, `unlock`, `wait`, `notify` and `notify_all`: one access each.
    fn synchronise(&mut self, statement: &Stmt) {
        self.accesses += 1;
        match &statement.kind {
            StmtKind::Lock(name) => {
                let lock = object(name.resolved);
                if self.held[lock].is_some() {
                    self.fail(statement, "this thread holds the lock already");
                }
                let guard = self.world.locks[lock]
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                self.held[lock] = Some(guard);
            }
            StmtKind::Unlock(name) => {
                if self.held[object(name.resolved)].take().is_none() {
                    self.fail(statement, "unlock of a lock this thread does not hold");
                }
            }
            StmtKind::Wait(cond, lock) => {
                let (cond, lock) = (object(cond.resolved), object(lock.resolved));
                let Some(guard) = self.held[lock].take() else {
                    self.fail(statement, "wait without holding its lock")
                };
                let guard = self.world.conds[cond]
                    .wait(guard)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                self.held[lock] = Some(guard);
            }
            StmtKind::Notify(cond) => self.world.conds[object(cond.resolved)].notify_one(),
            StmtKind::NotifyAll(cond) => self.world.conds[object(cond.resolved)].notify_all(),
            _ => unreachable!("synchronise runs the synchronisation statements"),
        }
    }

    /// `while cond { body }`, yielding after an iteration that touched nothing shared, and
    /// stopping the thread as a livelock past [`MAX_LOOP_ITERATIONS`].
    fn run_while(&mut self, statement: &'a Stmt, cond: &Expr, body: &'a [Stmt]) {
        loop {
            let before = self.accesses;
            if self.eval(cond, Some(statement)) == 0 {
                return;
            }
            self.statements(body);
            if self.accesses == before {
                // A loop on locals alone still lets the other threads run, so that a livelock
                // ends at shuttle's step limit.
                self.accesses += 1;
                thread::yield_now();
            }
            self.iterations += 1;
            if self.iterations > MAX_LOOP_ITERATIONS {
                crate::sync::livelocked(format!(
                    "{}: livelock: its loops ran more than {} iterations",
                    self.label(statement),
                    crate::words::grouped(MAX_LOOP_ITERATIONS.into())
                ));
            }
            context::note(|| Arc::from(self.label(statement)));
        }
    }

    /// The values an `assert` or a check read, as ` (x = 1, y = 2)`; clears them.
    fn values(&mut self) -> String {
        let seen = self.seen.take().unwrap_or_default();
        if seen.is_empty() {
            return String::new();
        }
        let mut out = String::from(" (");
        for (i, (name, value)) in seen.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{name} = {value}");
        }
        out.push(')');
        out
    }

    fn assign_local(&mut self, target: Resolved, value: i64) {
        let Resolved::Local(local) = target else {
            unreachable!("the checker resolves `let` to a local")
        };
        self.locals[local] = value;
    }

    fn assign(&mut self, statement: &Stmt, target: Resolved, op: AssignOp, value: &Expr) {
        let combine = |runner: &Runner<'_>, old: i64, amount: i64| {
            let new = match op {
                AssignOp::Set => Some(amount),
                AssignOp::Add => old.checked_add(amount),
                AssignOp::Sub => old.checked_sub(amount),
            };
            new.unwrap_or_else(|| runner.fail(statement, "arithmetic overflow"))
        };
        match target {
            Resolved::Shared(cell) => {
                // `x += e`: the read of x, then e, then the write: not atomic.
                let old = if op == AssignOp::Set {
                    0
                } else {
                    self.read(cell)
                };
                let amount = self.eval(value, Some(statement));
                let new = combine(self, old, amount);
                self.accesses += 1;
                self.world.shared[cell].set(new);
            }
            Resolved::Local(local) => {
                let amount = self.eval(value, Some(statement));
                self.locals[local] = combine(self, self.locals[local], amount);
            }
            _ => unreachable!("the checker resolves assignments to variables"),
        }
    }

    fn read(&mut self, cell: usize) -> i64 {
        self.accesses += 1;
        let value = self.world.shared[cell].get();
        if let Some(seen) = &mut self.seen {
            seen.push((self.program.shared[cell].0.clone(), value));
        }
        value
    }

    /// The value of `expr` (conditions are 1 or 0); `statement` names it in runtime errors.
    fn eval(&mut self, expr: &Expr, statement: Option<&Stmt>) -> i64 {
        match expr {
            Expr::Int(value, _) => *value,
            Expr::Bool(value, _) => i64::from(*value),
            Expr::Thread(_) => self.index,
            Expr::Name(name) => match name.resolved {
                Resolved::Shared(cell) => self.read(cell),
                Resolved::Local(local) => {
                    let value = self.locals[local];
                    if let Some(seen) = &mut self.seen {
                        seen.push((name.text.clone(), value));
                    }
                    value
                }
                _ => unreachable!("the checker resolves values to variables"),
            },
            Expr::Unary(UnOp::Not, operand, _) => i64::from(self.eval(operand, statement) == 0),
            Expr::Unary(UnOp::Neg, operand, _) => {
                let value = self.eval(operand, statement);
                value
                    .checked_neg()
                    .unwrap_or_else(|| self.runtime_error(statement, "arithmetic overflow"))
            }
            Expr::Binary(BinOp::And, left, right, _) => {
                i64::from(self.eval(left, statement) != 0 && self.eval(right, statement) != 0)
            }
            Expr::Binary(BinOp::Or, left, right, _) => {
                i64::from(self.eval(left, statement) != 0 || self.eval(right, statement) != 0)
            }
            Expr::Binary(op, left, right, _) => {
                let (a, b) = (self.eval(left, statement), self.eval(right, statement));
                let value = match op {
                    BinOp::Add => a.checked_add(b),
                    BinOp::Sub => a.checked_sub(b),
                    BinOp::Mul => a.checked_mul(b),
                    BinOp::Div | BinOp::Rem if b == 0 => self.runtime_error(
                        statement,
                        &format!("division by zero ({a} {} 0)", op.symbol()),
                    ),
                    BinOp::Div => a.checked_div(b),
                    BinOp::Rem => a.checked_rem(b),
                    BinOp::Eq => Some(i64::from(a == b)),
                    BinOp::Ne => Some(i64::from(a != b)),
                    BinOp::Lt => Some(i64::from(a < b)),
                    BinOp::Le => Some(i64::from(a <= b)),
                    BinOp::Gt => Some(i64::from(a > b)),
                    BinOp::Ge => Some(i64::from(a >= b)),
                    BinOp::And | BinOp::Or => unreachable!("short-circuit operators above"),
                };
                value.unwrap_or_else(|| {
                    self.runtime_error(
                        statement,
                        &format!("arithmetic overflow ({a} {} {b})", op.symbol()),
                    )
                })
            }
        }
    }

    fn runtime_error(&self, statement: Option<&Stmt>, what: &str) -> ! {
        match statement {
            Some(statement) => self.fail(statement, what),
            None => panic!("{}: {what}", self.code),
        }
    }
}

/// The index of a resolved lock or condition variable.
fn object(resolved: Resolved) -> usize {
    match resolved {
        Resolved::Lock(index) | Resolved::Cond(index) => index,
        _ => unreachable!("the checker resolves locks and condition variables"),
    }
}
