//! The built binary as an operator runs it, against moto (design.md I1, I2).

use std::io::Write;
use std::process::{Command, Output, Stdio};

use network_interface_manager::ec2::InstanceState::Running;
use serde_json::Value;

use crate::support::world::{state_event, MotoWorld, World};

/// The binary with AWS settings from the standard chain pointing at moto.
fn manager(w: &MotoWorld) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_network-interface-manager"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", &w.moto.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

fn stdout_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

#[tokio::test]
async fn handle_runs_an_event_file_through_the_lambda_handler() {
    let w = MotoWorld::new().await;
    let member = w.add_member("web", "a1").await;
    let instance = w.launch(Some("web"), "a1").await;
    let file = std::env::temp_dir().join(format!("event-{instance}.json"));
    std::fs::write(&file, state_event(&instance, Running).to_string()).unwrap();

    let out = manager(&w).arg("handle").arg(&file).output().unwrap();
    std::fs::remove_file(&file).ok();

    let outcome = stdout_json(&out);
    assert_eq!(outcome["event"], "state-change");
    assert_eq!(outcome["attached"][0]["interface_id"], member.as_str());
    assert_eq!(outcome["attached"][0]["instance_id"], instance.as_str());
    assert_eq!(w.holder(&member).await, Some((instance, 1)));
}

#[tokio::test]
async fn handle_reads_standard_input() {
    let w = MotoWorld::new().await;
    let mut child = manager(&w)
        .args(["handle", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = br#"{"detail-type": "Something Else", "source": "aws.s3", "detail": {}}"#;
    child.stdin.take().unwrap().write_all(input).unwrap();
    let outcome = stdout_json(&child.wait_with_output().unwrap());
    assert_eq!(outcome["event"], "ignored");
}

#[tokio::test]
async fn sync_dry_run_prints_the_plan_and_changes_nothing() {
    let w = MotoWorld::new().await;
    let member = w.add_member("web", "a1").await;
    let instance = w.launch(Some("web"), "a1").await;

    let out = manager(&w).args(["sync", "--dry-run"]).output().unwrap();

    assert!(out.status.success());
    let plan = String::from_utf8(out.stdout).unwrap();
    let line = format!("attach {member} to {instance} at index 1 (pool web)");
    assert!(plan.contains(&line), "plan: {plan}");
    assert_eq!(w.holder(&member).await, None, "a dry run changes nothing");

    let out = manager(&w)
        .args(["sync", "--pool", "web"])
        .output()
        .unwrap();
    assert_eq!(
        stdout_json(&out)["attached"][0]["interface_id"],
        member.as_str()
    );
    assert_eq!(w.holder(&member).await, Some((instance, 1)));
}
