//! The pools-by-invocation stories of `strict::invocation` (C15), on moto
//! through the real SDK.

crate::invocation_scenarios_on!(crate::support::world::MotoWorld::new().await);
