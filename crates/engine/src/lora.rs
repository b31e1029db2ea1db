//! PEFT LoRA adapters, applied unmerged.
//!
//! An adapter is read from a PEFT directory (`adapter_config.json` + `adapter_model.safetensors`)
//! and kept apart from the base weights, so any number of adapters can be registered and one
//! forward pass can give each batch row its own adapter (or none): each targeted linear layer
//! computes `x·Wᵀ + scale·(x·Aᵀ)·Bᵀ` for the rows routed to an adapter (see [`Routing`]).
//!
//! Target selection follows PEFT exactly: `target_modules` as a list (exact module name or
//! `.`-suffix match), as a regex string (full match), or `"all-linear"`; `layers_to_transform`
//! with `layers_pattern`; `exclude_modules`; `rank_pattern` / `alpha_pattern` keys matched with
//! `(.*\.)?(key)$` in insertion order; `use_rslora` scales by `alpha/√r` instead of `alpha/r`.

use crate::config::Config;
use crate::error::{io_err, Error, Result};
use candle_core::{DType, Device, Tensor};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A linear projection inside a decoder layer that an adapter can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proj {
    /// `self_attn.q_proj`
    Q,
    /// `self_attn.k_proj`
    K,
    /// `self_attn.v_proj`
    V,
    /// `self_attn.o_proj`
    O,
    /// `mlp.gate_proj`
    Gate,
    /// `mlp.up_proj`
    Up,
    /// `mlp.down_proj`
    Down,
}

impl Proj {
    /// Every projection, in module order.
    pub const ALL: [Proj; 7] = [Proj::Q, Proj::K, Proj::V, Proj::O, Proj::Gate, Proj::Up, Proj::Down];

    /// The module's own name, e.g. `q_proj`.
    pub fn name(self) -> &'static str {
        match self {
            Proj::Q => "q_proj",
            Proj::K => "k_proj",
            Proj::V => "v_proj",
            Proj::O => "o_proj",
            Proj::Gate => "gate_proj",
            Proj::Up => "up_proj",
            Proj::Down => "down_proj",
        }
    }

    /// The parent module, `self_attn` or `mlp`.
    pub fn parent(self) -> &'static str {
        match self {
            Proj::Q | Proj::K | Proj::V | Proj::O => "self_attn",
            _ => "mlp",
        }
    }

    /// The full module path in a `*ForCausalLM` model, e.g. `model.layers.3.self_attn.q_proj`.
    pub fn module_path(self, layer: usize) -> String {
        format!("model.layers.{layer}.{}.{}", self.parent(), self.name())
    }

    /// (in_features, out_features) of this projection for a model.
    pub fn dims(self, cfg: &Config) -> (usize, usize) {
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        let (q, kv) = (cfg.num_heads * cfg.head_dim, cfg.num_kv_heads * cfg.head_dim);
        match self {
            Proj::Q => (h, q),
            Proj::K | Proj::V => (h, kv),
            Proj::O => (q, h),
            Proj::Gate | Proj::Up => (h, i),
            Proj::Down => (i, h),
        }
    }
}

/// Identifies one adaptable linear layer: (layer index, projection).
pub type LinearId = (usize, Proj);

/// `target_modules` / `exclude_modules`: a list of names or one regex.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum ModuleSelector {
    /// Names matched exactly or as a `.`-suffix; `["all-linear"]` is not special, the string is.
    List(Vec<String>),
    /// A regex matched against the full module path (or `"all-linear"`).
    Regex(String),
}

/// `layers_to_transform`: one index or several.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum LayerIndices {
    /// A single layer.
    One(usize),
    /// Several layers.
    Many(Vec<usize>),
}

/// `layers_pattern`: one name or several.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Patterns {
    /// A single pattern.
    One(String),
    /// Several patterns.
    Many(Vec<String>),
}

/// `adapter_config.json` as PEFT writes it for LoRA (fields named like its keys).
#[derive(Debug, Clone, Deserialize)]
pub struct AdapterConfig {
    /// Must be `LORA` when present.
    pub peft_type: Option<String>,
    /// The base model the adapter was trained on.
    pub base_model_name_or_path: Option<String>,
    /// Default rank.
    pub r: usize,
    /// Default alpha.
    pub lora_alpha: f64,
    /// Scale by `alpha/√r`.
    #[serde(default)]
    pub use_rslora: bool,
    /// Which modules get LoRA.
    pub target_modules: Option<ModuleSelector>,
    /// Modules excluded from `target_modules`.
    pub exclude_modules: Option<ModuleSelector>,
    /// Per-module rank overrides (insertion order matters).
    #[serde(default)]
    pub rank_pattern: serde_json::Map<String, serde_json::Value>,
    /// Per-module alpha overrides (insertion order matters).
    #[serde(default)]
    pub alpha_pattern: serde_json::Map<String, serde_json::Value>,
    /// Only relevant for GPT-2 style Conv1D bases; PEFT ignores it for `nn.Linear` in the
    /// forward pass, and so do we.
    #[serde(default)]
    pub fan_in_fan_out: bool,
    /// Restrict to these layer indices.
    pub layers_to_transform: Option<LayerIndices>,
    /// The module list name(s) holding the layers (e.g. `layers`).
    pub layers_pattern: Option<Patterns>,
    /// Extra fully trained modules: not supported.
    pub modules_to_save: Option<Vec<String>>,
    /// DoRA: not supported.
    #[serde(default)]
    pub use_dora: bool,
    /// `none` (other values train biases: not supported).
    pub bias: Option<String>,
}

impl AdapterConfig {
    /// The layer indices of `layers_to_transform`, or `None` for every layer.
    pub fn layer_filter(&self) -> Option<Vec<usize>> {
        match &self.layers_to_transform {
            Some(LayerIndices::One(i)) => Some(vec![*i]),
            Some(LayerIndices::Many(v)) if !v.is_empty() => Some(v.clone()),
            _ => None,
        }
    }
}

/// The LoRA weights of one linear layer, stored pre-transposed for `x·Aᵀ·Bᵀ`.
#[derive(Debug, Clone)]
pub struct LoraWeights {
    /// Aᵀ, shape `[in_features, r]`.
    pub a_t: Tensor,
    /// Bᵀ·scale, shape `[r, out_features]`.
    pub b_t: Tensor,
    /// `alpha / r` (or `alpha / √r` with rsLoRA).
    pub scale: f64,
}

/// A loaded LoRA adapter: its configuration and the weights of every targeted layer.
#[derive(Debug)]
pub struct LoraAdapter {
    /// The name requests use (`adapter_id`).
    pub name: String,
    /// Where it was loaded from.
    pub path: PathBuf,
    /// Its `adapter_config.json`.
    pub config: AdapterConfig,
    weights: HashMap<LinearId, LoraWeights>,
    /// Training only: dropout probability on the LoRA branch's input (PEFT's `lora_dropout`).
    dropout: f32,
}

impl LoraAdapter {
    /// Loads a PEFT adapter directory for a model with configuration `cfg`.
    pub fn load(dir: &Path, name: &str, cfg: &Config) -> Result<Self> {
        let err = |msg: String| Error::Adapter { path: dir.to_path_buf(), msg };
        let config_path = dir.join("adapter_config.json");
        if !config_path.is_file() {
            return Err(err("missing adapter_config.json (is this a PEFT adapter directory?)".into()));
        }
        let config: AdapterConfig = crate::error::read_json(&config_path)?;
        let weights_path = dir.join("adapter_model.safetensors");
        if !weights_path.is_file() {
            if dir.join("adapter_model.bin").is_file() {
                return Err(err(
                    "only adapter_model.bin (a pickle) is present; pickles can run code and are not \
                     loaded. Convert it once with: python -c \"import torch; from safetensors.torch \
                     import save_file; save_file(torch.load('adapter_model.bin', weights_only=True), \
                     'adapter_model.safetensors')\""
                        .into(),
                ));
            }
            return Err(err("missing adapter_model.safetensors".into()));
        }
        crate::weights::check_safetensors_header(&weights_path)?;
        let data = std::fs::read(&weights_path).map_err(io_err(&weights_path))?;
        let tensors = candle_core::safetensors::load_buffer(&data, &Device::Cpu).map_err(|e| Error::Adapter {
            path: weights_path.clone(),
            msg: format!("cannot read safetensors: {e}"),
        })?;
        Self::from_tensors(name, dir, &weights_path, config, tensors, cfg)
    }

    /// Builds an adapter from PEFT-named tensors (`base_model.model.<module>.lora_A.weight`, …).
    pub fn from_tensors(
        name: &str,
        dir: &Path,
        weights_path: &Path,
        config: AdapterConfig,
        tensors: HashMap<String, Tensor>,
        cfg: &Config,
    ) -> Result<Self> {
        let err = |msg: String| Error::Adapter { path: dir.to_path_buf(), msg };
        check_supported(&config).map_err(err)?;
        let plan = TargetPlan::resolve(&config, cfg).map_err(err)?;

        // Normalise tensor names: drop `base_model.model.` and any adapter-name segment.
        let mut by_module: HashMap<String, (Option<Tensor>, Option<Tensor>)> = HashMap::new();
        for (key, t) in tensors {
            let k = key.strip_prefix("base_model.model.").unwrap_or(&key);
            let (module, which) = if let Some(i) = k.find(".lora_A.") {
                (&k[..i], 0)
            } else if let Some(i) = k.find(".lora_B.") {
                (&k[..i], 1)
            } else if k.contains("lora_embedding_") || k.contains("lora_magnitude_vector") {
                return Err(Error::Weight {
                    path: weights_path.to_path_buf(),
                    name: key.clone(),
                    msg: "LoRA on embeddings and DoRA magnitudes are not supported".into(),
                });
            } else {
                continue;
            };
            let entry = by_module.entry(module.to_string()).or_default();
            if which == 0 {
                entry.0 = Some(t);
            } else {
                entry.1 = Some(t);
            }
        }

        let mut weights = HashMap::new();
        let base = config.base_model_name_or_path.clone().unwrap_or_else(|| "<unknown>".into());
        for target in &plan.targets {
            let (proj, layer) = (target.proj, target.layer);
            let module = proj.module_path(layer);
            let (in_f, out_f) = proj.dims(cfg);
            let (a, b) = by_module.remove(&module).unwrap_or((None, None));
            let missing = |suffix: &str| Error::Weight {
                path: weights_path.to_path_buf(),
                name: format!("base_model.model.{module}.{suffix}.weight"),
                msg: "missing (adapter_config.json targets this module)".into(),
            };
            let a = a.ok_or_else(|| missing("lora_A"))?;
            let b = b.ok_or_else(|| missing("lora_B"))?;
            let check = |t: &Tensor, suffix: &str, expected: [usize; 2]| -> Result<()> {
                if t.dims() != expected {
                    return Err(Error::Weight {
                        path: weights_path.to_path_buf(),
                        name: format!("base_model.model.{module}.{suffix}.weight"),
                        msg: format!(
                            "expected shape {expected:?} (r={}, {} {in_f}→{out_f}), got {:?}; \
                             was the adapter trained for another base model? (its base: {base})",
                            target.r,
                            proj.name(),
                            t.dims()
                        ),
                    });
                }
                Ok(())
            };
            check(&a, "lora_A", [target.r, in_f])?;
            check(&b, "lora_B", [out_f, target.r])?;
            let a_t = a.to_dtype(DType::F32)?.t()?.contiguous()?;
            // The scale is folded into Bᵀ once here: one tensor op less per layer and row group.
            let b_t = (b.to_dtype(DType::F32)?.t()? * target.scale)?.contiguous()?;
            weights.insert((layer, proj), LoraWeights { a_t, b_t, scale: target.scale });
        }
        if let Some(extra) = by_module.keys().min() {
            return Err(Error::Weight {
                path: weights_path.to_path_buf(),
                name: format!("base_model.model.{extra}.lora_A.weight"),
                msg: "the weights hold LoRA tensors for a module that adapter_config.json does not \
                      target (config and weights disagree)"
                    .into(),
            });
        }
        Ok(LoraAdapter { name: name.to_string(), path: dir.to_path_buf(), config, weights, dropout: 0.0 })
    }

    /// Training only: applies dropout with probability `p` to the LoRA branch's input
    /// (`B·A·dropout(x)`, as PEFT's `lora_dropout`); inference never sets it.
    pub fn with_dropout(mut self, p: f32) -> Self {
        self.dropout = p;
        self
    }

    /// The weights for one linear layer, if the adapter targets it.
    pub fn get(&self, id: LinearId) -> Option<&LoraWeights> {
        self.weights.get(&id)
    }

    /// Every targeted layer, sorted.
    pub fn targets(&self) -> Vec<LinearId> {
        let mut ids: Vec<LinearId> = self.weights.keys().copied().collect();
        ids.sort();
        ids
    }
}

fn check_supported(config: &AdapterConfig) -> std::result::Result<(), String> {
    if let Some(t) = &config.peft_type {
        if !t.eq_ignore_ascii_case("LORA") {
            return Err(format!("peft_type {t:?} is not supported (only LORA)"));
        }
    }
    if config.use_dora {
        return Err("use_dora is true: DoRA adapters are not supported (only plain LoRA)".into());
    }
    if let Some(m) = config.modules_to_save.as_ref().filter(|m| !m.is_empty()) {
        return Err(format!(
            "modules_to_save {m:?} is not supported: the adapter carries fully trained copies of \
             those modules; retrain without modules_to_save"
        ));
    }
    if let Some(b) = config.bias.as_deref().filter(|b| *b != "none") {
        return Err(format!("bias {b:?} is not supported (only \"none\")"));
    }
    if config.r == 0 {
        return Err("r must be > 0".into());
    }
    Ok(())
}

struct Target {
    layer: usize,
    proj: Proj,
    r: usize,
    scale: f64,
}

struct TargetPlan {
    targets: Vec<Target>,
}

impl TargetPlan {
    fn resolve(config: &AdapterConfig, cfg: &Config) -> std::result::Result<Self, String> {
        let selector = config
            .target_modules
            .clone()
            .ok_or("adapter_config.json has no target_modules")?;
        let selector = match selector {
            ModuleSelector::Regex(s) if s == "all-linear" => {
                ModuleSelector::List(Proj::ALL.iter().map(|p| p.name().to_string()).collect())
            }
            ModuleSelector::List(l) if l.len() == 1 && l[0] == "all-linear" => {
                ModuleSelector::List(Proj::ALL.iter().map(|p| p.name().to_string()).collect())
            }
            s => s,
        };
        let regex_of = |s: &str| {
            regex::Regex::new(&format!("^(?:{s})$")).map_err(|e| format!("invalid regex {s:?}: {e}"))
        };
        let target_regex = match &selector {
            ModuleSelector::Regex(s) => Some(regex_of(s)?),
            _ => None,
        };
        let exclude_regex = match &config.exclude_modules {
            Some(ModuleSelector::Regex(s)) => Some(regex_of(s)?),
            _ => None,
        };
        let layer_patterns: Vec<String> = match &config.layers_pattern {
            Some(Patterns::One(p)) => vec![p.clone()],
            Some(Patterns::Many(p)) => p.clone(),
            None => vec![],
        };
        let layer_filter = config.layer_filter();
        let rank_keys = compile_patterns(&config.rank_pattern)?;
        let alpha_keys = compile_patterns(&config.alpha_pattern)?;

        let mut targets = Vec::new();
        let mut used_names: BTreeSet<String> = BTreeSet::new();
        for layer in 0..cfg.num_layers {
            for proj in Proj::ALL {
                let key = proj.module_path(layer);
                let found = match (&selector, &target_regex) {
                    (_, Some(re)) => re.is_match(&key),
                    (ModuleSelector::List(names), None) => {
                        match names.iter().find(|n| key == **n || key.ends_with(&format!(".{n}"))) {
                            Some(n) => {
                                used_names.insert(n.clone());
                                key == *n || layer_ok(&key, layer_filter.as_deref(), &layer_patterns)
                            }
                            None => false,
                        }
                    }
                    _ => false,
                };
                if !found {
                    continue;
                }
                let excluded = match (&config.exclude_modules, &exclude_regex) {
                    (_, Some(re)) => re.is_match(&key),
                    (Some(ModuleSelector::List(names)), None) => {
                        names.iter().any(|n| key == *n || key.ends_with(&format!(".{n}")))
                    }
                    _ => false,
                };
                if excluded {
                    continue;
                }
                let r = match pattern_value(&rank_keys, &key) {
                    Some(v) => v.as_u64().filter(|r| *r > 0).ok_or_else(|| {
                        format!("rank_pattern value for {key} must be a positive integer, got {v}")
                    })? as usize,
                    None => config.r,
                };
                let alpha = match pattern_value(&alpha_keys, &key) {
                    Some(v) => v.as_f64().ok_or_else(|| format!("alpha_pattern value for {key} must be a number, got {v}"))?,
                    None => config.lora_alpha,
                };
                let scale = if config.use_rslora { alpha / (r as f64).sqrt() } else { alpha / r as f64 };
                targets.push(Target { layer, proj, r, scale });
            }
        }
        if let ModuleSelector::List(names) = &selector {
            for n in names {
                if used_names.contains(n) {
                    continue;
                }
                let known_other = ["embed_tokens", "lm_head", "model.embed_tokens"];
                if known_other.contains(&n.as_str()) {
                    return Err(format!(
                        "target module {n:?} is not supported: LoRA is applied to the attention and \
                         MLP projections only ({})",
                        Proj::ALL.map(Proj::name).join(", ")
                    ));
                }
                return Err(format!(
                    "target module {n:?} does not exist in this {:?} base model (its linear modules: {}); \
                     was the adapter trained for another architecture?",
                    cfg.arch,
                    Proj::ALL.map(Proj::name).join(", ")
                ));
            }
        }
        if targets.is_empty() {
            return Err("target_modules (with layers_to_transform/exclude_modules) selects no module of \
                        this model"
                .into());
        }
        Ok(TargetPlan { targets })
    }
}

fn layer_ok(key: &str, filter: Option<&[usize]>, patterns: &[String]) -> bool {
    let Some(filter) = filter else { return true };
    let index = if patterns.is_empty() {
        regex::Regex::new(r"^.*\.[^.]*\.(\d+)\.").ok().and_then(|re| re.captures(key).map(|c| c[1].to_string()))
    } else {
        patterns.iter().find_map(|p| {
            regex::Regex::new(&format!(r"^.*\.{p}\.(\d+)\.")).ok().and_then(|re| re.captures(key).map(|c| c[1].to_string()))
        })
    };
    match index.and_then(|i| i.parse::<usize>().ok()) {
        Some(i) => filter.contains(&i),
        None => false,
    }
}

fn compile_patterns(
    map: &serde_json::Map<String, serde_json::Value>,
) -> std::result::Result<Vec<(regex::Regex, serde_json::Value)>, String> {
    map.iter()
        .map(|(k, v)| {
            regex::Regex::new(&format!(r"^(?:.*\.)?(?:{k})$"))
                .map(|re| (re, v.clone()))
                .map_err(|e| format!("invalid pattern key {k:?}: {e}"))
        })
        .collect()
}

fn pattern_value<'a>(keys: &'a [(regex::Regex, serde_json::Value)], key: &str) -> Option<&'a serde_json::Value> {
    keys.iter().find(|(re, _)| re.is_match(key)).map(|(_, v)| v)
}

/// Which batch rows (flattened token positions) use which adapter in one forward pass.
///
/// Built once per forward from the per-sequence adapters; rows without an adapter are simply
/// absent. Each group holds the row indices as a u32 tensor for `index_select` / `index_add`.
#[derive(Default)]
pub struct Routing {
    groups: Vec<(Arc<LoraAdapter>, Tensor, bool)>,
}

impl Routing {
    /// Groups rows by adapter: `rows[i]` is the adapter of flattened position `i`.
    pub fn new(rows: &[Option<&Arc<LoraAdapter>>]) -> Result<Self> {
        let mut order: Vec<(Arc<LoraAdapter>, Vec<u32>)> = Vec::new();
        for (i, a) in rows.iter().enumerate() {
            if let Some(a) = a {
                match order.iter_mut().find(|(b, _)| Arc::ptr_eq(a, b)) {
                    Some((_, idx)) => idx.push(i as u32),
                    None => order.push(((*a).clone(), vec![i as u32])),
                }
            }
        }
        let n = rows.len();
        let groups = order
            .into_iter()
            .map(|(a, idx)| {
                let all = idx.len() == n;
                let len = idx.len();
                Tensor::from_vec(idx, len, &Device::Cpu).map(|t| (a, t, all))
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Routing { groups })
    }

    /// Adds the LoRA contribution `(x·Aᵀ)·(Bᵀ·scale)` of layer `id` to `y = x·Wᵀ` for every
    /// routed row.
    pub fn apply(&self, id: LinearId, x: &Tensor, mut y: Tensor) -> candle_core::Result<Tensor> {
        for (adapter, rows, all) in &self.groups {
            let Some(w) = adapter.get(id) else { continue };
            let dropped;
            let x = if adapter.dropout > 0.0 {
                dropped = candle_nn::ops::dropout(x, adapter.dropout)?;
                &dropped
            } else {
                x
            };
            if *all {
                y = (y + x.matmul(&w.a_t)?.matmul(&w.b_t)?)?;
            } else {
                let xs = x.index_select(rows, 0)?;
                let delta = xs.matmul(&w.a_t)?.matmul(&w.b_t)?;
                y = y.index_add(rows, &delta, 0)?;
            }
        }
        Ok(y)
    }
}
