//! The `contend` binary: parses the command line, runs the command, maps the result to an
//! exit code.

mod cli;

use std::io;
use std::process::ExitCode;

use clap::Parser;

use contend::exit_code;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::ProcessWorker = cli.command {
        return process_worker();
    }
    cli.color.apply();
    contend::engine::panics::install_hook();
    let result = match &cli.command {
        Command::Run(args) => cli::run::run(args),
        Command::List(args) if args.configs.is_empty() => Ok(cli::list::list()),
        Command::List(args) => cli::list::scenarios(&args.configs),
        Command::Check(args) => cli::list::check(&args.configs),
        Command::Completions(args) => Ok(cli::manual::completions(args.shell)),
        Command::Man => cli::manual::man(),
        Command::Replay(args) => cli::replay::replay(args),
        Command::Merge(args) => cli::merge::merge(args),
        Command::Init(args) => cli::starter::init(args),
        Command::Schema => Ok(cli::starter::schema()),
        Command::ProcessWorker => return process_worker(),
    };
    let code = result.unwrap_or_else(|error| {
        let red = anstyle::AnsiColor::Red
            .on_default()
            .effects(anstyle::Effects::BOLD);
        anstream::eprintln!("{red}error{red:#}: {error:#}");
        exit_code::ERROR
    });
    ExitCode::from(code as u8)
}

/// A worker of the processes engine: its order on stdin, its failure on stderr (which its
/// parent reports), nothing on stdout.
fn process_worker() -> ExitCode {
    let stdin = io::BufReader::new(io::stdin());
    let code = match contend::engine::processes::worker::serve(stdin) {
        Ok(()) => exit_code::PASS,
        Err(error) => {
            eprintln!("error: {:#}", anyhow::Error::from(error));
            exit_code::ERROR
        }
    };
    ExitCode::from(code as u8)
}
