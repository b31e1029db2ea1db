//! One module per subcommand.

pub mod ask;
pub mod bench;
pub mod bench_grammar;
pub mod bench_serve;
pub mod bench_train;
pub mod data;
pub mod default_model;
pub mod eval;
pub mod generate;
pub mod publish;
pub mod serve;
pub mod train;
pub mod train_plot;
