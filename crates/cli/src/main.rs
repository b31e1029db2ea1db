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
    /// Serve a base model and LoRA adapters over TGI's HTTP API (and OpenAI's).
    Serve(commands::serve::Args),
    /// Publish a LoRA adapter folder to the Hugging Face Hub (model card, LFS, one commit).
    Publish(commands::publish::Args),
    /// Evaluate a model or predictions: internal validation set or Spider dev.
    Eval(commands::eval::Args),
    /// Prepare training data (Alpaca JSONL).
    Data(commands::data::Args),
    /// Train a LoRA adapter (CPU, frozen base; PEFT output).
    Train(commands::train::Args),
    /// Generate text with a model (and optionally a LoRA adapter), like TGI's POST /generate.
    Generate(commands::generate::Args),
    /// Ask a question in plain language: SQL from a schema file or a live database (--execute runs it read-only).
    Ask(commands::ask::Args),
    /// Measure speed (JSON output).
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => commands::serve::run(args).map(|()| 0),
        Command::Publish(args) => commands::publish::run(args),
        Command::Eval(args) => commands::eval::run(args).map(|()| 0),
        Command::Data(args) => commands::data::run(args).map(|()| 0),
        Command::Train(args) => commands::train::run(args).map(|()| 0),
        Command::Generate(args) => commands::generate::run(args).map(|()| 0),
        Command::Ask(args) => commands::ask::run(args).map(|()| 0),
        Command::Bench(cmd) => commands::bench::run(cmd).map(|()| 0),
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
