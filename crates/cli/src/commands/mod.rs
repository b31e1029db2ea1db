//! One module per subcommand.

pub mod publish;
