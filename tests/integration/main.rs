//! Integration tests, compiled into one binary.

#[path = "../support/mod.rs"]
mod support;

mod budget;
mod cli;
mod custom_resource;
mod custom_resource_faults;
mod custom_resource_lifecycle;
mod custom_resource_states;
mod declarations;
mod events;
mod faults;
mod harsh;
mod histories;
mod iam;
mod lambda_runtime;
mod lifecycle;
mod lifecycle_moto;
mod metrics;
mod planner;
mod planner_fixtures;
mod planner_harsh;
mod planner_status;
mod pool_plan;
mod properties;
mod round_trips;
mod scenarios;
mod storm;
mod strict_model;
mod sync;
mod template;
mod updates;
