//! The Auto Scaling adapter through the real SDK against moto (docs/design.md,
//! T3, T8): the describe calls' wire format, and the handler on a group's
//! instances. moto has no `CompleteLifecycleAction` and no waiting states;
//! those are the strict model's (lifecycle/).

use std::time::Duration;

use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, Tag};
use aws_sdk_ec2::types::RequestLaunchTemplateData;
use network_interface_manager::autoscaling::sdk::SdkAutoScaling;
use network_interface_manager::autoscaling::{AutoScaling, Hook, Transition};
use network_interface_manager::deadline::Deadline;
use network_interface_manager::ec2::{InstanceQuery, InstanceState, POOL_TAG};
use network_interface_manager::handler::{handle, Context};

use crate::support::world::{done, fast, state_event, MotoWorld, World};

/// Group `web-asg` of pool `web` with `size` instances in subnet `a1`, and
/// two hooks: ours and another.
async fn group(w: &MotoWorld, size: i32) -> (aws_sdk_autoscaling::Client, Vec<String>) {
    let template = w
        .client
        .create_launch_template()
        .launch_template_name("web-template")
        .launch_template_data(
            RequestLaunchTemplateData::builder()
                .image_id(&w.image)
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let template_id = template.launch_template().unwrap().launch_template_id();
    let asg = w.moto.autoscaling();
    asg.create_auto_scaling_group()
        .auto_scaling_group_name("web-asg")
        .min_size(0)
        .max_size(size)
        .desired_capacity(size)
        .vpc_zone_identifier(&w.subnets["a1"])
        .launch_template(
            LaunchTemplateSpecification::builder()
                .set_launch_template_id(template_id.map(str::to_string))
                .build(),
        )
        .tags(
            Tag::builder()
                .key(POOL_TAG)
                .value("web")
                .propagate_at_launch(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for (name, transition, heartbeat) in [
        (
            "network-interface-manager-launch",
            Transition::Launching,
            120,
        ),
        ("their-terminate-hook", Transition::Terminating, 300),
    ] {
        asg.put_lifecycle_hook()
            .auto_scaling_group_name("web-asg")
            .lifecycle_hook_name(name)
            .lifecycle_transition(transition.as_str())
            .heartbeat_timeout(heartbeat)
            .default_result("CONTINUE")
            .send()
            .await
            .unwrap();
    }
    let read = asg.describe_auto_scaling_instances().send().await.unwrap();
    let mut ids: Vec<String> = read
        .auto_scaling_instances()
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect();
    ids.sort();
    (asg, ids)
}

#[tokio::test]
async fn lifecycle_states_and_hooks_read_through_the_sdk() {
    let w = MotoWorld::new().await;
    let (asg, ids) = group(&w, 2).await;
    assert_eq!(ids.len(), 2);
    asg.enter_standby()
        .auto_scaling_group_name("web-asg")
        .instance_ids(&ids[0])
        .should_decrement_desired_capacity(true)
        .send()
        .await
        .unwrap();
    let standalone = w.launch(Some("web"), "a1").await;
    // R28: a health check's verdict, read back as the group's view.
    asg.set_instance_health()
        .instance_id(&ids[1])
        .health_status("Unhealthy")
        .send()
        .await
        .unwrap();
    let adapter = SdkAutoScaling::new(w.moto.autoscaling());

    // 120 ids: three calls of at most 50; a standalone instance is absent.
    let mut asked: Vec<String> = (0..117).map(|n| format!("i-{n:017x}")).collect();
    asked.extend(ids.iter().cloned());
    asked.push(standalone);
    let mut read = adapter.describe_instances(&asked).await.unwrap();
    read.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    let states: Vec<(&str, &str, &str, bool)> = read
        .iter()
        .map(|g| {
            (
                g.instance_id.as_str(),
                g.group.as_str(),
                g.lifecycle_state.as_str(),
                g.healthy,
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            (ids[0].as_str(), "web-asg", "Standby", true),
            (ids[1].as_str(), "web-asg", "InService", false),
        ]
    );
    assert_eq!(adapter.calls()["DescribeAutoScalingInstances"], 3);

    let mut hooks = adapter.describe_hooks("web-asg").await.unwrap();
    hooks.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(
        hooks,
        vec![
            Hook {
                name: "network-interface-manager-launch".into(),
                transition: Some(Transition::Launching),
                heartbeat_timeout: Some(Duration::from_secs(120)),
            },
            Hook {
                name: "their-terminate-hook".into(),
                transition: Some(Transition::Terminating),
                heartbeat_timeout: Some(Duration::from_secs(300)),
            },
        ]
    );
}

/// R19 end to end on moto: the group's instances are read through the SDK;
/// with `STANDBY_HOLDS_MEMBER=false` the standby instance gets no member.
#[tokio::test]
async fn the_handler_reads_group_instances_on_moto() {
    let w = MotoWorld::new().await;
    let (asg, ids) = group(&w, 2).await;
    let (standby, serving) = (&ids[0], &ids[1]);
    asg.enter_standby()
        .auto_scaling_group_name("web-asg")
        .instance_ids(standby)
        .should_decrement_desired_capacity(true)
        .send()
        .await
        .unwrap();
    let member = w.add_member("web", "a1").await;
    let adapter = SdkAutoScaling::new(w.moto.autoscaling());
    let mut settings = fast();
    settings.standby_holds = false;
    let mut ctx = Context::new(w.ec2(), settings);
    ctx.auto_scaling = Some(&adapter);

    let deadline = || Deadline::after(Duration::from_secs(30));
    let event = state_event(standby, InstanceState::Running);
    let handled = done(handle(&ctx, &event, deadline()).await);
    assert!(handled.outcome.report.attached.is_empty(), "{handled:?}");
    let event = state_event(serving, InstanceState::Running);
    done(handle(&ctx, &event, deadline()).await);

    assert_eq!(w.holder(&member).await, Some((serving.clone(), 1)));
    assert!(adapter.calls()["DescribeAutoScalingInstances"] >= 2);
}

/// R28 through the SDK: EC2's Spot interruption warning for the holder
/// marks it and moves its member to the instance that waits in its AZ.
#[tokio::test]
async fn a_spot_warning_moves_the_member_on_moto() {
    let w = MotoWorld::new().await;
    let (asg, ids) = group(&w, 2).await;
    let (holder, waiting) = (&ids[0], &ids[1]);
    let member = w.add_member("web", "a1").await;
    let adapter = SdkAutoScaling::new(asg);
    let mut ctx = Context::new(w.ec2(), fast());
    ctx.auto_scaling = Some(&adapter);
    let deadline = || Deadline::after(Duration::from_secs(30));
    done(
        handle(
            &ctx,
            &state_event(holder, InstanceState::Running),
            deadline(),
        )
        .await,
    );
    done(
        handle(
            &ctx,
            &state_event(waiting, InstanceState::Running),
            deadline(),
        )
        .await,
    );
    assert_eq!(w.holder(&member).await, Some((holder.clone(), 1)));

    let mut warning = crate::support::world::fixture("ec2-spot-interruption-warning.json");
    warning["detail"]["instance-id"] = holder.as_str().into();
    let handled = done(handle(&ctx, &warning, deadline()).await);

    assert_eq!(
        w.holder(&member).await,
        Some((waiting.clone(), 1)),
        "{handled:?}"
    );
    let read = InstanceQuery::Ids(vec![holder.clone()]);
    let read = w.ec2().describe_instances(&read).await.unwrap();
    let tags = &read[0].tags;
    assert!(
        tags.contains_key(network_interface_manager::ec2::LEAVING_TAG),
        "{tags:?}"
    );
}
