//! EC2 errors reduced to the few kinds the manager decides on.

use std::fmt;

/// What the manager does differently depending on the error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The interface is attached or in use elsewhere: try the next candidate.
    InUse,
    /// The instance already has an interface at that device index.
    DeviceIndexTaken,
    /// The interface, instance or attachment does not exist (or not yet).
    NotFound,
    /// Throttled or a transient server error: worth retrying later.
    Transient,
    /// Not sent: the pacing's next token came after the deadline (R23).
    Deferred,
    /// Anything else: permanent for this request.
    Other,
}

/// An error answered by EC2 (or by the transport), with its code kept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Ec2Error {
    pub kind: ErrorKind,
    pub code: String,
    pub message: String,
    /// The EC2 operation that failed, when known (e.g. `AttachNetworkInterface`).
    pub operation: Option<&'static str>,
}

impl fmt::Display for Ec2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(op) = self.operation {
            write!(f, "{op}: ")?;
        }
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl Ec2Error {
    /// Classifies an EC2 error code and message (EC2 API error codes).
    pub fn from_code(code: &str, message: &str) -> Self {
        Self {
            kind: classify(code, message),
            code: code.to_string(),
            message: message.to_string(),
            operation: None,
        }
    }

    /// The same error, naming the operation that failed.
    pub fn during(self, operation: &'static str) -> Self {
        Self {
            operation: Some(operation),
            ..self
        }
    }

    /// Whether the credentials may not call the operation.
    pub fn is_access_denied(&self) -> bool {
        self.code.starts_with("UnauthorizedOperation")
            || self.code.starts_with("AccessDenied")
            || self.code == "AuthFailure"
    }

    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind == kind
    }

    /// Worth trying again later: throttled, a server error, or not sent
    /// before the deadline.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::Transient | ErrorKind::Deferred)
    }
}

fn classify(code: &str, message: &str) -> ErrorKind {
    match code {
        "InvalidNetworkInterface.InUse" => ErrorKind::InUse,
        "InvalidParameterValue" if message.contains("already has an interface attached") => {
            ErrorKind::DeviceIndexTaken
        }
        // EC2 warns it may answer InvalidParameterValue for an ENI in use.
        "InvalidParameterValue" if message.contains("in use") => ErrorKind::InUse,
        "RequestLimitExceeded"
        | "Throttling"
        | "ThrottlingException"
        | "InternalError"
        | "InternalFailure"
        | "ServiceUnavailable"
        | "Unavailable"
        // Auto Scaling: "You already have a pending update to an Auto
        // Scaling resource" [ASG-API].
        | "ResourceContention" => ErrorKind::Transient,
        c if c.ends_with(".NotFound") => ErrorKind::NotFound,
        _ => ErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        let table = [
            ("InvalidNetworkInterface.InUse", "", ErrorKind::InUse),
            (
                "InvalidParameterValue",
                "Instance 'i-1' already has an interface attached at device index '1'",
                ErrorKind::DeviceIndexTaken,
            ),
            (
                "InvalidParameterValue",
                "Interface eni-1 is currently in use",
                ErrorKind::InUse,
            ),
            ("InvalidParameterValue", "bad subnet", ErrorKind::Other),
            ("InvalidInstanceID.NotFound", "", ErrorKind::NotFound),
            (
                "InvalidNetworkInterfaceID.NotFound",
                "",
                ErrorKind::NotFound,
            ),
            ("InvalidAttachmentID.NotFound", "", ErrorKind::NotFound),
            ("RequestLimitExceeded", "", ErrorKind::Transient),
            ("ServiceUnavailable", "", ErrorKind::Transient),
            ("ResourceContention", "", ErrorKind::Transient),
            ("UnauthorizedOperation", "", ErrorKind::Other),
        ];
        for (code, message, kind) in table {
            assert_eq!(Ec2Error::from_code(code, message).kind, kind, "{code}");
        }
    }
}
