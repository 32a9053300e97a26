//! What every AWS adapter shares: errors reduced to the few kinds the
//! manager decides on (EC2's, Auto Scaling's and CloudFormation's alike:
//! the codes are AWS's), and the tally of calls made. The only place an
//! error code is read; everyone else decides on `ErrorKind`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};

/// What the manager does differently depending on the error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The interface (or volume) is attached or in use elsewhere: try the
    /// next candidate.
    InUse,
    /// An Elastic IP address associated elsewhere, never moved.
    AlreadyAssociated,
    /// The instance already has an interface at that device index.
    DeviceIndexTaken,
    /// The resource does not exist (or not yet).
    NotFound(Missing),
    /// Not in a state for the call yet (a `pending` interface).
    IncorrectState,
    /// `RequestLimitExceeded`: the account's token bucket is empty.
    Throttled,
    /// A transient server error, or Auto Scaling's contention: retry later.
    Transient,
    /// No answer: a timeout, a connection that failed, a broken response.
    Unreachable,
    /// Never sent: the request could not be built (no credentials, say).
    Unsent,
    /// Not sent: the pacing's next token came after the deadline (R23).
    Deferred,
    /// These credentials may not call the operation.
    AccessDenied,
    /// An answer that no retry changes: "No active Lifecycle Action".
    AlreadyDone,
    /// Anything else: permanent for this request.
    Other,
}

impl ErrorKind {
    /// Worth trying again later: throttled, a server error, no answer, or
    /// not sent before the deadline.
    pub fn is_transient(self) -> bool {
        use ErrorKind::*;
        matches!(self, Throttled | Transient | Unreachable | Deferred)
    }
}

/// What a `NotFound` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    Interface,
    Instance,
    Attachment,
    /// An Elastic IP allocation or association.
    Address,
    /// A stack CloudFormation does not know.
    Stack,
    /// An EBS volume.
    Volume,
    Other,
}

/// An error answered by AWS (or by the transport), with its code kept for
/// the logs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct AwsError {
    pub kind: ErrorKind,
    pub code: String,
    pub message: String,
    /// The operation that failed, when known (e.g. `AttachNetworkInterface`).
    pub operation: Option<&'static str>,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(op) = self.operation {
            write!(f, "{op}: ")?;
        }
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl AwsError {
    /// Classifies an AWS error code and message.
    pub fn from_code(code: &str, message: &str) -> Self {
        Self {
            kind: classify(code, message),
            code: code.to_string(),
            message: message.to_string(),
            operation: None,
        }
    }

    /// An error of `kind`, whatever its code says.
    pub fn of_kind(kind: ErrorKind, code: &str, message: &str) -> Self {
        Self {
            kind,
            ..Self::from_code(code, message)
        }
    }

    /// The same error, naming the operation that failed.
    pub fn during(self, operation: &'static str) -> Self {
        Self {
            operation: Some(operation),
            ..self
        }
    }

    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind == kind
    }

    /// The resource is gone, whichever it is.
    pub fn is_not_found(&self) -> bool {
        matches!(self.kind, ErrorKind::NotFound(_))
    }

    /// Worth trying again later (see `ErrorKind::is_transient`).
    pub fn is_transient(&self) -> bool {
        self.kind.is_transient()
    }
}

fn classify(code: &str, message: &str) -> ErrorKind {
    use ErrorKind::*;
    match code {
        "InvalidNetworkInterface.InUse" => InUse,
        // A fixed private address, or an Elastic IP still associated.
        "InvalidIPAddress.InUse" => InUse,
        // An EBS volume attached, or attached elsewhere [EC2-ERR].
        "VolumeInUse" => InUse,
        "Resource.AlreadyAssociated" => AlreadyAssociated,
        "InvalidParameterValue" if message.contains("already has an interface attached") => {
            DeviceIndexTaken
        }
        // A volume's device name taken on the instance ("Attachment point
        // /dev/sdf is already in use"): no other volume fixes it.
        "InvalidParameterValue" if message.contains("Attachment point") => Other,
        // EC2 warns it may answer InvalidParameterValue for an ENI in use.
        "InvalidParameterValue" if message.contains("in use") => InUse,
        "IncorrectState" => IncorrectState,
        "RequestLimitExceeded" | "Throttling" | "ThrottlingException" => Throttled,
        "InternalError" | "InternalFailure" | "ServiceUnavailable" | "Unavailable"
        // Auto Scaling: "You already have a pending update to an Auto
        // Scaling resource" [ASG-API].
        | "ResourceContention" => Transient,
        "InvalidNetworkInterfaceID.NotFound" => NotFound(Missing::Interface),
        "InvalidInstanceID.NotFound" => NotFound(Missing::Instance),
        "InvalidAttachmentID.NotFound" => NotFound(Missing::Attachment),
        "InvalidVolume.NotFound" => NotFound(Missing::Volume),
        "InvalidAllocationID.NotFound" | "InvalidAssociationID.NotFound" => {
            NotFound(Missing::Address)
        }
        c if c.ends_with(".NotFound") => NotFound(Missing::Other),
        "AuthFailure" => AccessDenied,
        c if c.starts_with("UnauthorizedOperation") || c.starts_with("AccessDenied") => {
            AccessDenied
        }
        // [ISS-TOKEN]: completed before, or timed out.
        "ValidationError" if message.contains("No active Lifecycle Action") => AlreadyDone,
        // [CFN-DESCRIBE]: a stack id CloudFormation does not know.
        "ValidationError" if message.contains("does not exist") => NotFound(Missing::Stack),
        _ => Other,
    }
}

/// An AWS SDK error reduced to our kinds (any SDK's: they share the error
/// type and the codes are AWS's).
pub fn from_sdk<E, R>(err: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    if let Some(code) = err.code() {
        return AwsError::from_code(code, err.message().unwrap_or_default());
    }
    let kind = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => ErrorKind::Unreachable,
        SdkError::ResponseError(_) => ErrorKind::Unreachable,
        _ => ErrorKind::Unsent,
    };
    let mut message = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    AwsError::of_kind(kind, "Transport", &message)
}

/// Calls made, by operation name: one per request (a page), SDK retries not
/// counted.
pub type CallCounts = BTreeMap<&'static str, u64>;

/// A thread-safe tally of calls, kept by each adapter.
#[derive(Debug, Default)]
pub struct CallCounter(Mutex<CallCounts>);

impl CallCounter {
    pub fn count(&self, operation: &'static str) {
        *self
            .0
            .lock()
            .expect("call counter poisoned")
            .entry(operation)
            .or_default() += 1;
    }

    pub fn snapshot(&self) -> CallCounts {
        self.0.lock().expect("call counter poisoned").clone()
    }
}

/// Total of a call tally.
pub fn total_calls(counts: &CallCounts) -> u64 {
    counts.values().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        use ErrorKind::*;
        let table = [
            ("InvalidNetworkInterface.InUse", "", InUse),
            (
                "InvalidParameterValue",
                "Instance 'i-1' already has an interface attached at device index '1'",
                DeviceIndexTaken,
            ),
            (
                "InvalidParameterValue",
                "Interface eni-1 is currently in use",
                InUse,
            ),
            ("InvalidParameterValue", "bad subnet", Other),
            ("VolumeInUse", "vol-1 is already attached", InUse),
            (
                "InvalidParameterValue",
                "Attachment point /dev/sdf is already in use",
                Other,
            ),
            ("InvalidVolume.NotFound", "", NotFound(Missing::Volume)),
            (
                "InvalidInstanceID.NotFound",
                "",
                NotFound(Missing::Instance),
            ),
            (
                "InvalidNetworkInterfaceID.NotFound",
                "",
                NotFound(Missing::Interface),
            ),
            (
                "InvalidAttachmentID.NotFound",
                "",
                NotFound(Missing::Attachment),
            ),
            ("InvalidSubnetID.NotFound", "", NotFound(Missing::Other)),
            (
                "InvalidAllocationID.NotFound",
                "",
                NotFound(Missing::Address),
            ),
            (
                "InvalidAssociationID.NotFound",
                "",
                NotFound(Missing::Address),
            ),
            ("Resource.AlreadyAssociated", "", AlreadyAssociated),
            ("InvalidIPAddress.InUse", "", InUse),
            ("IncorrectState", "pending", IncorrectState),
            ("RequestLimitExceeded", "", Throttled),
            ("ServiceUnavailable", "", Transient),
            ("ResourceContention", "", Transient),
            ("UnauthorizedOperation", "", AccessDenied),
            ("AccessDeniedException", "", AccessDenied),
            ("AuthFailure", "", AccessDenied),
            (
                "ValidationError",
                "No active Lifecycle Action found with token t",
                AlreadyDone,
            ),
            (
                "ValidationError",
                "Stack with id s does not exist",
                NotFound(Missing::Stack),
            ),
            ("ValidationError", "bad", Other),
        ];
        for (code, message, kind) in table {
            assert_eq!(AwsError::from_code(code, message).kind, kind, "{code}");
        }
    }

    #[test]
    fn only_throttling_server_errors_no_answer_and_deferral_are_transient() {
        use ErrorKind::*;
        let transient = [Throttled, Transient, Unreachable, Deferred];
        let permanent = [
            InUse,
            NotFound(Missing::Interface),
            Unsent,
            AccessDenied,
            Other,
        ];
        for kind in transient {
            assert!(AwsError::of_kind(kind, "X", "").is_transient(), "{kind:?}");
        }
        for kind in permanent {
            assert!(!AwsError::of_kind(kind, "X", "").is_transient(), "{kind:?}");
        }
    }
}
