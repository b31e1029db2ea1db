//! `hub-emulator`: a local Hugging Face Hub stand-in for tests (binds 127.0.0.1 only).

use std::path::PathBuf;

use clap::Parser;

/// Local Hugging Face Hub emulator (test support).
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one; the chosen URL is printed).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Where repos and objects are stored.
    #[arg(long = "data-dir", alias = "data_dir")]
    data_dir: PathBuf,
    /// A user and its token, `NAME=TOKEN` (repeatable). A token may write to its user's namespace.
    #[arg(long = "token", value_name = "NAME=TOKEN")]
    tokens: Vec<String>,
    /// Files at least this many bytes are uploaded through LFS.
    #[arg(long = "lfs-threshold", default_value_t = 10_000_000)]
    lfs_threshold: u64,
    /// LFS objects above this many bytes are uploaded multipart in parts of this size (0: never).
    #[arg(long = "multipart-chunk-size", default_value_t = 64 * 1024 * 1024)]
    multipart_chunk_size: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut tokens = Vec::new();
    for t in &args.tokens {
        let (name, tok) = t.split_once('=').ok_or_else(|| anyhow::anyhow!("--token expects NAME=TOKEN, got a value without '='"))?;
        anyhow::ensure!(!name.is_empty() && !tok.is_empty(), "--token expects NAME=TOKEN with both parts non-empty");
        tokens.push((name.to_string(), tok.to_string()));
    }
    let mut cfg = hub_emulator::Config::new(args.data_dir, tokens);
    cfg.lfs_threshold = args.lfs_threshold;
    cfg.multipart_chunk_size = (args.multipart_chunk_size > 0).then_some(args.multipart_chunk_size);
    let state = hub_emulator::AppState::new(cfg)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
        println!("hub-emulator listening on http://{}", listener.local_addr()?);
        axum::serve(listener, hub_emulator::app(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(())
    })
}
