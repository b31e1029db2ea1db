//! `text2sql publish`: validate an adapter folder, render its model card, and upload it to the Hub
//! as one commit (the behaviour of the seed's `scripts/publish_to_hub.py`).
//!
//! Steps: validate the adapter (nothing touches the network before this passes) → render the
//! README unless `skip_readme` → whoami → create the repo (exist_ok) → upload in one commit.

pub mod card;
pub mod metrics;
pub mod validate;

use std::io::Write;
use std::path::PathBuf;

use crate::client::{ClientOptions, HubClient};
use crate::error::HubError;
use crate::upload::{collect_folder, CommitFile, CommitInfo, FileSource, UploadOptions};

pub use card::{render_model_card, CardError, CardInput, UNKNOWN_BASE_MODEL};
pub use metrics::{load_metrics, MetricsError, MetricsReport};
pub use validate::{validate_adapter_dir, AdapterInfo, ValidationError};

/// Default commit message (the seed's).
pub const DEFAULT_COMMIT_MESSAGE: &str = "Add QLoRA adapter artifacts";

/// What to publish and how.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// Target repo id (`namespace/name`).
    pub repo_id: String,
    /// Adapter folder.
    pub adapter_dir: PathBuf,
    /// Create the repo private.
    pub private: bool,
    /// Do not generate README.md (an existing one is uploaded as is).
    pub skip_readme: bool,
    /// README generation failure is fatal.
    pub strict_readme: bool,
    /// Metrics reports to embed.
    pub include_metrics: Vec<PathBuf>,
    /// Commit message.
    pub commit_message: String,
    /// Branch.
    pub revision: String,
    /// Print the plan and the card; touch nothing.
    pub dry_run: bool,
    /// Show a progress bar.
    pub progress: bool,
    /// HTTP client options (endpoint, token, retries).
    pub client: ClientOptions,
}

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The adapter folder is invalid.
    #[error("invalid adapter: {0}")]
    Validation(#[from] ValidationError),
    /// README generation failed under `--strict_readme`.
    #[error("README.md generation failed (--strict_readme): {0}")]
    Readme(CardError),
    /// A bad option (repo id).
    #[error("{0}")]
    Usage(HubError),
    /// Hub or network error.
    #[error(transparent)]
    Hub(HubError),
    /// Writing the report failed.
    #[error("cannot write output: {0}")]
    Output(std::io::Error),
}

impl PublishError {
    /// Exit code: 2 for invalid input (adapter, options, strict README), 1 for Hub errors.
    pub fn exit_code(&self) -> i32 {
        match self {
            PublishError::Validation(_) | PublishError::Readme(_) | PublishError::Usage(_) => 2,
            PublishError::Hub(_) | PublishError::Output(_) => 1,
        }
    }
}

/// What happened with README.md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadmeOutcome {
    /// Generated and uploaded.
    Generated,
    /// `--skip_readme`: not generated.
    Skipped,
    /// Generation failed; the reason, and the upload went on without it.
    Failed(String),
}

/// Result of [`publish`].
#[derive(Debug, Clone)]
pub struct PublishReport {
    /// The validated adapter.
    pub adapter: AdapterInfo,
    /// README outcome.
    pub readme: ReadmeOutcome,
    /// Generated card text, if any.
    pub card: Option<String>,
    /// Files in the commit (path in repo, size).
    pub files: Vec<(String, u64)>,
    /// The commit (None on dry runs).
    pub commit: Option<CommitInfo>,
    /// Repo URL (None on dry runs).
    pub repo_url: Option<String>,
}

/// Runs the whole publish flow, writing human-readable progress to `out`.
pub fn publish(opts: &PublishOptions, out: &mut dyn Write) -> Result<PublishReport, PublishError> {
    let w = |out: &mut dyn Write, s: String| writeln!(out, "{s}").map_err(PublishError::Output);
    crate::api::validate_repo_id(&opts.repo_id).map_err(PublishError::Usage)?;

    // 1. adapter contents.
    let adapter = validate_adapter_dir(&opts.adapter_dir)?;
    w(out, format!(
        "Validated adapter {} (r={}, {} LoRA layers, base model {})",
        opts.adapter_dir.display(),
        adapter.config.r,
        adapter.lora_pairs,
        adapter.config.base_model.as_deref().unwrap_or(UNKNOWN_BASE_MODEL)
    ))?;

    // 2. README (rendered before any network call so --strict_readme failures touch nothing).
    let (readme, card) = if opts.skip_readme {
        (ReadmeOutcome::Skipped, None)
    } else {
        let input = CardInput {
            repo_id: &opts.repo_id,
            endpoint: &opts.client.endpoint,
            adapter: &adapter,
            metrics_files: &opts.include_metrics,
        };
        match render_model_card(&input) {
            Ok(c) => (ReadmeOutcome::Generated, Some(c)),
            Err(e) if opts.strict_readme => return Err(PublishError::Readme(e)),
            Err(e) => {
                eprintln!("warning: README.md generation failed, uploading without a generated README: {e}");
                (ReadmeOutcome::Failed(e.to_string()), None)
            }
        }
    };

    // 3. the file list: the folder, with the generated README replacing any local one.
    let mut files: Vec<CommitFile> = collect_folder(&opts.adapter_dir).map_err(PublishError::Hub)?;
    if let Some(c) = &card {
        files.retain(|f| f.path_in_repo != "README.md");
        files.push(CommitFile { path_in_repo: "README.md".into(), source: FileSource::Bytes(c.clone().into_bytes()) });
        files.sort_by(|a, b| a.path_in_repo.cmp(&b.path_in_repo));
    }
    let sizes: Vec<(String, u64)> = files
        .iter()
        .map(|f| {
            let size = match &f.source {
                FileSource::Bytes(b) => b.len() as u64,
                FileSource::Path(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            };
            (f.path_in_repo.clone(), size)
        })
        .collect();

    if opts.dry_run {
        w(out, format!("Dry run: would upload to {}/{} (branch {}) in one commit {:?}:", opts.client.endpoint, opts.repo_id, opts.revision, opts.commit_message))?;
        for (p, s) in &sizes {
            w(out, format!("  {p} ({s} bytes)"))?;
        }
        w(out, format!("Repository visibility if created: {}", if opts.private { "private" } else { "public" }))?;
        match &card {
            Some(c) => w(out, format!("--- README.md ---\n{c}--- end of README.md ---"))?,
            None => w(out, format!("README.md: {}", match &readme {
                ReadmeOutcome::Skipped => "not generated (--skip_readme)".to_string(),
                ReadmeOutcome::Failed(e) => format!("generation failed: {e}"),
                ReadmeOutcome::Generated => unreachable!(),
            }))?,
        }
        return Ok(PublishReport { adapter, readme, card, files: sizes, commit: None, repo_url: None });
    }

    // 4. authentication.
    let client = HubClient::new(opts.client.clone());
    let me = client.whoami().map_err(PublishError::Hub)?;
    let source = client.token().map(|t| t.source.to_string()).unwrap_or_default();
    w(out, format!("Authenticated as {} (token from {source})", me.name))?;

    // 5. repo.
    let repo_url = client.create_repo(&opts.repo_id, opts.private).map_err(PublishError::Hub)?;
    w(out, format!("Repository ready: {repo_url}"))?;
    if opts.revision != "main" {
        client.create_branch(&opts.repo_id, &opts.revision).map_err(PublishError::Hub)?;
    }

    // 6. upload in one commit.
    let upload = UploadOptions {
        revision: opts.revision.clone(),
        commit_message: opts.commit_message.clone(),
        commit_description: String::new(),
        progress: opts.progress,
    };
    let commit = client.upload_files(&opts.repo_id, files, &upload).map_err(PublishError::Hub)?;
    if commit.commit_url.is_empty() {
        w(out, format!("Nothing changed: the repository already has these files (head {})", commit.commit_oid))?;
    } else {
        w(out, format!(
            "Uploaded {} files ({} via LFS, {} unchanged) in commit {}",
            commit.lfs_files.len() + commit.regular_files.len(),
            commit.lfs_files.len(),
            commit.unchanged_files.len(),
            commit.commit_url
        ))?;
    }
    Ok(PublishReport { adapter, readme, card, files: sizes, commit: Some(commit), repo_url: Some(repo_url) })
}
