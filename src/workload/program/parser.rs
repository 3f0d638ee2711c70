//! The parser: a thread's code to its syntax tree.
//!
//! Hand-rolled recursive descent rather than a parser crate (chumsky, winnow, pest, lalrpop):
//! the grammar is a dozen statements and six levels of operators, which fit in this one file
//! with no grammar file or combinator types; every token carries its byte span, so each error
//! points at the exact offending token (which the config reader then maps to the line and
//! column of the TOML file); and the messages name what was expected in the language's own
//! words ("expected `{` after the condition of `if`") rather than a generated token list.
//!
//! Grammar (statements are separated by newlines or `;`; `#` starts a comment):
//!
//! ```text
//! stmt  := "let" NAME "=" expr | NAME ("=" | "+=" | "-=") expr
//!        | "atomic" NAME ("+=" | "-=") expr
//!        | "lock" NAME | "unlock" NAME | "wait" NAME NAME | "notify" NAME | "notify_all" NAME
//!        | "if" expr block ["else" (block | if)] | "while" expr block | "repeat" INT block
//!        | "assert" expr | "yield"
//! block := "{" stmt* "}"
//! expr  := or;  or := and ("||" and)*;  and := cmp ("&&" cmp)*;  cmp := sum [CMP sum]
//! sum   := term (("+" | "-") term)*;  term := unary (("*" | "/" | "%") unary)*
//! unary := ("-" | "!") unary | INT | "true" | "false" | "thread" | NAME | "(" expr ")"
//! ```

use super::ast::{AssignOp, BinOp, Expr, Name, Span, Stmt, StmtKind, UnOp};
use super::error::ProgramError;
use super::lexer::{NEGATIVE_LIMIT, Token, tokens, too_large};

/// Words that cannot name a variable, lock or condition variable.
pub const KEYWORDS: [&str; 16] = [
    "let",
    "atomic",
    "lock",
    "unlock",
    "wait",
    "notify",
    "notify_all",
    "if",
    "else",
    "while",
    "repeat",
    "assert",
    "yield",
    "thread",
    "true",
    "false",
];

/// The most iterations one `repeat` may ask for.
pub const MAX_REPEAT: i64 = 1_000_000_000;

/// Parses a thread's code into its statements.
pub fn parse_code(code: &str) -> Result<Vec<Stmt>, ProgramError> {
    let mut parser = Parser::new(code)?;
    let statements = parser.statements()?;
    match parser.peek() {
        Token::End => Ok(statements),
        Token::Symbol("}") => Err(parser.error_here("`}` without a matching `{`")),
        other => Err(parser.error_here(&format!("unexpected {}", other.describe()))),
    }
}

/// Parses one expression (a `check`).
pub fn parse_expression(code: &str) -> Result<Expr, ProgramError> {
    let mut parser = Parser::new(code)?;
    parser.skip_newlines();
    let expr = parser.expression()?;
    parser.skip_newlines();
    match parser.peek() {
        Token::End => Ok(expr),
        other => Err(parser.error_here(&format!(
            "unexpected {} after the expression",
            other.describe()
        ))),
    }
}

struct Parser {
    tokens: Vec<(Token, Span)>,
    at: usize,
}

impl Parser {
    fn new(code: &str) -> Result<Parser, ProgramError> {
        Ok(Parser {
            tokens: tokens(code)?,
            at: 0,
        })
    }

    fn peek(&self) -> &Token {
        &self.tokens[self.at].0
    }

    fn span(&self) -> Span {
        self.tokens[self.at].1.clone()
    }

    fn advance(&mut self) -> (Token, Span) {
        let token = self.tokens[self.at].clone();
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
        token
    }

    fn error_here(&self, message: &str) -> ProgramError {
        ProgramError::new(self.span(), message)
    }

    fn at_symbol(&self, symbol: &str) -> bool {
        matches!(self.peek(), Token::Symbol(s) if *s == symbol)
    }

    fn expect_symbol(&mut self, symbol: &str, context: &str) -> Result<Span, ProgramError> {
        if self.at_symbol(symbol) {
            Ok(self.advance().1)
        } else {
            Err(self.error_here(&format!(
                "expected `{symbol}` {context}, found {}",
                self.peek().describe()
            )))
        }
    }

    fn skip_newlines(&mut self) {
        while matches!(self.peek(), Token::Newline) || self.at_symbol(";") {
            self.advance();
        }
    }

    /// Statements up to a `}` or the end.
    fn statements(&mut self) -> Result<Vec<Stmt>, ProgramError> {
        let mut statements = Vec::new();
        loop {
            self.skip_newlines();
            if matches!(self.peek(), Token::End) || self.at_symbol("}") {
                return Ok(statements);
            }
            let statement = self.statement()?;
            let compound = matches!(
                statement.kind,
                StmtKind::If(..) | StmtKind::While(..) | StmtKind::Repeat(..)
            );
            statements.push(statement);
            let separated = matches!(self.peek(), Token::Newline | Token::End)
                || self.at_symbol(";")
                || self.at_symbol("}");
            if !separated && !compound {
                return Err(self.error_here(&format!(
                    "expected the end of the statement (a new line or `;`), found {}",
                    self.peek().describe()
                )));
            }
        }
    }

    fn name(&mut self, what: &str) -> Result<Name, ProgramError> {
        match self.peek().clone() {
            Token::Word(word) if !KEYWORDS.contains(&word.as_str()) => {
                let span = self.advance().1;
                Ok(Name::new(&word, span))
            }
            Token::Word(word) => {
                Err(self.error_here(&format!("expected {what}, found the keyword `{word}`")))
            }
            other => Err(self.error_here(&format!("expected {what}, found {}", other.describe()))),
        }
    }

    fn statement(&mut self) -> Result<Stmt, ProgramError> {
        let start = self.span().start;
        let word = match self.peek() {
            Token::Word(word) => word.clone(),
            other => {
                return Err(
                    self.error_here(&format!("expected a statement, found {}", other.describe()))
                );
            }
        };
        let kind = match word.as_str() {
            "let" => {
                self.advance();
                let name = self.name("the name of a local after `let`")?;
                self.expect_symbol("=", "after the name of the local")?;
                StmtKind::Let(name, self.expression()?)
            }
            "atomic" => self.atomic()?,
            "lock" | "unlock" | "notify" | "notify_all" => {
                self.advance();
                let what = if word.contains("lock") {
                    format!("the name of a lock after `{word}`")
                } else {
                    format!("the name of a condition variable after `{word}`")
                };
                let name = self.name(&what)?;
                match word.as_str() {
                    "lock" => StmtKind::Lock(name),
                    "unlock" => StmtKind::Unlock(name),
                    "notify" => StmtKind::Notify(name),
                    _ => StmtKind::NotifyAll(name),
                }
            }
            "wait" => {
                self.advance();
                let cond = self.name("the condition variable after `wait` (`wait c m`)")?;
                let lock = self.name("the lock after `wait c` (`wait c m`)")?;
                StmtKind::Wait(cond, lock)
            }
            "if" => return self.if_statement(),
            "while" => {
                self.advance();
                let cond = self.expression()?;
                let end = self.span().start;
                let body = self.block("the condition of `while`")?;
                return Ok(Stmt {
                    kind: StmtKind::While(cond, body),
                    span: start..end,
                });
            }
            "repeat" => return self.repeat(start),
            "assert" => {
                self.advance();
                StmtKind::Assert(self.expression()?)
            }
            "yield" => {
                self.advance();
                StmtKind::Yield
            }
            "else" => return Err(self.error_here("`else` without an `if` before it")),
            _ => self.assignment()?,
        };
        let end = self.tokens[self.at.saturating_sub(1)].1.end.max(start);
        Ok(Stmt {
            kind,
            span: start..end,
        })
    }

    /// `atomic x += e` / `atomic x -= e`, from `atomic`.
    fn atomic(&mut self) -> Result<StmtKind, ProgramError> {
        self.advance();
        let name = self.name("a shared variable after `atomic`")?;
        let op = if self.at_symbol("+=") {
            AssignOp::Add
        } else if self.at_symbol("-=") {
            AssignOp::Sub
        } else {
            return Err(self.error_here(&format!(
                "expected `+=` or `-=` after `atomic {}`, found {}",
                name.text,
                self.peek().describe()
            )));
        };
        self.advance();
        Ok(StmtKind::Atomic(name, op, self.expression()?))
    }

    /// `repeat N { ... }`, from `repeat` at `start`.
    fn repeat(&mut self, start: usize) -> Result<Stmt, ProgramError> {
        self.advance();
        let (count, count_span) = match self.peek().clone() {
            Token::Int(count) if count <= MAX_REPEAT as u64 => (count, self.advance().1),
            Token::Int(_) => {
                return Err(self.error_here(&format!("a repeat count is at most {MAX_REPEAT}")));
            }
            other => {
                return Err(self.error_here(&format!(
                    "expected a number of times after `repeat` (a literal such as 10), found {}",
                    other.describe()
                )));
            }
        };
        let body = self.block("the count of `repeat`")?;
        Ok(Stmt {
            kind: StmtKind::Repeat(count, count_span.clone(), body),
            span: start..count_span.end,
        })
    }

    /// `x = e`, `x += e` or `x -= e`.
    fn assignment(&mut self) -> Result<StmtKind, ProgramError> {
        let name = self.name("a statement")?;
        let op = match self.peek() {
            Token::Symbol("=") => AssignOp::Set,
            Token::Symbol("+=") => AssignOp::Add,
            Token::Symbol("-=") => AssignOp::Sub,
            Token::Symbol("==") => {
                return Err(self.error_here(
                    "`==` compares; a statement assigns with `=` (or checks with `assert`)",
                ));
            }
            other => {
                return Err(self.error_here(&format!(
                    "expected `=`, `+=` or `-=` after `{}`, found {}",
                    name.text,
                    other.describe()
                )));
            }
        };
        self.advance();
        Ok(StmtKind::Assign(name, op, self.expression()?))
    }

    fn if_statement(&mut self) -> Result<Stmt, ProgramError> {
        let start = self.advance().1.start;
        let cond = self.expression()?;
        let end = self.span().start;
        let then = self.block("the condition of `if`")?;
        // `else` may start the next line.
        let mark = self.at;
        while matches!(self.peek(), Token::Newline) {
            self.advance();
        }
        let otherwise = if matches!(self.peek(), Token::Word(w) if w == "else") {
            self.advance();
            if matches!(self.peek(), Token::Word(w) if w == "if") {
                vec![self.if_statement()?]
            } else {
                self.block("`else`")?
            }
        } else {
            self.at = mark;
            Vec::new()
        };
        Ok(Stmt {
            kind: StmtKind::If(cond, then, otherwise),
            span: start..end,
        })
    }

    fn block(&mut self, after: &str) -> Result<Vec<Stmt>, ProgramError> {
        self.expect_symbol("{", &format!("after {after}"))?;
        let open = self.tokens[self.at - 1].1.clone();
        let body = self.statements()?;
        if !self.at_symbol("}") {
            return Err(ProgramError::new(
                open,
                "this `{` is never closed: expected `}`",
            ));
        }
        self.advance();
        Ok(body)
    }

    fn expression(&mut self) -> Result<Expr, ProgramError> {
        self.binary(0)
    }

    /// Binary operators of precedence `level` and above.
    fn binary(&mut self, level: usize) -> Result<Expr, ProgramError> {
        const LEVELS: [&[(&str, BinOp)]; 5] = [
            &[("||", BinOp::Or)],
            &[("&&", BinOp::And)],
            &[
                ("==", BinOp::Eq),
                ("!=", BinOp::Ne),
                ("<=", BinOp::Le),
                (">=", BinOp::Ge),
                ("<", BinOp::Lt),
                (">", BinOp::Gt),
            ],
            &[("+", BinOp::Add), ("-", BinOp::Sub)],
            &[("*", BinOp::Mul), ("/", BinOp::Div), ("%", BinOp::Rem)],
        ];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        loop {
            let op = LEVELS[level]
                .iter()
                .find(|(symbol, _)| self.at_symbol(symbol))
                .map(|(_, op)| *op);
            let Some(op) = op else {
                return Ok(left);
            };
            let span = self.advance().1;
            let right = self.binary(level + 1)?;
            let comparison = level == 2;
            left = Expr::Binary(op, Box::new(left), Box::new(right), span);
            if comparison && LEVELS[2].iter().any(|(symbol, _)| self.at_symbol(symbol)) {
                return Err(self.error_here("comparisons do not chain: write `a < b && b < c`"));
            }
        }
    }

    fn unary(&mut self) -> Result<Expr, ProgramError> {
        let (token, span) = (self.peek().clone(), self.span());
        match token {
            Token::Symbol("-") | Token::Symbol("!") => {
                self.advance();
                if token == Token::Symbol("-")
                    && let Token::Int(NEGATIVE_LIMIT) = self.peek()
                {
                    // `-9223372036854775808` is `i64::MIN`, whose magnitude alone does not fit.
                    let literal = self.advance().1;
                    return Ok(Expr::Int(i64::MIN, span.start..literal.end));
                }
                let op = if token == Token::Symbol("-") {
                    UnOp::Neg
                } else {
                    UnOp::Not
                };
                Ok(Expr::Unary(op, Box::new(self.unary()?), span))
            }
            Token::Symbol("(") => {
                self.advance();
                let inner = self.expression()?;
                if !self.at_symbol(")") {
                    return Err(self.error_here(&format!(
                        "expected `)` to close the `(` at column {}, found {}",
                        span.start + 1,
                        self.peek().describe()
                    )));
                }
                self.advance();
                Ok(inner)
            }
            Token::Int(value) => {
                let value = i64::try_from(value)
                    .map_err(|_| too_large(&value.to_string(), span.clone()))?;
                self.advance();
                Ok(Expr::Int(value, span))
            }
            Token::Word(word) => match word.as_str() {
                "true" | "false" => {
                    self.advance();
                    Ok(Expr::Bool(word == "true", span))
                }
                "thread" => {
                    self.advance();
                    Ok(Expr::Thread(span))
                }
                _ => Ok(Expr::Name(self.name("a value")?)),
            },
            other => Err(self.error_here(&format!(
                "expected a value (a number, a variable, `thread` or `(`), found {}",
                other.describe()
            ))),
        }
    }
}
