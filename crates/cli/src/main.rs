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
    /// Generate text with a model (and optionally a LoRA adapter), like TGI's POST /generate.
    Generate(commands::generate::Args),
    /// Measure speed (JSON output).
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Generate(args) => commands::generate::run(args),
        Command::Bench(cmd) => commands::bench::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
