//! HTTP handlers, one module per route family.

pub mod info;
pub mod native;
pub mod openai;
