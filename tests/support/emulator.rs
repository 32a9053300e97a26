//! The Lambda runtime emulator (docs/design.md, T4): `cargo lambda watch
//! --only-lambda-apis` serves the Runtime API, the built binary runs against
//! it as it runs on Lambda, and `cargo lambda invoke` sends the events.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Emulator {
    api: Child,
    function: Child,
    port: u16,
}

fn cargo_lambda() -> PathBuf {
    super::tool("CARGO_LAMBDA", "cargo-lambda", "cargo-lambda")
}

impl Emulator {
    /// Starts the emulator and the function, whose EC2 is `ec2_endpoint`.
    pub fn start(ec2_endpoint: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let api = Command::new(cargo_lambda())
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cargo lambda watch starts");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "emulator did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let function = Command::new(env!("CARGO_BIN_EXE_network-interface-manager"))
            .env_clear()
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt"),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_ENDPOINT_URL", ec2_endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the function starts");
        Self {
            api,
            function,
            port,
        }
    }

    /// Invokes the function with `event` through `cargo lambda invoke` and
    /// returns what it answered.
    /// The function's result, which must be a success.
    pub fn invoke(&self, event: &Value) -> Value {
        let (ok, stdout, stderr) = self.call(event);
        assert!(ok, "invoke failed: {stdout} {stderr}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    }

    /// The function error an invocation must end in, as the caller sees it.
    pub fn invoke_failing(&self, event: &Value) -> String {
        let (ok, stdout, stderr) = self.call(event);
        assert!(!ok, "invoke succeeded: {stdout}");
        format!("{stdout}{stderr}")
    }

    fn call(&self, event: &Value) -> (bool, String, String) {
        let out = Command::new(cargo_lambda())
            .args(["lambda", "invoke", "-A", "127.0.0.1", "-P"])
            .arg(self.port.to_string())
            .arg("--data-ascii")
            .arg(event.to_string())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo lambda invoke runs");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        for child in [&mut self.function, &mut self.api] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
