//! Random inputs and histories (proptest) and storms on the strict model:
//! lost, duplicated, late and reordered events, random declarations under
//! random faults. Slower; each case is reproducible from its seed.

mod declarations;
mod histories;
mod storm;
