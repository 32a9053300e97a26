//! What the CLI prints for people: the status table, a sync's summary, a
//! plan, and one line for an error that ended a command.

use crate::aws::{AwsError, ErrorKind};
use crate::pool::model::{Action, Plan, Shortage};
use crate::pool::status::PoolStatus;
use crate::pool::Outcome;

/// One line a person can act on, for an error that ended a command.
pub fn explain(error: &anyhow::Error, endpoint: &str) -> String {
    let Some(e) = error.downcast_ref::<AwsError>() else {
        return format!("{error:#}");
    };
    let text = e.message.to_ascii_lowercase();
    if e.is(ErrorKind::AccessDenied) {
        let action = e.operation.unwrap_or("the operation");
        return format!(
            "access denied: these credentials may not call ec2:{action} ({})",
            e.code
        );
    }
    if !matches!(e.kind, ErrorKind::Unreachable | ErrorKind::Unsent) {
        return e.to_string();
    }
    if text.contains("credentials") {
        return "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, \
                or run with a role"
            .to_string();
    }
    let reason = [
        "connection refused",
        "timed out",
        "dns error",
        "error trying to connect",
    ]
    .into_iter()
    .find(|r| text.contains(r))
    .unwrap_or("no answer");
    format!("cannot reach EC2 at {endpoint}: {reason} (check AWS_ENDPOINT_URL, AWS_REGION and the network)")
}

/// The status as an aligned table, then the waiting instances and shortages.
pub fn status_table(pools: &[PoolStatus]) -> String {
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    // The public address column only where some member has one (C14).
    let members = pools.iter().flat_map(|p| p.members.iter());
    let public = members.clone().any(|m| m.public_ip.is_some());
    // The ordinal column only where some member has one (C16).
    let numbered = members.clone().any(|m| m.ordinal.is_some());
    let mut header = vec!["POOL"];
    header.extend(numbered.then_some("ORDINAL"));
    header.extend(["INTERFACE", "AZ", "SUBNET", "PRIVATE IP"]);
    header.extend(public.then_some("PUBLIC IP"));
    header.extend(["STATUS", "HOLDER", "INDEX"]);
    table.set_header(header);
    for p in pools {
        for m in &p.members {
            let status = serde_json::to_value(m.status).unwrap_or_default();
            let mut row = vec![p.pool.clone()];
            row.extend(numbered.then(|| m.ordinal.map_or("-".into(), |o| o.to_string())));
            row.extend([
                m.interface_id.clone(),
                m.availability_zone.clone(),
                m.subnet_id.clone(),
                m.private_ip.clone().unwrap_or_default(),
            ]);
            row.extend(public.then(|| m.public_ip.clone().unwrap_or("-".into())));
            let holder = m.holder.as_ref();
            row.extend([
                status.as_str().unwrap_or_default().to_string(),
                holder.map_or("-".into(), |h| h.instance_id.clone()),
                holder.map_or("-".into(), |h| h.device_index.to_string()),
            ]);
            table.add_row(row);
        }
    }
    let mut out = if pools.iter().any(|p| !p.members.is_empty()) {
        let lines = table.lines().map(|l| l.trim().to_string());
        lines.collect::<Vec<_>>().join("\n") + "\n"
    } else {
        "no pool members\n".to_string()
    };
    for p in pools {
        if let Some(former) = &p.former_name {
            let pool = &p.pool;
            out.push_str(&format!(
                "renamed: pool {pool} also serves instances tagged {former}, its name before\n"
            ));
        }
        for d in &p.declared_by {
            let status = d.stack_status.as_deref().unwrap_or("not read");
            let (pool, id, stack) = (&p.pool, &d.physical_id, &d.stack_id);
            let line = match d.retained {
                _ if stack.is_empty() => {
                    let claims = d.claims.unwrap_or(1);
                    let touched = d.touched.as_deref().unwrap_or("never");
                    format!(
                        "declared: pool {pool} by {id}, by invocation: {claims} claim(s), \
                         last touched {touched}\n"
                    )
                }
                true => {
                    format!("retained: pool {pool} ({id}) outlives its deleted stack {stack}\n")
                }
                false => format!("declared: pool {pool} by {id} in stack {stack} ({status})\n"),
            };
            out.push_str(&line);
        }
        for m in p.members.iter().filter(|m| !m.volumes.is_empty()) {
            for v in &m.volumes {
                let id = v.volume_id.as_deref().unwrap_or("-");
                let on = v
                    .attached_to
                    .as_deref()
                    .map_or(String::new(), |a| format!(" on {a}"));
                let (member, device, state) = (&m.interface_id, &v.device, &v.state);
                out.push_str(&format!(
                    "volume: {id} of member {member} at {device}: {state}{on}\n"
                ));
            }
        }
        for s in &p.stranded {
            out.push_str(&format!(
                "stranded: volume {} of member {} in pool {}: {}\n",
                s.volume_id, s.interface_id, s.pool, s.reason
            ));
        }
        for w in &p.waiting {
            out.push_str(&format!(
                "waiting: {} ({}) in pool {}\n",
                w.instance_id, w.availability_zone, p.pool
            ));
        }
        for s in &p.shortages {
            out.push_str(&shortage_line(s));
        }
    }
    out
}

fn shortage_line(s: &Shortage) -> String {
    let waiting = s.instance_ids.join(", ");
    let (pool, az) = (&s.pool, &s.availability_zone);
    format!("shortage: pool {pool} in {az}: {waiting} wait and no member is free\n")
}

/// What a sync did, in a few lines.
pub fn sync_summary(outcome: &Outcome, throttled: u64) -> String {
    let r = &outcome.report;
    let mut lines = vec![
        format!("attached {}", r.attached.len()),
        format!("detached {}", r.detached.len()),
    ];
    if !r.kept_on_termination.is_empty() {
        lines.push(format!(
            "kept on termination {}",
            r.kept_on_termination.len()
        ));
    }
    if !r.continued.is_empty() {
        lines.push(format!("lifecycle actions continued {}", r.continued.len()));
    }
    let left = r.left.len();
    if left > 0 {
        lines.push(format!(
            "left for the next sync {left} (the budget ran out)"
        ));
    }
    let (transient, permanent) = r.failed.iter().partition::<Vec<_>, _>(|f| f.is_transient());
    for (kind, failed) in [("transient", transient), ("permanent", permanent)] {
        for f in failed {
            let interface = f.interface_id.as_deref().unwrap_or("-");
            lines.push(format!(
                "failed ({kind}) {} {interface}: {}",
                f.instance_id, f.error
            ));
        }
    }
    for s in &r.shortages {
        lines.push(format!(
            "waiting in {} (pool {}): {}",
            s.availability_zone,
            s.pool,
            s.instance_ids.join(" ")
        ));
    }
    lines.push(format!("throttled attempts {throttled}"));
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// The plan as one line per action and shortage, with the reasons.
pub fn describe_plan(plan: &Plan) -> String {
    let mut out = String::new();
    for action in &plan.actions {
        let line = match action {
            Action::Detach(d) => format!(
                "detach {} from {} (pool {}): {}",
                d.interface_id, d.instance_id, d.pool, d.reason
            ),
            Action::Attach(a) => format!(
                "attach {} to {} at index {} (pool {}): {}",
                a.candidates[0].interface_id, a.instance_id, a.device_index, a.pool, a.reason
            ),
            Action::KeepOnTermination(k) => format!(
                "keep {} when {} terminates (pool {}): DeleteOnTermination is on",
                k.interface_id, k.instance_id, k.pool
            ),
            Action::Identify(i) if i.tags.is_empty() => format!(
                "remove the identity tags of {} (pool {}): it holds no member",
                i.instance_id, i.pool
            ),
            Action::Identify(i) => format!(
                "tag {} with its member's identity (pool {}): {}",
                i.instance_id,
                i.pool,
                i.tags
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Action::DetachVolume(d) => format!(
                "detach volume {} from stopped {} (pool {}): its member is not there",
                d.volume_id, d.instance_id, d.pool
            ),
            Action::AttachVolume(a) => format!(
                "attach volume {} to {} at {} (pool {}): it holds the volume's member",
                a.volume.volume_id, a.instance_id, a.volume.device, a.pool
            ),
        };
        out.push_str(&line);
        out.push('\n');
    }
    for s in &plan.shortages {
        out.push_str(&shortage_line(s));
    }
    for u in &plan.unusable {
        let (id, pool, why) = (&u.interface_id, &u.pool, &u.reason);
        out.push_str(&format!("unusable: {id} (pool {pool}): {why}\n"));
    }
    for s in &plan.stranded {
        let (volume, member, why) = (&s.volume_id, &s.interface_id, &s.reason);
        out.push_str(&format!("stranded: volume {volume} of {member}: {why}\n"));
    }
    if out.is_empty() {
        out.push_str("nothing to do\n");
    }
    out
}
