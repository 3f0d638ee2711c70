//! The checker: resolves every name of a parsed program, checks the types of its expressions
//! (integers against conditions), what can be known of its locks before a run (an `unlock` of
//! a lock not held, a `lock` of a lock held, a `wait` without its lock), and folds literal
//! arithmetic (a division by a literal zero, an overflow of literals).

use std::collections::HashMap;

use super::ast::{BinOp, Expr, Name, Resolved, Span, Stmt, StmtKind, UnOp};
use super::error::ProgramError;

/// What a program declares: the names its code may use.
#[derive(Clone, Debug, Default)]
pub struct Declarations {
    /// Shared variables, in order.
    pub shared: Vec<String>,
    /// Locks, in order.
    pub locks: Vec<String>,
    /// Condition variables, in order.
    pub conds: Vec<String>,
}

impl Declarations {
    fn lookup(&self, name: &str) -> Option<Resolved> {
        let find = |names: &[String]| names.iter().position(|n| n == name);
        find(&self.shared)
            .map(Resolved::Shared)
            .or_else(|| find(&self.locks).map(Resolved::Lock))
            .or_else(|| find(&self.conds).map(Resolved::Cond))
    }
}

/// The type of an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Int,
    Bool,
}

impl Ty {
    fn words(self) -> &'static str {
        match self {
            Ty::Int => "an integer",
            Ty::Bool => "a condition",
        }
    }
}

/// What a thread is known to hold of a lock at a point of its code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    Yes,
    No,
    Unknown,
}

impl Held {
    fn join(self, other: Held) -> Held {
        if self == other { self } else { Held::Unknown }
    }
}

/// Checks and resolves one thread's statements in place; returns how many locals it has.
pub fn check_thread(
    statements: &mut [Stmt],
    declarations: &Declarations,
) -> Result<usize, ProgramError> {
    let mut checker = Checker {
        declarations,
        locals: HashMap::new(),
        in_check: false,
    };
    checker.statements(statements)?;
    let mut locks = vec![Held::No; declarations.locks.len()];
    LockFlow { report: true }.statements(statements, &mut locks)?;
    check_work(statements)?;
    Ok(checker.locals.len())
}

/// The most statements one thread may run in an execution, `repeat` counts multiplied (a
/// `while` counted once: its iterations are bounded as it runs). contend keeps a record of
/// each write of an execution until it settles, so the bound keeps an execution's memory
/// within a few hundred megabytes.
pub const MAX_STATEMENTS_PER_THREAD: u128 = 10_000_000;

/// Refuses a thread whose `repeat`s would run more than [`MAX_STATEMENTS_PER_THREAD`]
/// statements, at the outermost `repeat` count that takes it past the bound.
fn check_work(statements: &[Stmt]) -> Result<(), ProgramError> {
    fn work(statements: &[Stmt]) -> u128 {
        statements
            .iter()
            .map(|statement| match &statement.kind {
                StmtKind::Repeat(count, _, body) => u128::from(*count) * work(body).max(1),
                StmtKind::While(_, body) => 1 + work(body),
                StmtKind::If(_, then, otherwise) => 1 + work(then).max(work(otherwise)),
                _ => 1,
            })
            .fold(0u128, u128::saturating_add)
    }
    fn find(statements: &[Stmt]) -> Option<ProgramError> {
        statements.iter().find_map(|statement| match &statement.kind {
            StmtKind::Repeat(count, span, body) => {
                let total = u128::from(*count) * work(body).max(1);
                if total > MAX_STATEMENTS_PER_THREAD {
                    Some(ProgramError::new(
                        span.clone(),
                        format!(
                            "this repeat runs {} statements in each execution; a thread may run \
                             at most {} (contend keeps every write of an execution until it \
                             settles): lower the count",
                            crate::words::grouped(total.min(i128::MAX as u128) as i128),
                            crate::words::grouped(MAX_STATEMENTS_PER_THREAD as i128),
                        ),
                    ))
                } else {
                    None
                }
            }
            StmtKind::While(_, body) => find(body),
            StmtKind::If(_, then, otherwise) => find(then).or_else(|| find(otherwise)),
            _ => None,
        })
    }
    if work(statements) > MAX_STATEMENTS_PER_THREAD {
        return Err(find(statements).unwrap_or_else(|| {
            ProgramError::new(
                0..0,
                format!(
                    "this thread runs more than {} statements in each execution: make it shorter",
                    crate::words::grouped(MAX_STATEMENTS_PER_THREAD as i128)
                ),
            )
        }));
    }
    Ok(())
}

/// Checks and resolves a `check` expression: a condition on shared variables.
pub fn check_condition(expr: &mut Expr, declarations: &Declarations) -> Result<(), ProgramError> {
    let mut checker = Checker {
        declarations,
        locals: HashMap::new(),
        in_check: true,
    };
    checker.condition(expr, "a check")
}

struct Checker<'a> {
    declarations: &'a Declarations,
    locals: HashMap<String, usize>,
    in_check: bool,
}

impl Checker<'_> {
    fn statements(&mut self, statements: &mut [Stmt]) -> Result<(), ProgramError> {
        for statement in statements {
            self.statement(statement)?;
        }
        Ok(())
    }

    fn statement(&mut self, statement: &mut Stmt) -> Result<(), ProgramError> {
        match &mut statement.kind {
            StmtKind::Let(name, value) => {
                self.integer(value, "the value of a local")?;
                if let Some(resolved) = self.declarations.lookup(&name.text) {
                    return Err(ProgramError::new(
                        name.span.clone(),
                        format!(
                            "`{}` is already {}: a local needs a name of its own",
                            name.text,
                            describe(resolved)
                        ),
                    ));
                }
                let next = self.locals.len();
                let index = *self.locals.entry(name.text.clone()).or_insert(next);
                name.resolved = Resolved::Local(index);
            }
            StmtKind::Assign(name, _, value) => {
                self.integer(value, "an assigned value")?;
                self.value_name(name)?;
            }
            StmtKind::Atomic(name, _, value) => {
                self.integer(value, "an atomic update")?;
                self.value_name(name)?;
                if let Resolved::Local(_) = name.resolved {
                    return Err(ProgramError::new(
                        name.span.clone(),
                        format!(
                            "`atomic` updates a shared variable; `{}` is a thread-local (write \
                             `{} += ...`)",
                            name.text, name.text
                        ),
                    ));
                }
            }
            StmtKind::Lock(name) | StmtKind::Unlock(name) => self.object(name, "lock")?,
            StmtKind::Wait(cond, lock) => {
                self.object(cond, "condition variable")?;
                self.object(lock, "lock")?;
            }
            StmtKind::Notify(name) | StmtKind::NotifyAll(name) => {
                self.object(name, "condition variable")?
            }
            StmtKind::If(cond, then, otherwise) => {
                self.condition(cond, "`if`")?;
                self.statements(then)?;
                self.statements(otherwise)?;
            }
            StmtKind::While(cond, body) => {
                self.condition(cond, "`while`")?;
                self.statements(body)?;
            }
            StmtKind::Repeat(_, _, body) => self.statements(body)?,
            StmtKind::Assert(cond) => self.condition(cond, "`assert`")?,
            StmtKind::Yield => {}
        }
        Ok(())
    }

    /// Resolves `name` as a shared variable or a local.
    fn value_name(&mut self, name: &mut Name) -> Result<(), ProgramError> {
        if let Some(&index) = self.locals.get(&name.text) {
            name.resolved = Resolved::Local(index);
            return Ok(());
        }
        match self.declarations.lookup(&name.text) {
            Some(Resolved::Shared(index)) => {
                name.resolved = Resolved::Shared(index);
                Ok(())
            }
            Some(other) => Err(ProgramError::new(
                name.span.clone(),
                format!("`{}` is {}, not a variable", name.text, describe(other)),
            )),
            None => Err(ProgramError::new(
                name.span.clone(),
                self.unknown(&name.text),
            )),
        }
    }

    fn unknown(&self, name: &str) -> String {
        let shared = if self.declarations.shared.is_empty() {
            "none".to_string()
        } else {
            self.declarations.shared.join(", ")
        };
        if self.in_check {
            format!("unknown variable `{name}` (a check reads shared variables: {shared})")
        } else {
            format!(
                "unknown variable `{name}` (shared variables: {shared}; a local is made with \
                 `let {name} = ...` before its use)"
            )
        }
    }

    /// Resolves `name` as an object of kind `kind` ("lock" or "condition variable").
    fn object(&mut self, name: &mut Name, kind: &str) -> Result<(), ProgramError> {
        let (found, declared) = match kind {
            "lock" => (
                self.declarations
                    .lookup(&name.text)
                    .filter(|r| matches!(r, Resolved::Lock(_))),
                ("locks", &self.declarations.locks),
            ),
            _ => (
                self.declarations
                    .lookup(&name.text)
                    .filter(|r| matches!(r, Resolved::Cond(_))),
                ("conds", &self.declarations.conds),
            ),
        };
        match found {
            Some(resolved) => {
                name.resolved = resolved;
                Ok(())
            }
            None => {
                let what = match self.declarations.lookup(&name.text) {
                    Some(other) => format!("`{}` is {}, not a {kind}", name.text, describe(other)),
                    None if self.locals.contains_key(&name.text) => {
                        format!("`{}` is a thread-local, not a {kind}", name.text)
                    }
                    None => format!("unknown {kind} `{}`", name.text),
                };
                let list = if declared.1.is_empty() {
                    format!(
                        "none is declared: add `{} = [\"{}\"]`",
                        declared.0, name.text
                    )
                } else {
                    format!("declared in `{}`: {}", declared.0, declared.1.join(", "))
                };
                Err(ProgramError::new(
                    name.span.clone(),
                    format!("{what} ({list})"),
                ))
            }
        }
    }

    fn condition(&mut self, expr: &mut Expr, context: &str) -> Result<(), ProgramError> {
        let ty = self.expr(expr)?;
        if ty != Ty::Bool {
            return Err(ProgramError::new(
                expr.span(),
                format!(
                    "{context} needs a condition (a comparison such as `x > 0`), found an integer"
                ),
            ));
        }
        Ok(())
    }

    fn integer(&mut self, expr: &mut Expr, context: &str) -> Result<(), ProgramError> {
        let ty = self.expr(expr)?;
        if ty != Ty::Int {
            return Err(ProgramError::new(
                expr.span(),
                format!("{context} must be an integer, found a condition"),
            ));
        }
        Ok(())
    }

    fn expr(&mut self, expr: &mut Expr) -> Result<Ty, ProgramError> {
        let ty = match expr {
            Expr::Int(..) => Ty::Int,
            Expr::Bool(..) => Ty::Bool,
            Expr::Thread(span) => {
                if self.in_check {
                    return Err(ProgramError::new(
                        span.clone(),
                        "`thread` has no value in a check, which runs after every thread ended",
                    ));
                }
                Ty::Int
            }
            Expr::Name(name) => {
                self.value_name(name)?;
                if self.in_check && matches!(name.resolved, Resolved::Local(_)) {
                    return Err(ProgramError::new(
                        name.span.clone(),
                        self.unknown(&name.text),
                    ));
                }
                Ty::Int
            }
            Expr::Unary(op, operand, span) => {
                let want = match op {
                    UnOp::Neg => Ty::Int,
                    UnOp::Not => Ty::Bool,
                };
                self.operand(operand, want, span, if want == Ty::Int { "-" } else { "!" })?;
                want
            }
            Expr::Binary(op, left, right, span) => {
                let (operands, result) = match op {
                    BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
                        (Ty::Int, Ty::Int)
                    }
                    BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                        (Ty::Int, Ty::Bool)
                    }
                    BinOp::And | BinOp::Or => (Ty::Bool, Ty::Bool),
                };
                let symbol = op.symbol();
                self.operand(left, operands, span, symbol)?;
                self.operand(right, operands, span, symbol)?;
                result
            }
        };
        if let Expr::Unary(..) | Expr::Binary(..) = expr {
            fold(expr)?;
        }
        Ok(ty)
    }

    fn operand(
        &mut self,
        operand: &mut Expr,
        want: Ty,
        _op_span: &Span,
        symbol: &str,
    ) -> Result<(), ProgramError> {
        let ty = self.expr(operand)?;
        if ty != want {
            return Err(ProgramError::new(
                operand.span(),
                format!(
                    "`{symbol}` takes {}, found {}",
                    if want == Ty::Int {
                        "integers"
                    } else {
                        "conditions"
                    },
                    ty.words()
                ),
            ));
        }
        Ok(())
    }
}

/// A resolved name's kind in words.
fn describe(resolved: Resolved) -> &'static str {
    match resolved {
        Resolved::Shared(_) => "a shared variable",
        Resolved::Local(_) => "a thread-local",
        Resolved::Lock(_) => "a lock",
        Resolved::Cond(_) => "a condition variable",
        Resolved::Unknown => "unknown",
    }
}

/// The value of an expression made of literals only, if it is one; an error for a literal
/// division by zero or a literal overflow. A division or remainder by an operand that folds to
/// zero is an error whatever the other operand.
fn fold(expr: &Expr) -> Result<Option<i64>, ProgramError> {
    match expr {
        Expr::Int(value, _) => Ok(Some(*value)),
        Expr::Unary(UnOp::Neg, operand, span) => match fold(operand)? {
            Some(value) => value.checked_neg().map(Some).ok_or_else(|| {
                ProgramError::new(
                    span.clone(),
                    format!("overflow: -({value}) does not fit in 64 bits"),
                )
            }),
            None => Ok(None),
        },
        Expr::Binary(op, left, right, span) => {
            if !matches!(
                op,
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem
            ) {
                fold(left)?;
                fold(right)?;
                return Ok(None);
            }
            let (left, right_value) = (fold(left)?, fold(right)?);
            if matches!(op, BinOp::Div | BinOp::Rem) && right_value == Some(0) {
                return Err(ProgramError::new(
                    right.span(),
                    format!("division by zero: the right side of `{}` is 0", op.symbol()),
                ));
            }
            let (Some(a), Some(b)) = (left, right_value) else {
                return Ok(None);
            };
            let value = match op {
                BinOp::Add => a.checked_add(b),
                BinOp::Sub => a.checked_sub(b),
                BinOp::Mul => a.checked_mul(b),
                BinOp::Div => a.checked_div(b),
                _ => a.checked_rem(b),
            };
            value.map(Some).ok_or_else(|| {
                ProgramError::new(
                    span.clone(),
                    format!(
                        "overflow: {a} {} {b} does not fit in a 64-bit integer",
                        op.symbol()
                    ),
                )
            })
        }
        _ => Ok(None),
    }
}

/// Follows what each thread holds of each lock through its code, to refuse what is sure to go
/// wrong before any run.
struct LockFlow {
    report: bool,
}

impl LockFlow {
    fn statements(&self, statements: &[Stmt], locks: &mut [Held]) -> Result<(), ProgramError> {
        for statement in statements {
            self.statement(statement, locks)?;
        }
        Ok(())
    }

    fn fail(&self, span: &Span, message: String) -> Result<(), ProgramError> {
        if self.report {
            Err(ProgramError::new(span.clone(), message))
        } else {
            Ok(())
        }
    }

    fn statement(&self, statement: &Stmt, locks: &mut [Held]) -> Result<(), ProgramError> {
        let index = |name: &Name| match name.resolved {
            Resolved::Lock(index) => index,
            _ => unreachable!("the checker resolved the lock"),
        };
        match &statement.kind {
            StmtKind::Lock(name) => {
                let i = index(name);
                if locks[i] == Held::Yes {
                    self.fail(
                        &name.span,
                        format!(
                            "`lock {0}` while this thread holds `{0}` already: it would wait for \
                             itself forever",
                            name.text
                        ),
                    )?;
                }
                locks[i] = Held::Yes;
            }
            StmtKind::Unlock(name) => {
                let i = index(name);
                if locks[i] == Held::No {
                    self.fail(
                        &name.span,
                        format!(
                            "`unlock {0}` of a lock this thread does not hold here",
                            name.text
                        ),
                    )?;
                }
                locks[i] = Held::No;
            }
            StmtKind::Wait(_, name) => {
                let i = index(name);
                if locks[i] == Held::No {
                    self.fail(
                        &name.span,
                        format!(
                            "`wait` needs its lock held: this thread does not hold `{}` here",
                            name.text
                        ),
                    )?;
                }
                locks[i] = Held::Yes;
            }
            StmtKind::If(_, then, otherwise) => {
                let mut other = locks.to_vec();
                self.statements(then, locks)?;
                self.statements(otherwise, &mut other)?;
                for (held, other) in locks.iter_mut().zip(other) {
                    *held = held.join(other);
                }
            }
            StmtKind::While(_, body) | StmtKind::Repeat(_, _, body) => {
                let zero = matches!(statement.kind, StmtKind::Repeat(0, ..));
                // The state at the loop's head: what it holds on entry, joined with what one
                // more iteration leaves, until nothing changes.
                let mut head = locks.to_vec();
                loop {
                    let mut after = head.clone();
                    LockFlow { report: false }.statements(body, &mut after)?;
                    let joined: Vec<Held> =
                        head.iter().zip(&after).map(|(a, b)| a.join(*b)).collect();
                    if joined == head {
                        break;
                    }
                    head = joined;
                }
                if !zero {
                    self.statements(body, &mut head.clone())?;
                }
                locks.copy_from_slice(&head);
            }
            _ => {}
        }
        Ok(())
    }
}
