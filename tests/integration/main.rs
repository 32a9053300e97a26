//! Integration tests, compiled into one binary.

#[path = "../support/mod.rs"]
mod support;

mod planner;
mod scenarios;
