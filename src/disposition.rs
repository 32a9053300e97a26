//! What an invocation's outcome means for Lambda, decided in one place (as
//! kube-rs's `error_policy`): done, retry (Lambda delivers the event again),
//! or done with a permanent failure (a retry cannot fix it). Every failure is
//! logged here, once: transient ones at `warn`, permanent ones at `error`.

use crate::aws::AwsError;
use serde::Serialize;

use crate::pool::Report;

/// The verdict on one invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Disposition {
    Done,
    /// Some work failed for a reason that may pass: deliver the event again.
    Retry {
        failures: usize,
    },
    /// Some work failed for good; the rest is done. Not retried.
    DoneWithPermanentFailure {
        failures: usize,
    },
    /// The caller's own request failed (a declaration by invocation, C15):
    /// a function error tells it so. Lambda retries no synchronous call.
    Failed,
}

impl Disposition {
    /// After CloudFormation got its answer, nothing is retried (C5): a
    /// retry would answer twice. The schedule repairs the rest.
    pub fn after_answer(self) -> Self {
        match self {
            Self::Retry { failures } => Self::DoneWithPermanentFailure { failures },
            other => other,
        }
    }
}

/// Logs each failure of a report once; the handler calls it once.
pub fn log(report: &Report) {
    for f in &report.failed {
        let code = f.code.as_deref().unwrap_or("-");
        let interface = f.interface_id.as_deref().unwrap_or("-");
        if f.is_transient() {
            tracing::warn!(pool = %f.pool, interface, instance = %f.instance_id, code, error = %f.error, "action failed; the event will be retried");
        } else {
            tracing::error!(pool = %f.pool, interface, instance = %f.instance_id, code, error = %f.error, "action failed");
        }
    }
    if !report.left.is_empty() {
        let mut by_kind = std::collections::BTreeMap::new();
        for l in &report.left {
            *by_kind.entry(l.action).or_insert(0) += 1;
        }
        tracing::info!(left = ?by_kind, "actions left for later: the deadline came first");
    }
    for u in &report.unusable {
        tracing::warn!(pool = %u.pool, interface = %u.interface_id, reason = %u.reason, "member cannot be used");
    }
}

/// The verdict on an event's report: work left undone is retried (R24).
pub fn of_report(report: &Report) -> Disposition {
    let left = report.left.len();
    match of_sync(report) {
        Disposition::Retry { failures } => Disposition::Retry {
            failures: failures + left,
        },
        _ if left > 0 => Disposition::Retry { failures: left },
        verdict => verdict,
    }
}

/// The verdict on a sync's report: work left undone is the next sync's,
/// which continues from fresh reads (R24).
pub fn of_sync(report: &Report) -> Disposition {
    let transient = report.failed.iter().filter(|f| f.is_transient()).count();
    let permanent = report.failed.len() - transient;
    match (transient, permanent) {
        (0, 0) => Disposition::Done,
        (0, failures) => Disposition::DoneWithPermanentFailure { failures },
        (failures, _) => Disposition::Retry { failures },
    }
}

/// The verdict on a read that failed before anything was done.
pub fn of_read_error(error: &AwsError) -> Disposition {
    if error.is_transient() {
        Disposition::Retry { failures: 1 }
    } else {
        Disposition::DoneWithPermanentFailure { failures: 1 }
    }
}

/// Logs a failed read once; the handler calls it once.
pub fn log_read_error(error: &AwsError) {
    match of_read_error(error) {
        Disposition::Retry { .. } => {
            tracing::warn!(code = %error.code, error = %error, "reading EC2 failed; the event will be retried")
        }
        _ => tracing::error!(code = %error.code, error = %error, "reading EC2 failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ErrorKind;
    use crate::pool::report::{Failed, Left, LeftAction};

    fn left(n: usize) -> Vec<Left> {
        let one = Left {
            action: LeftAction::Attach,
            pool: "web".into(),
            instance_id: "i-1".into(),
        };
        vec![one; n]
    }

    fn failure(transient: bool) -> Failed {
        Failed {
            pool: "web".into(),
            instance_id: "i-1".into(),
            interface_id: None,
            code: Some("X".into()),
            error: "x".into(),
            kind: match transient {
                true => ErrorKind::Throttled,
                false => ErrorKind::AccessDenied,
            },
        }
    }

    #[test]
    fn a_transient_failure_asks_for_a_retry_even_beside_a_permanent_one() {
        let table = [
            (vec![], Disposition::Done),
            (
                vec![false],
                Disposition::DoneWithPermanentFailure { failures: 1 },
            ),
            (vec![true, false], Disposition::Retry { failures: 1 }),
            (vec![true, true], Disposition::Retry { failures: 2 }),
        ];
        for (failures, expected) in table {
            let report = Report {
                failed: failures.into_iter().map(failure).collect(),
                ..Report::default()
            };
            assert_eq!(of_report(&report), expected);
        }
    }

    #[test]
    fn work_left_is_retried_after_an_event_and_left_to_the_next_sync() {
        let mut report = Report {
            left: left(3),
            ..Report::default()
        };
        assert_eq!(of_report(&report), Disposition::Retry { failures: 3 });
        assert_eq!(of_sync(&report), Disposition::Done);
        report.failed.push(failure(true));
        assert_eq!(of_report(&report), Disposition::Retry { failures: 4 });
        assert_eq!(of_sync(&report), Disposition::Retry { failures: 1 });
    }

    /// The lines `log` writes for `report`, as an operator reads them.
    fn logged(report: &Report) -> String {
        logged_with(|| log(report))
    }

    /// The lines `write` logs.
    fn logged_with(write: impl FnOnce()) -> String {
        use std::sync::{Arc, Mutex};
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || Writer(sink.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, write);
        let bytes = buffer.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    struct Writer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Writer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_read_is_logged_once_as_retried_or_not() {
        let lines = |e: &AwsError| logged_with(|| log_read_error(e));
        let throttled = lines(&AwsError::from_code("RequestLimitExceeded", "slow down"));
        assert_eq!(throttled.lines().count(), 1, "{throttled}");
        assert!(throttled.contains("WARN") && throttled.contains("will be retried"));
        let denied = lines(&AwsError::from_code("UnauthorizedOperation", "no"));
        assert_eq!(denied.lines().count(), 1, "{denied}");
        assert!(
            denied.contains("ERROR") && !denied.contains("retried"),
            "{denied}"
        );
    }

    #[test]
    fn each_failure_is_logged_once_at_its_level_and_work_left_is_said() {
        let report = Report {
            failed: vec![failure(true), failure(false)],
            ..Report::default()
        };
        let lines = logged(&report);
        assert_eq!(lines.lines().count(), 2, "{lines}");
        assert!(lines.contains("WARN") && lines.contains("the event will be retried"));
        assert!(lines.contains("ERROR") && lines.contains("action failed"));
        assert!(!lines.contains("left"), "{lines}");

        let left = Report {
            left: left(2),
            ..Report::default()
        };
        let lines = logged(&left);
        assert_eq!(lines.lines().count(), 1, "{lines}");
        assert!(lines.contains("actions left for later"), "{lines}");
    }

    #[test]
    fn after_the_answer_nothing_is_retried() {
        let retry = Disposition::Retry { failures: 1 };
        assert_eq!(
            retry.after_answer(),
            Disposition::DoneWithPermanentFailure { failures: 1 }
        );
        assert_eq!(Disposition::Done.after_answer(), Disposition::Done);
    }

    #[test]
    fn read_errors_retry_only_when_transient() {
        let throttled = AwsError::from_code("RequestLimitExceeded", "slow down");
        let denied = AwsError::from_code("UnauthorizedOperation", "no");
        assert_eq!(
            of_read_error(&throttled),
            Disposition::Retry { failures: 1 }
        );
        assert_eq!(
            of_read_error(&denied),
            Disposition::DoneWithPermanentFailure { failures: 1 }
        );
    }
}
