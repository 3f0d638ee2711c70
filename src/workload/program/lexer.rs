//! Splits a thread's code into tokens, each with its byte span: the parser's input.

use super::ast::Span;
use super::error::ProgramError;

/// A token of the language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// An integer literal (a decimal up to 2^63, `_` allowed between digits): at most
    /// `i64::MAX`, or 2^63 right after a minus sign, which makes `i64::MIN` (the parser
    /// decides).
    Int(u64),
    /// A name or a keyword.
    Word(String),
    /// An operator or punctuation: `+ - * / % == != < <= > >= && || ! = += -= ( ) { } ;`.
    Symbol(&'static str),
    /// The end of a line: a statement separator.
    Newline,
    /// The end of the code.
    End,
}

impl Token {
    /// The token as an error message quotes it.
    pub fn describe(&self) -> String {
        match self {
            Token::Int(value) => format!("`{value}`"),
            Token::Word(word) => format!("`{word}`"),
            Token::Symbol(symbol) => format!("`{symbol}`"),
            Token::Newline => "the end of the line".to_string(),
            Token::End => "the end of the code".to_string(),
        }
    }
}

/// The symbols, longest first so that `<=` is not read as `<` then `=`.
const SYMBOLS: [&str; 23] = [
    "==", "!=", "<=", ">=", "&&", "||", "+=", "-=", "+", "-", "*", "/", "%", "<", ">", "!", "=",
    "(", ")", "{", "}", ";", ",",
];

/// The tokens of `code`, ending with [`Token::End`]. `#` starts a comment to the end of the line.
pub fn tokens(code: &str) -> Result<Vec<(Token, Span)>, ProgramError> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while at < code.len() {
        let c = code[at..].chars().next().expect("at is on a char boundary");
        if c == '\n' {
            out.push((Token::Newline, at..at + 1));
            at += 1;
        } else if c.is_whitespace() {
            at += c.len_utf8();
        } else if c == '#' {
            at = code[at..].find('\n').map_or(code.len(), |i| at + i);
        } else if c.is_ascii_digit() {
            let start = at;
            while at < code.len() && (bytes[at].is_ascii_digit() || bytes[at] == b'_') {
                at += 1;
            }
            if at < code.len() && (bytes[at].is_ascii_alphabetic()) {
                return Err(ProgramError::new(
                    start..at + 1,
                    format!(
                        "`{}` is not a number: a name cannot start with a digit",
                        &code[start..=at]
                    ),
                ));
            }
            let digits: String = code[start..at].chars().filter(|&c| c != '_').collect();
            let value = digits
                .parse::<u64>()
                .ok()
                .filter(|&value| value <= NEGATIVE_LIMIT)
                .ok_or_else(|| too_large(&code[start..at], start..at))?;
            out.push((Token::Int(value), start..at));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = at;
            while at < code.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
                at += 1;
            }
            out.push((Token::Word(code[start..at].to_string()), start..at));
        } else if let Some(symbol) = SYMBOLS.iter().find(|s| code[at..].starts_with(**s)) {
            out.push((Token::Symbol(symbol), at..at + symbol.len()));
            at += symbol.len();
        } else {
            let hint = match c {
                '&' => ": did you mean `&&`?",
                '|' => ": did you mean `||`?",
                '[' | ']' => ": the language has no arrays; use one variable per element",
                _ => "",
            };
            return Err(ProgramError::new(
                at..at + c.len_utf8(),
                format!("unexpected character `{c}`{hint}"),
            ));
        }
    }
    out.push((Token::End, code.len()..code.len()));
    Ok(out)
}

/// The magnitude of `i64::MIN`: the largest literal, which only a minus sign makes fit.
pub const NEGATIVE_LIMIT: u64 = i64::MIN.unsigned_abs();

/// The error of a literal `written` at `span` that does not fit in a 64-bit integer.
pub fn too_large(written: &str, span: std::ops::Range<usize>) -> ProgramError {
    ProgramError::new(
        span,
        format!(
            "the number {written} does not fit in a 64-bit integer (from {} to {})",
            i64::MIN,
            i64::MAX
        ),
    )
}
