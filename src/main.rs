//! The `podmedic` binary: parse arguments, run, print errors with their causes.
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = podmedic::cli::Cli::parse();
    match podmedic::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
