//! Many calls at once, at most `limit` in flight; results in any order.

use std::future::Future;

use futures::stream::{self, StreamExt};

pub async fn concurrently<I, R, F, Fut>(limit: usize, items: I, f: F) -> Vec<R>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = R>,
{
    stream::iter(items)
        .map(f)
        .buffer_unordered(limit)
        .collect()
        .await
}
