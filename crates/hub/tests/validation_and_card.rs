//! Adapter validation and model card rendering, on fixtures written from scratch.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hub_emulator::fixtures::{lora_tensors, metrics_json, safetensors_bytes, write_adapter, AdapterSpec};
use text2sql_hub::publish::validate::{validate_adapter_dir, ValidationError, WeightsFormat};
use text2sql_hub::publish::{publish, render_model_card, CardInput, PublishError, PublishOptions, ReadmeOutcome};

fn adapter(spec: &AdapterSpec) -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("adapter");
    write_adapter(&dir, spec).unwrap();
    (d, dir)
}

fn err(dir: &Path) -> ValidationError {
    validate_adapter_dir(dir).expect_err("adapter should be refused")
}

#[test]
fn valid_adapter_is_accepted() {
    let (_d, dir) = adapter(&AdapterSpec::default());
    let info = validate_adapter_dir(&dir).unwrap();
    assert_eq!(info.config.r, 4);
    assert_eq!(info.lora_pairs, 4);
    assert_eq!(info.format, WeightsFormat::Safetensors);
    assert_eq!(info.config.target_modules, vec!["q_proj", "v_proj"]);
    assert_eq!(info.config.base_model.as_deref(), Some("mistralai/Mistral-7B-Instruct-v0.1"));
}

#[test]
fn missing_dir_config_and_weights() {
    let d = tempfile::tempdir().unwrap();
    assert!(matches!(err(&d.path().join("nope")), ValidationError::NotADir(_)));
    assert!(matches!(err(d.path()), ValidationError::ConfigMissing(_)));
    let (_d, dir) = adapter(&AdapterSpec::default());
    std::fs::remove_file(dir.join("adapter_model.safetensors")).unwrap();
    let e = err(&dir);
    assert!(matches!(e, ValidationError::WeightsMissing(_)));
    assert!(e.to_string().contains("adapter_model.safetensors or adapter_model.bin"), "{e}");
    std::fs::write(dir.join("adapter_model.bin"), b"").unwrap();
    assert!(matches!(err(&dir), ValidationError::WeightsEmpty(_)));
    std::fs::write(dir.join("adapter_model.bin"), b"PK\x03\x04 torch zip").unwrap();
    assert_eq!(validate_adapter_dir(&dir).unwrap().format, WeightsFormat::Bin);
}

#[test]
fn bad_configs_name_the_field() {
    let cases: &[(&str, &str)] = &[
        ("{not json", "not a valid JSON object"),
        ("[1]", "not a valid JSON object"),
        (r#"{"peft_type":"LORA"}"#, "`r` is missing"),
        (r#"{"r":0}"#, "`r` must be a positive integer"),
        (r#"{"r":"8"}"#, "`r` must be a positive integer"),
        (r#"{"r":4,"lora_alpha":"x"}"#, "`lora_alpha` must be a number"),
        (r#"{"r":4,"target_modules":5}"#, "`target_modules` must be a list"),
        (r#"{"r":4,"peft_type":"IA3"}"#, "only LoRA adapters"),
        (r#"{"r":4,"base_model_name_or_path":7}"#, "`base_model_name_or_path` must be a string"),
    ];
    for (cfg, want) in cases {
        let (_d, dir) = adapter(&AdapterSpec::default());
        std::fs::write(dir.join("adapter_config.json"), cfg).unwrap();
        let e = err(&dir).to_string();
        assert!(e.contains(want), "config {cfg}: got {e:?}, want {want:?}");
        assert!(e.contains("adapter_config.json"), "{e}");
    }
}

#[test]
fn empty_truncated_and_garbage_safetensors_are_refused() {
    let (_d, dir) = adapter(&AdapterSpec::default());
    let st = dir.join("adapter_model.safetensors");
    let good = std::fs::read(&st).unwrap();

    std::fs::write(&st, b"").unwrap();
    assert!(matches!(err(&dir), ValidationError::WeightsEmpty(_)));

    std::fs::write(&st, &good[..good.len() - 10]).unwrap();
    let e = err(&dir);
    assert!(matches!(e, ValidationError::Truncated { .. }), "{e}");
    assert!(e.to_string().contains("truncated"), "{e}");

    std::fs::write(&st, &good[..20]).unwrap();
    assert!(err(&dir).to_string().contains("runs past the end"));

    std::fs::write(&st, b"\x05\x00\x00\x00\x00\x00\x00\x00hello").unwrap();
    assert!(err(&dir).to_string().contains("header is not JSON"));

    std::fs::write(&st, b"abc").unwrap();
    assert!(err(&dir).to_string().contains("shorter than the 8-byte header"));
}

fn write_tensors(dir: &Path, t: &BTreeMap<String, Vec<u64>>) {
    std::fs::write(dir.join("adapter_model.safetensors"), safetensors_bytes(t)).unwrap();
}

#[test]
fn lora_shapes_must_agree_with_r_and_each_other() {
    // config says r=8 but tensors have rank 4
    let (_d, dir) = adapter(&AdapterSpec { config_r: 8, ..Default::default() });
    let e = err(&dir).to_string();
    assert!(e.contains("does not match r = 8"), "{e}");

    // A and B disagree
    let (_d, dir) = adapter(&AdapterSpec::default());
    let mut t = lora_tensors(&AdapterSpec::default());
    t.insert("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight".into(), vec![16, 3]);
    write_tensors(&dir, &t);
    let e = err(&dir).to_string();
    assert!(e.contains("disagrees with") && e.contains("q_proj.lora_A"), "{e}");

    // B missing
    let mut t = lora_tensors(&AdapterSpec::default());
    t.remove("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight");
    write_tensors(&dir, &t);
    assert!(err(&dir).to_string().contains("no matching lora_B"));

    // not 2-D
    let mut t = lora_tensors(&AdapterSpec::default());
    t.insert("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight".into(), vec![4, 16, 1]);
    write_tensors(&dir, &t);
    assert!(err(&dir).to_string().contains("2-D"));

    // no LoRA tensors
    let mut t = BTreeMap::new();
    t.insert("model.embed_tokens.weight".to_string(), vec![4, 4]);
    write_tensors(&dir, &t);
    assert!(matches!(err(&dir), ValidationError::NoLoraTensors(_)));

    // rank_pattern overrides r for one module
    let mut t = lora_tensors(&AdapterSpec::default());
    t.insert("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight".into(), vec![2, 16]);
    t.insert("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight".into(), vec![16, 2]);
    write_tensors(&dir, &t);
    assert!(err(&dir).to_string().contains("does not match r = 4"));
    std::fs::write(dir.join("adapter_config.json"), r#"{"r":4,"rank_pattern":{"model.layers.0.self_attn.q_proj":2}}"#).unwrap();
    assert_eq!(validate_adapter_dir(&dir).unwrap().lora_pairs, 4);
}

#[test]
fn offsets_must_match_dtype_and_shape() {
    let (_d, dir) = adapter(&AdapterSpec::default());
    let header = serde_json::json!({"a.lora_A.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}});
    let h = serde_json::to_vec(&header).unwrap();
    let mut bytes = (h.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&h);
    bytes.extend_from_slice(&[0u8; 16]);
    std::fs::write(dir.join("adapter_model.safetensors"), bytes).unwrap();
    let e = err(&dir).to_string();
    assert!(e.contains("needs 16 bytes but data_offsets span 12"), "{e}");
}

fn write_metrics(dir: &Path, name: &str, v: &serde_json::Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
    p
}

#[test]
fn card_front_matter_and_sections_for_every_input_combination() {
    let bases = [Some("mistralai/Mistral-7B-Instruct-v0.1"), None, Some("/models/local-base")];
    for base in bases {
        let (d, dir) = adapter(&AdapterSpec { base_model: base.map(str::to_string), ..Default::default() });
        let info = validate_adapter_dir(&dir).unwrap();
        let internal = write_metrics(d.path(), "eval_internal.json", &metrics_json(20, 11));
        let raw = write_metrics(d.path(), "eval_raw.json", &metrics_json(20, 5)["metrics"]);
        let spider = write_metrics(
            d.path(),
            "eval_spider.json",
            &serde_json::json!({"metrics": {"n_examples": 8, "exact_match": {"count": 2, "rate": 0.25},
                "exact_set_match": {"count": 3, "rate": 0.375}, "execution_accuracy": {"count": 4, "rate": 0.5}}}),
        );
        for files in [vec![], vec![internal.clone()], vec![internal.clone(), raw.clone(), spider.clone()]] {
            let card = render_model_card(&CardInput { repo_id: "alice/t2s-qlora", endpoint: "https://huggingface.co", adapter: &info, metrics_files: &files })
                .unwrap();
            let fm = common::front_matter(&card);
            assert_eq!(fm["library_name"].as_str(), Some("peft"));
            assert_eq!(fm["pipeline_tag"].as_str(), Some("text-generation"));
            let tags: Vec<&str> = fm["tags"].as_sequence().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
            assert!(tags.contains(&"lora") && tags.contains(&"text-to-sql"), "{tags:?}");
            match base {
                Some(b) if !b.starts_with('/') => {
                    assert_eq!(fm["base_model"].as_str(), Some(b));
                    assert!(tags.contains(&format!("base_model:adapter:{b}").as_str()));
                    assert!(card.contains(&format!("**Base model:** `{b}`")));
                }
                Some(local) => {
                    assert!(fm.get("base_model").is_none(), "a local path is not a Hub id");
                    assert!(card.contains(&format!("**Base model:** `{local}`")));
                }
                None => {
                    assert!(fm.get("base_model").is_none());
                    assert!(card.contains("**Base model:** `<unknown-base-model>`"));
                }
            }
            // model-index mirrors the metrics files
            if files.is_empty() {
                assert!(fm.get("model-index").is_none());
                assert!(card.contains("No metrics were included"));
            } else {
                let results = fm["model-index"][0]["results"].as_sequence().unwrap();
                assert_eq!(results.len(), files.len());
                for (res, path) in results.iter().zip(&files) {
                    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
                    let m = v.get("metrics").unwrap_or(&v);
                    for metric in res["metrics"].as_sequence().unwrap() {
                        let key = metric["type"].as_str().unwrap();
                        assert_eq!(metric["value"].as_f64(), m[key]["rate"].as_f64(), "{key} in {}", path.display());
                    }
                }
                assert!(card.contains("| Exact match (`exact_match`) | 11 / 20 | 0.5500 (55.00%) |"), "{card}");
                if files.len() == 3 {
                    assert_eq!(results[2]["dataset"]["type"].as_str(), Some("spider"));
                    assert!(card.contains("| Execution accuracy (`execution_accuracy`) | 4 / 8 | 0.5000 (50.00%) |"));
                    assert!(card.contains("| Exact match (`exact_match`) | 5 / 20 | 0.2500 (25.00%) |"));
                }
            }
            // seed sections
            for needle in [
                "# t2s-qlora",
                "**Task:** Text-to-SQL (schema + question → SQL)",
                "`alice/t2s-qlora`",
                "| LoRA rank (`r`) | 4 |",
                "| LoRA alpha | 16 |",
                "`q_proj`, `v_proj`",
                "text2sql eval internal --val_path data/processed/val.jsonl --out_dir reports/",
                "text2sql eval spider --spider_dir DIR --out_dir reports/",
                r#"{"id": "text2sql-qlora", "source": "alice/t2s-qlora"}"#,
                r#""adapter_id": "text2sql-qlora""#,
                "text2sql serve",
            ] {
                assert!(card.contains(needle), "card lacks {needle:?}:\n{card}");
            }
        }
    }
}

fn dry_opts(dir: &Path, skip: bool, strict: bool, metrics: Vec<PathBuf>) -> PublishOptions {
    PublishOptions {
        repo_id: "alice/t2s".into(),
        adapter_dir: dir.to_path_buf(),
        private: false,
        skip_readme: skip,
        strict_readme: strict,
        include_metrics: metrics,
        commit_message: "Add QLoRA adapter artifacts".into(),
        revision: "main".into(),
        dry_run: true,
        progress: false,
        // unroutable on purpose: a dry run must not touch the network
        client: common::client_opts("http://127.0.0.1:9", None),
    }
}

#[test]
fn readme_flags_for_every_combination_dry_run() {
    let (d, dir) = adapter(&AdapterSpec::default());
    let good = write_metrics(d.path(), "eval_internal.json", &metrics_json(10, 3));
    let broken = d.path().join("broken.json");
    std::fs::write(&broken, b"{\"metrics\": {\"exact_match\": ").unwrap();
    let missing = d.path().join("does-not-exist.json");
    for skip in [false, true] {
        for strict in [false, true] {
            for (label, metrics) in [("none", vec![]), ("good", vec![good.clone()]), ("broken", vec![broken.clone()]), ("missing", vec![missing.clone()])] {
                let mut out = Vec::new();
                let res = publish(&dry_opts(&dir, skip, strict, metrics), &mut out);
                let out = String::from_utf8(out).unwrap();
                let case = format!("skip={skip} strict={strict} metrics={label}");
                let bad_metrics = label == "broken" || label == "missing";
                match (skip, strict, bad_metrics) {
                    (true, _, _) => {
                        let r = res.unwrap_or_else(|e| panic!("{case}: {e}"));
                        assert_eq!(r.readme, ReadmeOutcome::Skipped, "{case}");
                        assert!(!r.files.iter().any(|(p, _)| p == "README.md"), "{case}");
                    }
                    (false, true, true) => {
                        let e = res.expect_err(&case);
                        assert!(matches!(e, PublishError::Readme(_)), "{case}: {e}");
                        assert_eq!(e.exit_code(), 2);
                    }
                    (false, false, true) => {
                        let r = res.unwrap_or_else(|e| panic!("{case}: {e}"));
                        assert!(matches!(r.readme, ReadmeOutcome::Failed(_)), "{case}");
                        assert!(!r.files.iter().any(|(p, _)| p == "README.md"), "{case}");
                    }
                    (false, _, false) => {
                        let r = res.unwrap_or_else(|e| panic!("{case}: {e}"));
                        assert_eq!(r.readme, ReadmeOutcome::Generated, "{case}");
                        assert!(r.files.iter().any(|(p, _)| p == "README.md"), "{case}");
                        assert!(out.contains("--- README.md ---") && out.contains("library_name: peft"), "{case}");
                        assert_eq!(label == "good", out.contains("model-index:"), "{case}");
                    }
                }
            }
        }
    }
}

#[test]
fn invalid_adapter_fails_before_anything_else() {
    let d = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    let e = publish(&dry_opts(d.path(), false, false, vec![]), &mut out).unwrap_err();
    assert!(matches!(e, PublishError::Validation(ValidationError::ConfigMissing(_))), "{e}");
    assert_eq!(e.exit_code(), 2);
}

/// Written by the real `safetensors` library (tests/data/make_fixtures.py).
fn reference_adapter() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/peft_adapter")
}

#[test]
fn reference_adapter_from_the_safetensors_library_is_accepted() {
    let info = validate_adapter_dir(&reference_adapter()).unwrap();
    assert_eq!(info.config.r, 2);
    assert_eq!(info.lora_pairs, 4);
    assert_eq!(info.parameters, 4 * 2 * 2 * 8);
    let header = text2sql_hub::publish::validate::read_safetensors_header(&info.weights).unwrap();
    assert_eq!(header.len(), 8);
    let a = &header["base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight"];
    assert_eq!((a.dtype.as_str(), a.shape.as_slice()), ("F16", &[2u64, 8][..]));
    let end = header.values().map(|t| t.offsets.1).max().unwrap();
    let len = std::fs::metadata(&info.weights).unwrap().len();
    let hlen = u64::from_le_bytes(std::fs::read(&info.weights).unwrap()[..8].try_into().unwrap());
    assert_eq!(end, len - 8 - hlen, "data section fully described");
}

#[test]
fn truncated_copy_of_the_reference_adapter_is_refused() {
    let d = tempfile::tempdir().unwrap();
    for f in ["adapter_config.json", "adapter_model.safetensors"] {
        std::fs::copy(reference_adapter().join(f), d.path().join(f)).unwrap();
    }
    let st = d.path().join("adapter_model.safetensors");
    let bytes = std::fs::read(&st).unwrap();
    std::fs::write(&st, &bytes[..bytes.len() - 1]).unwrap();
    let e = err(d.path());
    assert!(matches!(e, ValidationError::Truncated { .. }), "{e}");
    assert!(e.to_string().contains("adapter_model.safetensors is truncated"), "{e}");
}
