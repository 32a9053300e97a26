//! network-interface-manager: keeps a pool of tagged EC2 network interfaces
//! attached to the running instances that carry the same pool tag.

pub mod autoscaling;
pub mod aws;
pub mod cli;
mod concurrent;
pub mod custom_resource;
pub mod deadline;
pub mod disposition;
pub mod ec2;
pub mod event;
pub mod handler;
pub mod lambda;
pub mod metrics;
pub mod pool;
mod progress_bar;
pub mod stacks;
