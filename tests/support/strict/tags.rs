//! Tags on the strict model: `CreateTags` and `DeleteTags` on interfaces,
//! addresses, volumes and instances, all or none.

use network_interface_manager::aws::AwsError;
use network_interface_manager::ec2::Tags;
use tokio::time::Instant;

use super::{err, publish_ids, settle, Op, StrictEc2, World};

impl StrictEc2 {
    pub(super) async fn create_tags_now(
        &self,
        resource_ids: &[String],
        tags: &Tags,
    ) -> Result<(), AwsError> {
        self.calls.count("CreateTags");
        self.enter(Op::CreateTags).await?;
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        missing_fails_the_batch(&w, resource_ids)?;
        for id in resource_ids {
            tags_of(&mut w, id).extend(tags.clone());
            w.writes.push((Op::CreateTags, id.clone(), String::new()));
        }
        publish_ids(
            &mut w,
            &resource_ids.iter().collect::<Vec<_>>(),
            Instant::now(),
        );
        Ok(())
    }

    pub(super) async fn delete_tags_now(
        &self,
        resource_ids: &[String],
        keys: &[String],
    ) -> Result<(), AwsError> {
        self.calls.count("DeleteTags");
        self.enter(Op::DeleteTags).await?;
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        missing_fails_the_batch(&w, resource_ids)?;
        for id in resource_ids {
            tags_of(&mut w, id).retain(|k, _| !keys.contains(k));
            w.writes.push((Op::DeleteTags, id.clone(), String::new()));
        }
        publish_ids(
            &mut w,
            &resource_ids.iter().collect::<Vec<_>>(),
            Instant::now(),
        );
        Ok(())
    }
}

/// Tag calls change nothing when one id does not exist (guess: EC2 answers
/// the whole batch with the error).
fn missing_fails_the_batch(w: &World, ids: &[String]) -> Result<(), AwsError> {
    let exists = |id: &String| {
        w.enis.contains_key(id)
            || w.addresses.contains_key(id)
            || w.instances.contains_key(id)
            || w.volumes.contains_key(id)
    };
    match ids.iter().find(|id| !exists(id)) {
        Some(missing) if missing.starts_with("eipalloc-") => {
            let m = format!("The allocation ID '{missing}' does not exist");
            Err(err("InvalidAllocationID.NotFound", m))
        }
        Some(missing) if missing.starts_with("vol-") => {
            let m = format!("The volume '{missing}' does not exist.");
            Err(err("InvalidVolume.NotFound", m))
        }
        Some(missing) if missing.starts_with("i-") => {
            let m = format!("The instance ID '{missing}' does not exist");
            Err(err("InvalidInstanceID.NotFound", m))
        }
        Some(missing) => {
            let m = format!("The networkInterface ID '{missing}' does not exist");
            Err(err("InvalidNetworkInterfaceID.NotFound", m))
        }
        None => Ok(()),
    }
}

/// The tags of an interface, an address, a volume or an instance that
/// exists.
fn tags_of<'w>(w: &'w mut World, id: &str) -> &'w mut Tags {
    if let Some(instance) = w.instances.get_mut(id) {
        return &mut instance.tags;
    }
    if let Some(disk) = w.volumes.get_mut(id) {
        return &mut disk.volume.tags;
    }
    match w.enis.get_mut(id) {
        Some(eni) => &mut eni.iface.tags,
        None => &mut w.addresses.get_mut(id).unwrap().tags,
    }
}
