//! The `vwifi-cni` binary: a CNI plugin run by a container runtime (podman, containerd,
//! Kubernetes) with `CNI_*` variables and the network configuration on stdin. See the
//! library's documentation.

use std::io::{Read as _, Write as _};
use std::process::ExitCode;

use vwifi_cni::error::{self, CniError};
use vwifi_cni::plugin::{self, Env};

fn main() -> ExitCode {
    let env = Env::from_process();
    let mut stdin = Vec::new();
    let read = std::io::stdin()
        .take(1024 * 1024)
        .read_to_end(&mut stdin)
        .map_err(|e| {
            CniError::new(error::IO_FAILURE, "cannot read the configuration")
                .with_details(e.to_string())
        });
    let outcome = read.and_then(|_| plugin::run(&env, &stdin));
    let mut out = std::io::stdout().lock();
    match outcome {
        Ok(text) => {
            if !text.is_empty() {
                let _ = writeln!(out, "{text}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            let version = serde_json::from_slice::<serde_json::Value>(&stdin)
                .ok()
                .and_then(|v| v["cniVersion"].as_str().map(str::to_owned))
                .unwrap_or_else(|| plugin::SUPPORTED_VERSIONS[0].to_owned());
            let _ = writeln!(out, "{}", e.to_json(&version));
            ExitCode::FAILURE
        }
    }
}
