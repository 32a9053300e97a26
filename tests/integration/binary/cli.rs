//! The built binary as an operator runs it, against moto (docs/design.md, I1, I2).

use network_interface_manager::aws::AwsError;
use std::io::Write;
use std::process::{Command, Output, Stdio};

use network_interface_manager::ec2::InstanceState::Running;
use serde_json::{json, Value};

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
        .args(["sync", "--pool", "web", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(
        stdout_json(&out)["attached"][0]["interface_id"],
        member.as_str()
    );
    assert_eq!(w.holder(&member).await, Some((instance, 1)));
}

#[tokio::test]
async fn status_shows_members_holders_waiting_instances_and_shortages() {
    let w = MotoWorld::new().await;
    let held = w.add_member("web", "a1").await;
    let free = w.add_member("web", "b1").await;
    let holder = w.launch(Some("web"), "a1").await;
    crate::support::world::deliver_ok(&w, &state_event(&holder, Running)).await;
    let waiting = w.launch(Some("web"), "a2").await;

    let out = manager(&w)
        .args(["status", "--output", "json"])
        .output()
        .unwrap();

    let status = stdout_json(&out);
    let pool = &status["pools"][0];
    assert_eq!(status["pools"].as_array().unwrap().len(), 1);
    assert_eq!(pool["pool"], "web");
    let members = pool["members"].as_array().unwrap();
    let member = |id: &str| {
        members
            .iter()
            .find(|m| m["interface_id"] == id)
            .unwrap()
            .clone()
    };
    let h = member(&held);
    assert_eq!(h["availability_zone"], "us-east-1a");
    assert_eq!(h["subnet_id"], w.subnets["a1"].as_str());
    assert_eq!(h["status"], "in-use");
    assert_eq!(
        h["holder"],
        json!({"instance_id": holder, "device_index": 1})
    );
    assert!(h["private_ip"].as_str().unwrap().starts_with("10.0.1."));
    let f = member(&free);
    assert_eq!(f["status"], "available");
    assert_eq!(f["holder"], Value::Null);
    assert_eq!(pool["waiting"][0]["instance_id"], waiting.as_str());
    assert_eq!(
        pool["shortages"],
        json!([{"pool": "web", "availability_zone": "us-east-1a", "instance_ids": [waiting]}])
    );

    let table = manager(&w).arg("status").output().unwrap();
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.contains("INTERFACE") && text.contains(&held) && text.contains(&holder));
    assert!(
        text.contains(&format!("shortage: pool web in us-east-1a: {waiting}")),
        "{text}"
    );
}

#[tokio::test]
async fn a_dry_run_leaves_the_status_as_it_was() {
    let w = MotoWorld::new().await;
    w.add_member("web", "a1").await;
    w.launch(Some("web"), "a1").await;
    let status = || {
        manager(&w)
            .args(["status", "--output", "json"])
            .output()
            .unwrap()
    };
    let before = stdout_json(&status());
    let dry = manager(&w).args(["sync", "--dry-run"]).output().unwrap();
    assert!(String::from_utf8_lossy(&dry.stdout).starts_with("attach "));
    assert_eq!(stdout_json(&status()), before);
}

/// The error line of a failed command: one line, no panic, exit code 1.
fn error_line(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    lines[0].to_string()
}

#[tokio::test]
async fn errors_a_person_can_act_on() {
    let w = MotoWorld::new().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{closed}");
    let out = manager(&w)
        .env("AWS_ENDPOINT_URL", &endpoint)
        .arg("status")
        .output()
        .unwrap();
    let line = error_line(&out);
    assert!(
        line.contains(&format!("cannot reach EC2 at {endpoint}")),
        "{line}"
    );

    let out = manager(&w)
        .env_remove("AWS_REGION")
        .arg("status")
        .output()
        .unwrap();
    assert!(error_line(&out).contains("no AWS region"));

    let out = manager(&w)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("HOME", "/nonexistent")
        .arg("status")
        .output()
        .unwrap();
    assert!(error_line(&out).contains("no AWS credentials"));
}

#[test]
fn access_denied_names_the_iam_action() {
    use network_interface_manager::cli::explain;

    let denied = AwsError::from_code("UnauthorizedOperation", "You are not authorized")
        .during("AttachNetworkInterface");
    let line = explain(
        &anyhow::Error::new(denied),
        "https://ec2.eu-west-1.amazonaws.com",
    );
    assert!(line.contains("ec2:AttachNetworkInterface"), "{line}");
}

/// R24 on a terminal: `sync` draws a progress bar (actions done of those
/// planned) on standard error, then a summary; not with `--output json`,
/// and not when standard error is not a terminal.
#[tokio::test]
async fn sync_shows_progress_on_a_terminal_only() {
    let w = MotoWorld::new().await;
    for _ in 0..3 {
        w.add_member("web", "a1").await;
        w.launch(Some("web"), "a1").await;
    }
    let binary = env!("CARGO_BIN_EXE_network-interface-manager");
    // `script` (util-linux) runs the command on a pseudo-terminal.
    let out = Command::new("script")
        .args(["-qec", &format!("{binary} sync"), "/dev/null"])
        .envs(manager(&w).get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env("TERM", "xterm")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("3/3 actions"), "{shown}");
    assert!(shown.contains("attached 3"), "{shown}");

    // Not a terminal: the summary only.
    w.launch(Some("web"), "a1").await;
    let out = manager(&w).arg("sync").output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(stdout.contains("waiting in us-east-1a"), "{stdout}");
    assert!(!stderr.contains("actions"), "{stderr}");
}
