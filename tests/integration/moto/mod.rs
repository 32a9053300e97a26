//! The adapters over the real AWS SDK against `moto_server` (design.md T3):
//! request and response shapes, pagination, filters, error codes, the SDK's
//! retries behind a throttling proxy. moto is lax where the product lives:
//! semantics are proved by `strict`, wire formats here. Each test starts
//! its own server.

mod custom_resource;
mod identity;
mod invocation;
mod lifecycle;
mod public;
mod scenarios;
mod sync;
mod throttling;
mod volumes;
