//! EC2 warned that an instance is due to leave (R28): a Spot interruption
//! warning or a rebalance recommendation. The instance is marked so (tag
//! `network-interface-manager-leaving`), for every later read, and its pool
//! is reconciled at once: its member goes to an instance that waits for
//! one in its placement, long before EC2 reclaims it.

use super::{ById, Manager, Outcome};
use crate::aws::AwsError;
use crate::deadline::Deadline;
use crate::ec2::{Tags, LEAVING_TAG};
use crate::event::Warning;

impl Manager<'_> {
    pub async fn warned(&self, warning: &Warning, deadline: Deadline) -> Result<Outcome, AwsError> {
        let id = &warning.instance_id;
        let Some(mut instance) = self.read_instance(id).await? else {
            return Ok(Outcome::noted(format!(
                "instance {id} is gone: nothing to hand over"
            )));
        };
        let Some(pool) = instance.pool().map(str::to_string) else {
            return Ok(Outcome::noted(format!("instance {id} is in no pool")));
        };
        let mark = format!("{} {}", warning.kind, when(warning.time));
        let tags = Tags::from([(LEAVING_TAG.to_string(), mark.clone())]);
        instance.tags.insert(LEAVING_TAG.to_string(), mark);
        // The mark is for later reads; this plan has it already.
        let pools = [pool];
        let (marked, snapshot) = tokio::join!(
            self.ec2.create_tags(std::slice::from_ref(id), &tags),
            self.read_pools(&pools, vec![instance], ById::NONE, deadline)
        );
        let snapshot = marked.and(snapshot)?;
        Ok(self
            .carry_out(super::plan::plan(&snapshot), None, deadline)
            .await)
    }
}

/// The event's time, RFC 3339, or `-` when it has none.
fn when(time: Option<u64>) -> String {
    let at = time.and_then(|ms| {
        let at = aws_smithy_types::DateTime::from_millis(ms as i64);
        at.fmt(aws_smithy_types::date_time::Format::DateTime).ok()
    });
    at.unwrap_or_else(|| "-".to_string())
}
