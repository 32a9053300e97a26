//! The whole handler against the strict models (`support/strict/`): EC2 and
//! Auto Scaling never kinder than the real services (design.md T7-T9), the
//! custom resource answered to a local listener, CloudFormation's stack
//! states as a test sets them. Round trips are counted here. `models` tests
//! the models themselves. Nothing here starts a server.

mod answers;
mod budget;
mod claims_under_lag;
mod custom_resource;
mod data_volumes;
mod faults;
mod harsh;
mod identity;
pub mod invocation;
pub mod lifecycle;
mod metrics;
mod models;
mod round_trips;
pub mod scenarios;
mod updates;
mod volume_faults;
mod volume_model;
