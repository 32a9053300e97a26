//! The pure cores, without I/O: the pool planner (`pool`, `harsh`,
//! `status`), the declaration's planner (`declaration`), parsing the inputs
//! (`events`) and the properties (`properties`). Tables, row by row; a test
//! here never reads EC2, the clock or the network.

mod declaration;
mod elastic_ips;
mod events;
pub mod fixtures;
mod harsh;
mod identity;
mod pool;
mod properties;
mod status;
mod succession;
mod volume_plan;
mod volumes;
