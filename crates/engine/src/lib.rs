//! The text2sql inference engine.
//!
//! Data flow: [`config`] resolves a Hugging Face `config.json`; [`weights`] opens safetensors;
//! [`model`] is the one decoder implementation (Llama, Mistral, Qwen2) whose linear layers
//! accept per-row [`lora`] adapters; [`generate`] keeps per-sequence state (KV cache,
//! [`sampling`], stopping, incremental detokenisation via [`tokenizer`]) and runs batched
//! steps; [`response`] shapes results like TGI; [`engine`] ties loading together.
#![deny(missing_docs)]

pub mod config;
pub mod constraint;
pub mod engine;
pub mod error;
mod frozen;
pub mod generate;
pub mod gguf;
pub mod lora;
pub mod model;
pub mod random;
pub mod response;
pub mod sampling;
pub mod tokenizer;
pub mod weights;

pub use config::Config;
pub use constraint::{Constraint, Viability};
pub use engine::Engine;
pub use error::{Error, Result};
pub use generate::{FinishReason, GenerateRequest, PrefillToken, Sequence, StepOutput, Token};
pub use lora::LoraAdapter;
pub use model::Model;
pub use response::{Details, GenerateResponse};
pub use sampling::SamplingParams;
pub use tokenizer::Tokenizer;
