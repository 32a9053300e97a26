//! The event scenarios of `strict::scenarios`, on moto through the real SDK:
//! the same stories, exact call counts (moto's reads do not lag).

crate::scenarios_on!(crate::support::world::MotoWorld::new().await);
