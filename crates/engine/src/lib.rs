//! text2sql engine
