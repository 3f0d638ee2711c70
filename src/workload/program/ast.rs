//! The syntax tree of a thread's code in a `workload = "program"` scenario.
//!
//! Every node keeps its span: byte offsets into the thread's `code` string, which the checker's
//! errors turn into a line and column of the config file and the interpreter into the line the
//! interleaving names. Names are resolved in place by the checker ([`Resolved`]).

use std::ops::Range;

/// Byte offsets into a thread's `code` string.
pub type Span = Range<usize>;

/// A name as written, and what the checker found it names.
#[derive(Clone, Debug, PartialEq)]
pub struct Name {
    /// The name as written.
    pub text: String,
    /// Where it is written.
    pub span: Span,
    /// What it names, once checked.
    pub resolved: Resolved,
}

impl Name {
    /// A name not resolved yet.
    pub fn new(text: &str, span: Span) -> Name {
        Name {
            text: text.to_string(),
            span,
            resolved: Resolved::Unknown,
        }
    }
}

/// What a name refers to, by index into the program's declarations or the thread's locals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// Not resolved yet.
    Unknown,
    /// A shared variable (index into `shared`).
    Shared(usize),
    /// A thread-local made by `let` (index into the thread's locals).
    Local(usize),
    /// A lock (index into `locks`).
    Lock(usize),
    /// A condition variable (index into `conds`).
    Cond(usize),
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (truncating)
    Div,
    /// `%` (remainder, the sign of the dividend)
    Rem,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `&&` (short-circuit)
    And,
    /// `||` (short-circuit)
    Or,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }
}

/// A unary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// `-e`
    Neg,
    /// `!e`
    Not,
}

/// An expression: integers (i64) and conditions (true or false).
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// An integer literal.
    Int(i64, Span),
    /// `true` or `false`.
    Bool(bool, Span),
    /// A shared variable or a local.
    Name(Name),
    /// `thread`: the index of the running thread, from 0.
    Thread(Span),
    /// A unary operation.
    Unary(UnOp, Box<Expr>, Span),
    /// A binary operation; the span is the operator's.
    Binary(BinOp, Box<Expr>, Box<Expr>, Span),
}

impl Expr {
    /// Where the whole expression is written.
    pub fn span(&self) -> Span {
        match self {
            Expr::Int(_, span) | Expr::Bool(_, span) | Expr::Thread(span) => span.clone(),
            Expr::Name(name) => name.span.clone(),
            Expr::Unary(_, operand, span) => span.start..operand.span().end,
            Expr::Binary(_, left, right, _) => left.span().start..right.span().end,
        }
    }
}

/// How an assignment combines the new value with the old.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignOp {
    /// `x = e`
    Set,
    /// `x += e`: a read, then a write.
    Add,
    /// `x -= e`: a read, then a write.
    Sub,
}

/// One statement, with the span of its whole text (for the interleaving's label).
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    /// What it does.
    pub kind: StmtKind,
    /// Where it is written (a compound statement: its head, up to its first `{`).
    pub span: Span,
}

/// The statements of the language.
#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `let t = e`: a thread-local.
    Let(Name, Expr),
    /// `x = e`, `x += e`, `x -= e`.
    Assign(Name, AssignOp, Expr),
    /// `atomic x += e` / `atomic x -= e`: one indivisible read-modify-write.
    Atomic(Name, AssignOp, Expr),
    /// `lock m`.
    Lock(Name),
    /// `unlock m`.
    Unlock(Name),
    /// `wait c m`.
    Wait(Name, Name),
    /// `notify c`.
    Notify(Name),
    /// `notify_all c`.
    NotifyAll(Name),
    /// `if cond { } else { }` (an `else if` is an `else` holding one `if`).
    If(Expr, Vec<Stmt>, Vec<Stmt>),
    /// `while cond { }`.
    While(Expr, Vec<Stmt>),
    /// `repeat N { }`, with the span of `N` (which shrinking rewrites).
    Repeat(u64, Span, Vec<Stmt>),
    /// `assert cond`.
    Assert(Expr),
    /// `yield`.
    Yield,
}
