//! `cargo run -p text2sql-synth --example synth -- OUT_DIR N_TRAIN N_VAL SEED`: the generator
//! without building the whole CLI.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    let out = a.get(1).map(String::as_str).unwrap_or("data/synth");
    let n = |i: usize, d: u64| a.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let opts = text2sql_synth::SynthOptions { n_train: n(2, 5000) as usize, n_val: n(3, 500) as usize, seed: n(4, 42), val_families: text2sql_synth::ValFamilies::Count(8), domains: vec![], templates: Default::default() };
    let c = text2sql_synth::generate(&opts)?;
    text2sql_synth::write(&c, std::path::Path::new(out))?;
    println!("{} train ({} schemas), {} val ({} schemas)", c.train.len(), c.stats.train.distinct_schemas, c.val.len(), c.stats.val.distinct_schemas);
    Ok(())
}
