//! Integration tests, compiled into one binary.

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod custom_resource;
mod events;
mod faults;
mod planner;
mod scenarios;
mod strict_model;
mod sync;
