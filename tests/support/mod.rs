//! Shared test support: the strict EC2 model, the moto server, the worlds.
#![allow(dead_code)] // each test module uses a different part of the support

pub mod cfn;
pub mod emulator;
pub mod listener;
pub mod moto;
pub mod strict;
pub mod throttle;
pub mod world;
