//! Integration tests, compiled into one binary, grouped by layer as
//! docs/testing.md describes them: each group's `mod.rs` says what belongs
//! there. `cargo test --test integration GROUP::` runs one group.

#[path = "../support/mod.rs"]
mod support;

mod binary;
mod deployment;
mod moto;
mod planner;
mod random;
mod strict;
