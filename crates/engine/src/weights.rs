//! Finding and opening the safetensors weights of a Hugging Face model directory.

use crate::error::{read_json, Error, Result};
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The safetensors files of a model directory: `model.safetensors`, or the shards listed in
/// `model.safetensors.index.json`.
pub fn safetensors_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let single = dir.join("model.safetensors");
    if single.is_file() {
        return Ok(vec![single]);
    }
    let index = dir.join("model.safetensors.index.json");
    if index.is_file() {
        #[derive(serde::Deserialize)]
        struct Index {
            weight_map: std::collections::HashMap<String, String>,
        }
        let parsed: Index = read_json(&index)?;
        let names: BTreeSet<&String> = parsed.weight_map.values().collect();
        let mut files = Vec::new();
        for name in names {
            let path = dir.join(name);
            if !path.is_file() {
                return Err(Error::Config {
                    path: index.clone(),
                    msg: format!("lists shard {name:?}, which does not exist in {}", dir.display()),
                });
            }
            files.push(path);
        }
        if files.is_empty() {
            return Err(Error::Config { path: index, msg: "weight_map is empty".into() });
        }
        return Ok(files);
    }
    let hint = if dir.join("pytorch_model.bin").exists() {
        " (found pytorch_model.bin: pickle checkpoints are not loaded, convert it with \
         `python -c \"import torch; from safetensors.torch import save_file; \
         save_file(torch.load('pytorch_model.bin', weights_only=True), 'model.safetensors')\"`)"
    } else {
        ""
    };
    Err(Error::Config {
        path: dir.to_path_buf(),
        msg: format!("no model.safetensors or model.safetensors.index.json{hint}"),
    })
}

/// Opens safetensors files (memory-mapped) as a [`VarBuilder`] that yields f32 tensors,
/// converting f16/bf16 on load.
pub fn var_builder(files: &[PathBuf]) -> Result<VarBuilder<'static>> {
    for f in files {
        check_safetensors_header(f)?;
    }
    // SAFETY: the files are memory-mapped read-only; like every mmap-based loader (candle,
    // safetensors, PyTorch) we rely on them not being truncated while the model is loaded.
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(files, DType::F32, &Device::Cpu) };
    vb.map_err(|e| Error::Config { path: files[0].clone(), msg: format!("cannot open safetensors: {e}") })
}

/// Checks that a file is a complete safetensors file (header parses, data covers every tensor),
/// so a truncated download gives a clear error instead of a crash.
pub fn check_safetensors_header(path: &Path) -> Result<()> {
    use std::io::Read;
    let bad = |msg: String| Error::Config { path: path.to_path_buf(), msg };
    let mut f = std::fs::File::open(path).map_err(crate::error::io_err(path))?;
    let file_len = f.metadata().map_err(crate::error::io_err(path))?.len();
    let mut len_buf = [0u8; 8];
    f.read_exact(&mut len_buf).map_err(|_| bad("not a safetensors file (shorter than 8 bytes)".into()))?;
    let header_len = u64::from_le_bytes(len_buf);
    if header_len > 100_000_000 || 8 + header_len > file_len {
        return Err(bad(format!("not a safetensors file or truncated (header length {header_len}, file length {file_len})")));
    }
    let mut header = vec![0u8; header_len as usize];
    f.read_exact(&mut header).map_err(|e| bad(format!("cannot read header: {e}")))?;
    let json: serde_json::Value =
        serde_json::from_slice(&header).map_err(|e| bad(format!("safetensors header is not JSON: {e}")))?;
    let obj = json.as_object().ok_or_else(|| bad("safetensors header is not a JSON object".into()))?;
    let mut data_end = 0u64;
    for (name, info) in obj {
        if name == "__metadata__" {
            continue;
        }
        let end = info
            .get("data_offsets")
            .and_then(|o| o.get(1))
            .and_then(|v| v.as_u64())
            .ok_or_else(|| bad(format!("tensor `{name}` has no data_offsets")))?;
        data_end = data_end.max(end);
    }
    if 8 + header_len + data_end > file_len {
        return Err(bad(format!(
            "truncated: tensors need {} bytes but the file has {file_len}",
            8 + header_len + data_end
        )));
    }
    Ok(())
}
