//! Integration tests, compiled into one binary.

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod custom_resource;
mod custom_resource_faults;
mod events;
mod faults;
mod lambda_runtime;
mod planner;
mod properties;
mod scenarios;
mod strict_model;
mod sync;
mod template;
