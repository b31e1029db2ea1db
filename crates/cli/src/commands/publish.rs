//! `text2sql publish`: push a LoRA adapter folder to the Hugging Face Hub with a model card.
//!
//! The flags of the seed's `scripts/publish_to_hub.py` work verbatim (`--repo_id`,
//! `--adapter_dir`, `--skip_readme`, ...), with kebab-case aliases.

use std::path::PathBuf;

use std::io::IsTerminal;

use text2sql_hub::publish::{publish, PublishOptions, DEFAULT_COMMIT_MESSAGE};
use text2sql_hub::ClientOptions;

/// Publish a LoRA adapter folder to the Hugging Face Hub.
///
/// Validates the adapter (adapter_config.json plus adapter_model.safetensors or .bin, LoRA shapes
/// against `r`), checks the token with whoami, creates the repo if needed, generates README.md
/// (model card with metrics and deployment notes) and uploads the folder as one commit.
/// Token: --token, else HF_TOKEN, else the huggingface_hub token file ($HF_HOME/token).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target model repo, e.g. your-username/analytics-copilot-text2sql-mistral7b-qlora.
    #[arg(long = "repo_id", alias = "repo-id", value_name = "NAMESPACE/NAME")]
    pub repo_id: String,

    /// Adapter folder (adapter_config.json + adapter_model.safetensors or .bin).
    #[arg(long = "adapter_dir", alias = "adapter-dir", value_name = "DIR", default_value = "outputs/adapters")]
    pub adapter_dir: PathBuf,

    /// Create the repository as private (an existing repo keeps its visibility).
    #[arg(long)]
    pub private: bool,

    /// Do not generate README.md; an existing README.md in the adapter dir is uploaded as is.
    #[arg(long = "skip_readme", alias = "skip-readme")]
    pub skip_readme: bool,

    /// Exit non-zero if README.md generation fails (default: warn and upload anyway).
    #[arg(long = "strict_readme", alias = "strict-readme")]
    pub strict_readme: bool,

    /// Evaluation report(s) to summarise in README.md: raw metrics dict or {"metrics": {...}}.
    /// Repeatable, or several paths after one flag.
    #[arg(long = "include_metrics", alias = "include-metrics", value_name = "PATH", num_args = 1.., action = clap::ArgAction::Append)]
    pub include_metrics: Vec<PathBuf>,

    /// Commit message.
    #[arg(long = "commit_message", alias = "commit-message", default_value = DEFAULT_COMMIT_MESSAGE)]
    pub commit_message: String,

    /// Hugging Face token (default: HF_TOKEN, then the token file). Never printed.
    #[arg(long, value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Branch to commit to (created from main if missing).
    #[arg(long, alias = "branch", default_value = "main")]
    pub revision: String,

    /// Print what would be uploaded and the model card; touch nothing (no network).
    #[arg(long = "dry-run", alias = "dry_run")]
    pub dry_run: bool,

    /// Hub endpoint.
    #[arg(long, env = "HF_ENDPOINT", default_value = text2sql_hub::auth::DEFAULT_ENDPOINT)]
    pub endpoint: String,
}

/// Runs the command; returns the process exit code (0 ok, 2 invalid input, 1 Hub error).
pub fn run(args: Args) -> anyhow::Result<i32> {
    let opts = PublishOptions {
        repo_id: args.repo_id,
        adapter_dir: args.adapter_dir,
        private: args.private,
        skip_readme: args.skip_readme,
        strict_readme: args.strict_readme,
        include_metrics: args.include_metrics,
        commit_message: args.commit_message,
        revision: args.revision,
        dry_run: args.dry_run,
        progress: std::io::stderr().is_terminal(),
        client: ClientOptions::from_env(Some(&args.endpoint), args.token.as_deref()),
    };
    let mut stdout = std::io::stdout();
    match publish(&opts, &mut stdout) {
        Ok(_) => Ok(0),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(e.exit_code())
        }
    }
}
