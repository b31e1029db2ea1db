//! One module per subcommand.

pub mod bench;
pub mod default_model;
pub mod generate;
pub mod publish;
pub mod serve;
