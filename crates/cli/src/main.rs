//! The `text2sql` binary: a thin dispatcher over one module per subcommand.

mod commands;

use clap::{Parser, Subcommand};

/// text2sql: publish, serve, evaluate and train Text-to-SQL LoRA adapters.
#[derive(Parser)]
#[command(name = "text2sql", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Publish a LoRA adapter folder to the Hugging Face Hub (model card, LFS, one commit).
    Publish(commands::publish::Args),
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Publish(args) => commands::publish::run(args),
    };
    match code {
        Ok(c) => std::process::exit(c),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}
