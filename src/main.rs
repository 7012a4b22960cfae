//! Temporary wiring for the classifier branch (the lead owns main.rs/cli.rs).
use clap::{Parser, Subcommand};
use podmedic::classifier::cli::{EvalArgs, TrainArgs, run_eval, run_train};

#[derive(Parser)]
#[command(name = "podmedic")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train the classifier.
    Train(TrainArgs),
    /// Evaluate signatures, model and fused.
    Eval(EvalArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Train(a) => run_train(&a),
        Command::Eval(a) => run_eval(&a),
    }
}
