//! `contend completions` and `contend man`: a shell's completion script and the man page,
//! both generated from the command line's own definition.

use std::io::{self, Write};

use clap::CommandFactory;
use contend::exit_code;

use super::Cli;
use super::output::QuietOnBrokenPipe;

/// Prints the completion script of `shell`.
pub fn completions(shell: clap_complete::Shell) -> i32 {
    let mut command = Cli::command();
    let mut out = QuietOnBrokenPipe(io::stdout().lock());
    clap_complete::generate(shell, &mut command, "contend", &mut out);
    let _ = out.flush();
    exit_code::PASS
}

/// Prints the man page, in roff.
pub fn man() -> anyhow::Result<i32> {
    let page = clap_mangen::Man::new(Cli::command());
    let mut roff = Vec::new();
    page.render(&mut roff)?;
    let mut out = QuietOnBrokenPipe(io::stdout().lock());
    out.write_all(&roff)?;
    out.flush()?;
    Ok(exit_code::PASS)
}
