//! Adapter folder validation: `adapter_config.json` plus `adapter_model.safetensors` (or `.bin`),
//! with the safetensors header read and LoRA shapes checked against `r`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Config file name.
pub const CONFIG_FILE: &str = "adapter_config.json";
/// Preferred weights file name.
pub const SAFETENSORS_FILE: &str = "adapter_model.safetensors";
/// Legacy weights file name.
pub const BIN_FILE: &str = "adapter_model.bin";

/// Largest safetensors header we accept (the format's own limit is 100 MB).
const MAX_HEADER: u64 = 100 * 1024 * 1024;

/// Why an adapter folder was refused. Each message names the file and the field or tensor.
#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    /// The folder does not exist or is not a folder.
    #[error("adapter dir {0} does not exist or is not a directory")]
    NotADir(PathBuf),
    /// `adapter_config.json` is missing.
    #[error("{0} is missing: an adapter folder needs adapter_config.json")]
    ConfigMissing(PathBuf),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Error.
        source: std::io::Error,
    },
    /// The config is not valid JSON (or not an object).
    #[error("{path} is not a valid JSON object: {message}")]
    ConfigJson {
        /// File.
        path: PathBuf,
        /// Parser message.
        message: String,
    },
    /// A config field is missing or has the wrong type or value.
    #[error("{path}: field `{field}` {message}")]
    ConfigField {
        /// File.
        path: PathBuf,
        /// Field name.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Neither weights file exists.
    #[error("no adapter weights in {0}: expected adapter_model.safetensors or adapter_model.bin")]
    WeightsMissing(PathBuf),
    /// The weights file is empty.
    #[error("{0} is empty (0 bytes)")]
    WeightsEmpty(PathBuf),
    /// The safetensors header is unreadable.
    #[error("{path} is not a valid safetensors file: {message}")]
    Safetensors {
        /// File.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The data section is shorter than the header says.
    #[error("{path} is truncated: tensor `{tensor}` needs bytes up to {needed} of the data section, which has {have}")]
    Truncated {
        /// File.
        path: PathBuf,
        /// Tensor name.
        tensor: String,
        /// End offset needed.
        needed: u64,
        /// Data bytes present.
        have: u64,
    },
    /// A tensor's shape or byte length is inconsistent.
    #[error("{path}: tensor `{tensor}`: {message}")]
    Tensor {
        /// File.
        path: PathBuf,
        /// Tensor name.
        tensor: String,
        /// What is wrong.
        message: String,
    },
    /// No LoRA tensors at all.
    #[error("{0} holds no LoRA tensors (no `lora_A`/`lora_B` weights)")]
    NoLoraTensors(PathBuf),
}

/// Which weights file the adapter has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightsFormat {
    /// `adapter_model.safetensors`.
    Safetensors,
    /// `adapter_model.bin` (pickle; only checked for presence and size).
    Bin,
}

/// The fields of `adapter_config.json` that publishing uses.
#[derive(Debug, Clone)]
pub struct AdapterConfig {
    /// `base_model_name_or_path`, when set.
    pub base_model: Option<String>,
    /// `peft_type`, when set.
    pub peft_type: Option<String>,
    /// `task_type`, when set.
    pub task_type: Option<String>,
    /// LoRA rank `r`.
    pub r: u64,
    /// `lora_alpha`, when set.
    pub lora_alpha: Option<f64>,
    /// `lora_dropout`, when set.
    pub lora_dropout: Option<f64>,
    /// `target_modules` (a list, or one string such as "all-linear").
    pub target_modules: Vec<String>,
    /// `rank_pattern` overrides.
    pub rank_pattern: BTreeMap<String, u64>,
}

/// A validated adapter folder.
#[derive(Debug, Clone)]
pub struct AdapterInfo {
    /// The folder.
    pub dir: PathBuf,
    /// Parsed config.
    pub config: AdapterConfig,
    /// Weights file path.
    pub weights: PathBuf,
    /// Weights format.
    pub format: WeightsFormat,
    /// Number of LoRA A/B pairs (safetensors only).
    pub lora_pairs: usize,
    /// Total parameters in the weights file (safetensors only).
    pub parameters: u64,
}

/// Validates an adapter folder.
pub fn validate_adapter_dir(dir: &Path) -> Result<AdapterInfo, ValidationError> {
    if !dir.is_dir() {
        return Err(ValidationError::NotADir(dir.to_path_buf()));
    }
    let config_path = dir.join(CONFIG_FILE);
    if !config_path.is_file() {
        return Err(ValidationError::ConfigMissing(config_path));
    }
    let config = parse_config(&config_path)?;
    let st = dir.join(SAFETENSORS_FILE);
    let bin = dir.join(BIN_FILE);
    let (weights, format) = if st.is_file() {
        (st, WeightsFormat::Safetensors)
    } else if bin.is_file() {
        (bin, WeightsFormat::Bin)
    } else {
        return Err(ValidationError::WeightsMissing(dir.to_path_buf()));
    };
    let len = std::fs::metadata(&weights).map_err(|e| ValidationError::Io { path: weights.clone(), source: e })?.len();
    if len == 0 {
        return Err(ValidationError::WeightsEmpty(weights));
    }
    let (lora_pairs, parameters) = match format {
        WeightsFormat::Safetensors => {
            let tensors = read_safetensors_header(&weights)?;
            let pairs = check_lora_shapes(&weights, &tensors, &config)?;
            (pairs, tensors.values().map(|t| t.shape.iter().product::<u64>()).sum())
        }
        WeightsFormat::Bin => (0, 0),
    };
    Ok(AdapterInfo { dir: dir.to_path_buf(), config, weights, format, lora_pairs, parameters })
}

/// Parses and checks `adapter_config.json`.
pub fn parse_config(path: &Path) -> Result<AdapterConfig, ValidationError> {
    let text = std::fs::read_to_string(path).map_err(|e| ValidationError::Io { path: path.to_path_buf(), source: e })?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| ValidationError::ConfigJson { path: path.to_path_buf(), message: e.to_string() })?;
    let obj = v
        .as_object()
        .ok_or_else(|| ValidationError::ConfigJson { path: path.to_path_buf(), message: "top level is not an object".into() })?;
    let field = |field: &'static str, message: String| ValidationError::ConfigField { path: path.to_path_buf(), field, message };
    let opt_str = |k: &'static str| -> Result<Option<String>, ValidationError> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(other) => Err(field(k, format!("must be a string, got {other}"))),
        }
    };
    let peft_type = opt_str("peft_type")?;
    if let Some(p) = &peft_type {
        if !p.eq_ignore_ascii_case("LORA") {
            return Err(field("peft_type", format!("is {p:?}; only LoRA adapters (\"LORA\") are supported")));
        }
    }
    let r = match obj.get("r") {
        Some(Value::Number(n)) => n.as_u64().filter(|r| *r > 0).ok_or_else(|| field("r", format!("must be a positive integer, got {n}")))?,
        None => return Err(field("r", "is missing (the LoRA rank)".into())),
        Some(other) => return Err(field("r", format!("must be a positive integer, got {other}"))),
    };
    let num = |k: &'static str| -> Result<Option<f64>, ValidationError> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(other) => Err(field(k, format!("must be a number, got {other}"))),
        }
    };
    let lora_alpha = num("lora_alpha")?;
    let lora_dropout = num("lora_dropout")?;
    let target_modules = match obj.get("target_modules") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|m| m.as_str().map(str::to_string).ok_or_else(|| field("target_modules", format!("entries must be strings, got {m}"))))
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => return Err(field("target_modules", format!("must be a list of module names, got {other}"))),
    };
    let mut target_modules = target_modules;
    target_modules.sort();
    let mut rank_pattern = BTreeMap::new();
    match obj.get("rank_pattern") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let r = v.as_u64().filter(|r| *r > 0).ok_or_else(|| field("rank_pattern", format!("value for {k:?} must be a positive integer")))?;
                rank_pattern.insert(k.clone(), r);
            }
        }
        Some(other) => return Err(field("rank_pattern", format!("must be an object, got {other}"))),
    }
    Ok(AdapterConfig {
        base_model: opt_str("base_model_name_or_path")?,
        peft_type,
        task_type: opt_str("task_type")?,
        r,
        lora_alpha,
        lora_dropout,
        target_modules,
        rank_pattern,
    })
}

/// One tensor of a safetensors header.
#[derive(Debug, Clone)]
pub struct TensorEntry {
    /// dtype string (`F32`, `BF16`, ...).
    pub dtype: String,
    /// Shape.
    pub shape: Vec<u64>,
    /// Offsets in the data section.
    pub offsets: (u64, u64),
}

fn dtype_size(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "F64" | "I64" | "U64" => 8,
        "F32" | "I32" | "U32" => 4,
        "F16" | "BF16" | "I16" | "U16" => 2,
        "I8" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2" | "F8_E8M0" => 1,
        _ => return None,
    })
}

/// Reads the header of a safetensors file (without reading the data) and checks every tensor's
/// offsets against its dtype, shape and the file length.
pub fn read_safetensors_header(path: &Path) -> Result<BTreeMap<String, TensorEntry>, ValidationError> {
    let bad = |m: String| ValidationError::Safetensors { path: path.to_path_buf(), message: m };
    let mut f = std::fs::File::open(path).map_err(|e| ValidationError::Io { path: path.to_path_buf(), source: e })?;
    let file_len = f.metadata().map_err(|e| ValidationError::Io { path: path.to_path_buf(), source: e })?.len();
    if file_len < 8 {
        return Err(bad(format!("file is {file_len} bytes, shorter than the 8-byte header length")));
    }
    let mut len_buf = [0u8; 8];
    f.read_exact(&mut len_buf).map_err(|e| ValidationError::Io { path: path.to_path_buf(), source: e })?;
    let n = u64::from_le_bytes(len_buf);
    if n > MAX_HEADER {
        return Err(bad(format!("header length {n} is larger than the 100 MB limit")));
    }
    if n > file_len - 8 {
        return Err(bad(format!("header length {n} runs past the end of the file ({file_len} bytes): the file is truncated")));
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header).map_err(|e| ValidationError::Io { path: path.to_path_buf(), source: e })?;
    let v: Value = serde_json::from_slice(&header).map_err(|e| bad(format!("header is not JSON: {e}")))?;
    let obj = v.as_object().ok_or_else(|| bad("header is not a JSON object".into()))?;
    let data_len = file_len - 8 - n;
    let mut out = BTreeMap::new();
    for (name, t) in obj {
        if name == "__metadata__" {
            continue;
        }
        let tbad = |m: String| ValidationError::Tensor { path: path.to_path_buf(), tensor: name.clone(), message: m };
        let dtype = t.get("dtype").and_then(Value::as_str).ok_or_else(|| tbad("no `dtype`".into()))?.to_string();
        let shape = t
            .get("shape")
            .and_then(Value::as_array)
            .ok_or_else(|| tbad("no `shape`".into()))?
            .iter()
            .map(|d| d.as_u64().ok_or_else(|| tbad(format!("shape entry {d} is not a non-negative integer"))))
            .collect::<Result<Vec<u64>, _>>()?;
        let offs = t.get("data_offsets").and_then(Value::as_array).ok_or_else(|| tbad("no `data_offsets`".into()))?;
        let (b, e) = match offs.as_slice() {
            [b, e] => (
                b.as_u64().ok_or_else(|| tbad("bad data_offsets".into()))?,
                e.as_u64().ok_or_else(|| tbad("bad data_offsets".into()))?,
            ),
            _ => return Err(tbad("data_offsets must be [begin, end]".into())),
        };
        if b > e {
            return Err(tbad(format!("data_offsets [{b}, {e}] are reversed")));
        }
        if let Some(size) = dtype_size(&dtype) {
            let numel = shape.iter().try_fold(1u64, |a, d| a.checked_mul(*d)).ok_or_else(|| tbad("shape overflows".into()))?;
            let want = numel.checked_mul(size).ok_or_else(|| tbad("shape overflows".into()))?;
            if e - b != want {
                return Err(tbad(format!("{dtype} {shape:?} needs {want} bytes but data_offsets span {}", e - b)));
            }
        } else {
            return Err(tbad(format!("unknown dtype {dtype:?}")));
        }
        if e > data_len {
            return Err(ValidationError::Truncated { path: path.to_path_buf(), tensor: name.clone(), needed: e, have: data_len });
        }
        out.insert(name.clone(), TensorEntry { dtype, shape, offsets: (b, e) });
    }
    Ok(out)
}

/// Checks LoRA A/B tensors: 2-D, A is `[r, in]`, B is `[out, r]`, the ranks agree with each other
/// and with the config's `r` (or its `rank_pattern`). Returns the number of pairs.
pub fn check_lora_shapes(path: &Path, tensors: &BTreeMap<String, TensorEntry>, cfg: &AdapterConfig) -> Result<usize, ValidationError> {
    let tbad = |name: &str, m: String| ValidationError::Tensor { path: path.to_path_buf(), tensor: name.to_string(), message: m };
    // (module prefix, adapter suffix) -> (A name, B name)
    type Pair<'a> = (Option<&'a String>, Option<&'a String>);
    let mut pairs: BTreeMap<(String, String), Pair<'_>> = BTreeMap::new();
    for name in tensors.keys() {
        for (marker, is_a) in [(".lora_A", true), (".lora_B", false), (".lora_embedding_A", true), (".lora_embedding_B", false)] {
            if let Some(idx) = name.find(marker) {
                let module = name[..idx].to_string();
                let rest = name[idx + marker.len()..].to_string();
                let entry = pairs.entry((module, format!("{}{rest}", &marker[..marker.len() - 2]))).or_default();
                if is_a {
                    entry.0 = Some(name);
                } else {
                    entry.1 = Some(name);
                }
                break;
            }
        }
    }
    if pairs.is_empty() {
        return Err(ValidationError::NoLoraTensors(path.to_path_buf()));
    }
    for ((module, _), (a, b)) in &pairs {
        let (a, b) = match (a, b) {
            (Some(a), Some(b)) => (*a, *b),
            (Some(a), None) => return Err(tbad(a, "has no matching lora_B tensor".into())),
            (None, Some(b)) => return Err(tbad(b, "has no matching lora_A tensor".into())),
            (None, None) => continue,
        };
        let ta = &tensors[a];
        let tb = &tensors[b];
        let embedding = a.contains(".lora_embedding_A");
        for (n, t) in [(a, ta), (b, tb)] {
            if t.shape.len() != 2 || t.shape.contains(&0) {
                return Err(tbad(n, format!("expected a non-empty 2-D tensor, got shape {:?}", t.shape)));
            }
        }
        // Linear: A [r, in], B [out, r]. Embedding: A [r, vocab], B [dim, r].
        let rank_a = ta.shape[0];
        let rank_b = tb.shape[1];
        if rank_a != rank_b {
            return Err(tbad(b, format!("rank {rank_b} (shape {:?}) disagrees with {a} rank {rank_a} (shape {:?})", tb.shape, ta.shape)));
        }
        let expected = expected_rank(module, cfg);
        if rank_a != expected && !(cfg.rank_pattern.values().any(|r| *r == rank_a) && expected == cfg.r) {
            let which = if embedding { "embedding " } else { "" };
            return Err(tbad(a, format!("{which}LoRA rank {rank_a} (shape {:?}) does not match r = {expected} in adapter_config.json", ta.shape)));
        }
    }
    Ok(pairs.len())
}

/// `rank_pattern` key matching the module path as a dotted suffix, else `r`.
fn expected_rank(module: &str, cfg: &AdapterConfig) -> u64 {
    cfg.rank_pattern
        .iter()
        .find(|(k, _)| module == k.as_str() || module.ends_with(&format!(".{k}")))
        .map(|(_, r)| *r)
        .unwrap_or(cfg.r)
}
