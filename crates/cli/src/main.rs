//! `text2sql`: serve, publish, evaluate, train and ask Text-to-SQL LoRA adapters.
//!
//! `main` only parses arguments and dispatches to one module per subcommand.

mod commands;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Text-to-SQL with LoRA adapters: a TGI-compatible multi-LoRA server and the tools around it.
#[derive(Parser)]
#[command(name = "text2sql", version, about, long_about = None, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate predictions: internal validation set or Spider dev.
    Eval(commands::eval::Args),
    /// Prepare training data.
    Data(commands::data::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Eval(args) => commands::eval::run(args),
        Command::Data(args) => commands::data::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
