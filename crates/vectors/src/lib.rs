//! The official MLS test vectors (`mls-implementations/test-vectors`, formats in
//! `test-vectors/FORMATS.md`) run against every Conclave crypto provider.
//!
//! Each vector file has a checker module. A checker receives the parsed JSON and the
//! providers, and records one check per test case and provider that supports the case's
//! cipher suite (one check per case for suite-independent files such as `tree-math`). The
//! `conclave-vectors` binary and the test suite both call [`run_dir`], so CI fails exactly when
//! the conformance command would report a failure.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider};

pub mod checks;
mod hexjson;

pub use hexjson::{HexError, field_hex, field_str, field_u64};

/// Where the vectors are: `$MLS_TEST_VECTORS`, else `../shared/test-vectors` relative to the
/// workspace root.
pub fn default_vector_dir() -> PathBuf {
    match std::env::var_os("MLS_TEST_VECTORS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/test-vectors"),
    }
}

/// Every crypto backend we ship, default first.
pub fn all_providers() -> Vec<Box<dyn CryptoProvider>> {
    vec![
        Box::new(conclave_crypto_awslc::AwsLcProvider),
        Box::new(conclave_crypto_rustcrypto::RustCryptoProvider),
    ]
}

/// Pass/fail tally of one vector file.
#[derive(Debug, Default)]
pub struct Report {
    /// Checks that passed.
    pub passed: usize,
    /// Descriptions of the checks that failed.
    pub failures: Vec<String>,
}

impl Report {
    /// Records the outcome of one check.
    pub fn record(&mut self, what: impl FnOnce() -> String, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => self.passed += 1,
            Err(reason) => self.failures.push(format!("{}: {reason}", what())),
        }
    }

    /// Total number of checks.
    pub fn total(&self) -> usize {
        self.passed + self.failures.len()
    }

    /// Runs `check` once per provider that supports `suite`; a suite that no provider
    /// supports is a failure, not a skip.
    pub fn for_each_provider(
        &mut self,
        providers: &[Box<dyn CryptoProvider>],
        suite: u64,
        case: usize,
        mut check: impl FnMut(&dyn CipherSuiteProvider) -> Result<(), String>,
    ) {
        let Ok(suite) = u16::try_from(suite) else {
            self.record(
                || format!("case {case}"),
                Err(format!("suite {suite} out of range")),
            );
            return;
        };
        let mut ran = false;
        for provider in providers {
            if let Some(cs) = provider.cipher_suite_provider(CipherSuite(suite)) {
                ran = true;
                let outcome = check(cs.as_ref());
                self.record(
                    || format!("case {case} suite {suite} [{}]", provider.name()),
                    outcome,
                );
            }
        }
        if !ran {
            self.record(
                || format!("case {case} suite {suite}"),
                Err("no provider supports this cipher suite".into()),
            );
        }
    }
}

impl Report {
    /// Runs `check` on every case of a file whose cases name a `cipher_suite`, once per
    /// provider that supports it (see [`Report::for_each_provider`]).
    pub fn check_suite_cases(
        &mut self,
        json: &serde_json::Value,
        providers: &[Box<dyn CryptoProvider>],
        mut check: impl FnMut(&dyn CipherSuiteProvider, &serde_json::Value) -> Result<(), String>,
    ) {
        for (i, case) in cases(json) {
            match field_u64(case, "cipher_suite") {
                Ok(suite) => self.for_each_provider(providers, suite, i, |cs| check(cs, case)),
                Err(e) => self.record(|| format!("case {i}"), Err(e)),
            }
        }
    }
}

/// The outcome for one file.
#[derive(Debug)]
pub enum FileOutcome {
    /// The file was checked.
    Checked(Report),
    /// We have no checker for this file yet.
    Unsupported,
    /// The file could not be read or parsed.
    Unreadable(String),
}

/// A vector file name and its checker (`None`: not handled yet).
pub type Checker = fn(&serde_json::Value, &[Box<dyn CryptoProvider>], &mut Report);

/// Runs every `*.json` file in `dir` (sorted by name). Fails if `dir` is missing or has no
/// vector files, so a missing vector directory can never look like success.
pub fn run_dir(
    dir: &Path,
    providers: &[Box<dyn CryptoProvider>],
) -> Result<Vec<(String, FileOutcome)>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read test-vector directory {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no *.json test vectors in {}", dir.display()));
    }
    Ok(files
        .iter()
        .map(|path| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let outcome = run_file(path, &name, providers);
            (name, outcome)
        })
        .collect())
}

/// Runs one vector file through its checker (by file name).
pub fn run_file(path: &Path, name: &str, providers: &[Box<dyn CryptoProvider>]) -> FileOutcome {
    let Some(checker) = checks::checker_for(name) else {
        return FileOutcome::Unsupported;
    };
    let json = match std::fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
    {
        Ok(json) => json,
        Err(e) => return FileOutcome::Unreadable(e),
    };
    let mut report = Report::default();
    checker(&json, providers, &mut report);
    FileOutcome::Checked(report)
}

/// Iterates over the test cases of a vector file (a JSON array).
pub fn cases(json: &serde_json::Value) -> impl Iterator<Item = (usize, &serde_json::Value)> {
    json.as_array().into_iter().flatten().enumerate()
}

/// A vector's signature secret key in the form the providers take. ECDSA keys are
/// big-endian scalars of the curve's length (FORMATS.md); the vectors sometimes drop leading
/// zero bytes (a 65-byte P-521 key), so those are restored.
pub fn signature_secret_key(
    cs: &dyn CipherSuiteProvider,
    mut key: Vec<u8>,
) -> Result<conclave_crypto::Secret, String> {
    use conclave_crypto::SignatureAlgorithm;
    let scalar_len = match cs.signature() {
        SignatureAlgorithm::EcdsaP256Sha256 => Some(32),
        SignatureAlgorithm::EcdsaP384Sha384 => Some(48),
        SignatureAlgorithm::EcdsaP521Sha512 => Some(66),
        _ => None,
    };
    if let Some(len) = scalar_len
        && key.len() < len
    {
        let mut padded = vec![0; len - key.len()];
        padded.append(&mut key);
        key = padded;
    }
    Ok(conclave_crypto::Secret::new(key))
}

/// A vector's HPKE secret key in the form the providers take: NIST-curve scalars are
/// left-padded to `Nsk` bytes (the vectors sometimes drop leading zero bytes of a P-521 key).
pub fn hpke_secret_key(cs: &dyn CipherSuiteProvider, mut key: Vec<u8>) -> conclave_crypto::Secret {
    let kem = cs.kem();
    let len = kem.secret_key_len();
    if kem.is_nist_curve() && key.len() < len {
        let mut padded = vec![0; len - key.len()];
        padded.append(&mut key);
        key = padded;
    }
    conclave_crypto::Secret::new(key)
}
