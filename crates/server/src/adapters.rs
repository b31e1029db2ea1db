//! LoRA adapters of the server: `LORA_ADAPTERS` parsing (TGI's comma form and the seed's JSON
//! form), the registry that resolves a request's `adapter_id`, and dynamic loading (opt-in,
//! LoRAX-style) with single-flight loads and LRU eviction.

use crate::error::{invalid, InferError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use text2sql_engine::{Engine, LoraAdapter};

/// One entry of `LORA_ADAPTERS`: the name requests use, and where the weights are.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct AdapterSpec {
    /// The `adapter_id` requests use.
    pub id: String,
    /// A local directory or a Hub repo id.
    pub source: String,
    /// Hub revision (branch, tag or commit).
    #[serde(default)]
    pub revision: Option<String>,
}

/// Why `LORA_ADAPTERS` did not parse.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("Invalid LoRA adapter format: {0}")]
pub struct AdapterSpecError(String);

/// A parsed `LORA_ADAPTERS` value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdapterSpecs(pub Vec<AdapterSpec>);

impl FromStr for AdapterSpecs {
    type Err = AdapterSpecError;

    /// `[{"id": "...", "source": "..."}]` (the seed's JSON) or `a/b,c/d@rev,name=/path`
    /// (TGI's comma form: `^([^=@]+)(?:=([^@]+))?(?:@(.+))?$` per entry).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(Self::default());
        }
        let specs: Vec<AdapterSpec> = if s.starts_with('[') {
            serde_json::from_str(s).map_err(|e| AdapterSpecError(format!("{s}: {e}")))?
        } else {
            s.split(',').map(str::trim).filter(|e| !e.is_empty()).map(parse_entry).collect::<Result<_, _>>()?
        };
        let mut seen = std::collections::HashSet::new();
        for spec in &specs {
            if spec.id.is_empty() || spec.source.is_empty() {
                return Err(AdapterSpecError(format!("empty id or source in {spec:?}")));
            }
            if !seen.insert(spec.id.clone()) {
                return Err(AdapterSpecError(format!("adapter id {:?} is given twice", spec.id)));
            }
        }
        Ok(Self(specs))
    }
}

fn parse_entry(entry: &str) -> Result<AdapterSpec, AdapterSpecError> {
    let bad = || AdapterSpecError(entry.to_string());
    if entry.matches('=').count() > 1 || entry.matches('@').count() > 1 {
        return Err(bad());
    }
    let (rest, revision) = match entry.split_once('@') {
        Some((r, rev)) if !rev.is_empty() => (r, Some(rev.to_string())),
        Some(_) => return Err(bad()),
        None => (entry, None),
    };
    let (id, source) = match rest.split_once('=') {
        Some((id, path)) if !id.is_empty() && !path.is_empty() => (id.to_string(), path.to_string()),
        Some(_) => return Err(bad()),
        None => (rest.to_string(), rest.to_string()),
    };
    if id.is_empty() {
        return Err(bad());
    }
    Ok(AdapterSpec { id, source, revision })
}

/// Turns an adapter source (local directory or Hub repo id) into a local directory.
pub trait AdapterFetcher: Send + Sync {
    /// Downloads (or finds in the cache) a Hub repo and returns its local snapshot directory.
    fn fetch(&self, repo_id: &str, revision: Option<&str>) -> Result<PathBuf, String>;
}

/// Whether a source names a local path rather than a Hub repo id.
pub fn is_local_source(source: &str) -> bool {
    source.starts_with('/') || source.starts_with("./") || source.starts_with("../") || source.starts_with('~')
        || Path::new(source).is_dir()
}

/// Dynamic loading settings (`--dynamic-adapters`).
#[derive(Debug, Clone)]
pub struct DynamicConfig {
    /// Local adapter paths must be inside this directory.
    pub allowed_root: Option<PathBuf>,
    /// Allow Hub repo ids.
    pub allow_hub: bool,
    /// Keep at most this many dynamically loaded adapters (least recently used evicted).
    pub max_loaded: usize,
}

/// One adapter being loaded: whoever asks first loads it, the others wait for the same result.
type Loading = Arc<tokio::sync::OnceCell<Result<Arc<LoraAdapter>, String>>>;

struct DynamicState {
    loaded: Vec<(String, Arc<LoraAdapter>)>,
    loading: HashMap<String, Loading>,
}

/// Resolves `adapter_id`s: the adapters from `LORA_ADAPTERS`, plus dynamically loaded ones.
#[derive(Clone)]
pub struct AdapterRegistry {
    engine: Arc<Engine>,
    fixed: Arc<Vec<(String, Arc<LoraAdapter>)>>,
    dynamic: Option<(DynamicConfig, Arc<Mutex<DynamicState>>)>,
    fetcher: Option<Arc<dyn AdapterFetcher>>,
    dynamic_loads: Arc<std::sync::atomic::AtomicUsize>,
}

impl AdapterRegistry {
    /// Loads every adapter of `specs` (start-up: any failure is fatal and names the adapter).
    pub fn load(
        engine: Arc<Engine>,
        specs: &AdapterSpecs,
        fetcher: Option<Arc<dyn AdapterFetcher>>,
        dynamic: Option<DynamicConfig>,
    ) -> Result<Self, String> {
        let mut fixed = Vec::new();
        for spec in &specs.0 {
            let dir = resolve_source(&spec.source, spec.revision.as_deref(), fetcher.as_deref())
                .map_err(|e| format!("adapter {:?}: {e}", spec.id))?;
            let adapter = engine.load_adapter(&dir, &spec.id).map_err(|e| format!("adapter {:?}: {e}", spec.id))?;
            fixed.push((spec.id.clone(), adapter));
        }
        let dynamic = dynamic.map(|c| (c, Arc::new(Mutex::new(DynamicState { loaded: Vec::new(), loading: HashMap::new() }))));
        Ok(Self { engine, fixed: Arc::new(fixed), dynamic, fetcher, dynamic_loads: Arc::default() })
    }

    /// Names of the adapters loaded now (fixed first).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.fixed.iter().map(|(n, _)| n.clone()).collect();
        if let Some((_, state)) = &self.dynamic {
            if let Ok(s) = state.lock() {
                names.extend(s.loaded.iter().map(|(n, _)| n.clone()));
            }
        }
        names
    }

    /// How many dynamic adapter loads have run (each id loads once, however many requests wait).
    pub fn dynamic_loads(&self) -> usize {
        self.dynamic_loads.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Resolves an `adapter_id` ("" = base). Unknown ids are a validation error unless
    /// `lenient` (TGI's silent fallback to the base model) or dynamic loading can load them.
    pub async fn resolve(&self, id: &str, lenient: bool) -> Result<(Option<Arc<LoraAdapter>>, String), InferError> {
        if id.is_empty() {
            return Ok((None, String::new()));
        }
        if let Some((_, a)) = self.fixed.iter().find(|(n, _)| n == id) {
            return Ok((Some(a.clone()), id.to_string()));
        }
        if let Some((cfg, state)) = &self.dynamic {
            return self.resolve_dynamic(id, cfg, state).await.map(|a| (Some(a), id.to_string()));
        }
        if lenient {
            tracing::warn!(adapter_id = id, "unknown adapter_id: using the base model (lenient mode)");
            return Ok((None, String::new()));
        }
        let loaded = self.names();
        let list = if loaded.is_empty() { "none".to_string() } else { loaded.join(", ") };
        Err(invalid(format!("adapter `{id}` is not loaded (loaded: {list})")))
    }

    async fn resolve_dynamic(
        &self,
        id: &str,
        cfg: &DynamicConfig,
        state: &Arc<Mutex<DynamicState>>,
    ) -> Result<Arc<LoraAdapter>, InferError> {
        let cell = {
            let mut s = state.lock().map_err(|_| InferError::Generation("adapter registry poisoned".into()))?;
            if let Some(pos) = s.loaded.iter().position(|(n, _)| n == id) {
                let entry = s.loaded.remove(pos);
                let adapter = entry.1.clone();
                s.loaded.push(entry); // most recently used last
                return Ok(adapter);
            }
            s.loading.entry(id.to_string()).or_insert_with(|| Arc::new(tokio::sync::OnceCell::new())).clone()
        };
        let (id_owned, cfg2, engine, fetcher) = (id.to_string(), cfg.clone(), self.engine.clone(), self.fetcher.clone());
        let loads = self.dynamic_loads.clone();
        let result = cell
            .get_or_init(|| async move {
                tokio::task::spawn_blocking(move || {
                    loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let dir = dynamic_dir(&id_owned, &cfg2, fetcher.as_deref())?;
                    engine.load_adapter(&dir, &id_owned).map_err(|e| e.to_string())
                })
                .await
                .unwrap_or_else(|e| Err(format!("adapter loading task failed: {e}")))
            })
            .await
            .clone();
        let mut s = state.lock().map_err(|_| InferError::Generation("adapter registry poisoned".into()))?;
        s.loading.remove(id);
        match result {
            Ok(adapter) => {
                if !s.loaded.iter().any(|(n, _)| n == id) {
                    s.loaded.push((id.to_string(), adapter.clone()));
                    while s.loaded.len() > cfg.max_loaded.max(1) {
                        let (evicted, _) = s.loaded.remove(0);
                        tracing::info!(adapter_id = evicted, "evicted least recently used adapter");
                    }
                }
                Ok(adapter)
            }
            Err(e) => Err(invalid(format!("adapter `{id}` could not be loaded: {e}"))),
        }
    }
}

fn resolve_source(source: &str, revision: Option<&str>, fetcher: Option<&dyn AdapterFetcher>) -> Result<PathBuf, String> {
    if is_local_source(source) {
        let path = PathBuf::from(source);
        if !path.is_dir() {
            return Err(format!("{source} is not a directory"));
        }
        return Ok(path);
    }
    match fetcher {
        Some(f) => f.fetch(source, revision),
        None => Err(format!("{source} is neither a local directory nor fetchable (no Hub client configured)")),
    }
}

fn dynamic_dir(id: &str, cfg: &DynamicConfig, fetcher: Option<&dyn AdapterFetcher>) -> Result<PathBuf, String> {
    if is_local_source(id) || id.contains("..") {
        let root = cfg.allowed_root.as_ref().ok_or("local adapter paths are not allowed (no --adapter-root)")?;
        let root = root.canonicalize().map_err(|e| format!("{}: {e}", root.display()))?;
        let candidate = if Path::new(id).is_absolute() { PathBuf::from(id) } else { root.join(id) };
        let path = candidate.canonicalize().map_err(|_| format!("{id} does not exist"))?;
        if !path.starts_with(&root) {
            return Err(format!("{id} is outside the allowed adapter root"));
        }
        return Ok(path);
    }
    if let Some(root) = &cfg.allowed_root {
        let candidate = root.join(id);
        if candidate.is_dir() {
            let path = candidate.canonicalize().map_err(|e| e.to_string())?;
            let root = root.canonicalize().map_err(|e| e.to_string())?;
            if path.starts_with(&root) {
                return Ok(path);
            }
        }
    }
    if !cfg.allow_hub {
        return Err("Hub adapters are not allowed".into());
    }
    let (repo, rev) = match id.split_once('@') {
        Some((r, v)) => (r, Some(v)),
        None => (id, None),
    };
    match fetcher {
        Some(f) => f.fetch(repo, rev),
        None => Err("no Hub client configured".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(id: &str, source: &str, rev: Option<&str>) -> AdapterSpec {
        AdapterSpec { id: id.into(), source: source.into(), revision: rev.map(String::from) }
    }

    #[test]
    fn parses_tgi_comma_form() {
        let s: AdapterSpecs = "org/a, org/b@v2,mine=/data/x".parse().unwrap();
        assert_eq!(s.0, vec![spec("org/a", "org/a", None), spec("org/b", "org/b", Some("v2")), spec("mine", "/data/x", None)]);
    }

    #[test]
    fn parses_seed_json_form() {
        let s: AdapterSpecs =
            "[\n  {\"id\": \"text2sql-qlora\", \"source\": \"your-username/analytics-copilot-text2sql-mistral7b-qlora\"}\n]"
                .parse()
                .unwrap();
        assert_eq!(s.0, vec![spec("text2sql-qlora", "your-username/analytics-copilot-text2sql-mistral7b-qlora", None)]);
    }

    #[test]
    fn rejects_malformed_entries() {
        for bad in ["a=b=c", "a@b@c", "=x", "a=", "x@", "[{\"id\": 1}]", "a,a"] {
            let err = bad.parse::<AdapterSpecs>().unwrap_err().to_string();
            assert!(err.starts_with("Invalid LoRA adapter format"), "{bad}: {err}");
        }
        assert_eq!("".parse::<AdapterSpecs>().unwrap(), AdapterSpecs::default());
    }
}
