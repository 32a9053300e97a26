//! The built binary: under `cargo lambda`'s runtime emulator (design.md
//! T4), and as the operator's CLI against moto.

mod cli;
mod lambda_runtime;
