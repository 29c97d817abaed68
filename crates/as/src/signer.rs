//! Certificate signing through our own crypto providers: rcgen builds the certificates,
//! every signature is made by a [`CipherSuiteProvider`] (no second crypto library).

use conclave_crypto::{CipherSuiteProvider, Secret, SignatureAlgorithm};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyUsagePurpose,
    SanType, SerialNumber,
};
use time::OffsetDateTime;

use crate::{AsError, identity_uri};

/// The rcgen algorithm of a suite's signature scheme. rcgen has no Ed448 and no
/// P-521 with SHA-512, so the AS runs on suites 1, 2, 3 and 7 and on every post-quantum
/// suite of draft-ietf-mls-pq-ciphersuites: TBD1–TBD8 sign with Ed25519 or ECDSA, TBD9–TBD11
/// with ML-DSA-44/65/87, for which the certificates use the RFC 9881 identifiers
/// (id-ml-dsa-44/65/87 as both the key and the signature algorithm, parameters absent; the
/// key is the raw public key, the signature pure ML-DSA with an empty context).
fn rcgen_algorithm(
    scheme: SignatureAlgorithm,
) -> Result<&'static rcgen::SignatureAlgorithm, AsError> {
    match scheme {
        SignatureAlgorithm::Ed25519 => Ok(&rcgen::PKCS_ED25519),
        SignatureAlgorithm::EcdsaP256Sha256 => Ok(&rcgen::PKCS_ECDSA_P256_SHA256),
        SignatureAlgorithm::EcdsaP384Sha384 => Ok(&rcgen::PKCS_ECDSA_P384_SHA384),
        SignatureAlgorithm::MlDsa44 => Ok(&rcgen::PKCS_ML_DSA_44),
        SignatureAlgorithm::MlDsa65 => Ok(&rcgen::PKCS_ML_DSA_65),
        SignatureAlgorithm::MlDsa87 => Ok(&rcgen::PKCS_ML_DSA_87),
        other => Err(AsError::Certificate(format!(
            "signature scheme {other:?} is not supported for certificates (use suite 1, 2, 3 \
             or 7, or a post-quantum suite)"
        ))),
    }
}

fn certificate_error(e: rcgen::Error) -> AsError {
    AsError::Certificate(e.to_string())
}

fn date(seconds: u64) -> Result<OffsetDateTime, AsError> {
    let seconds =
        i64::try_from(seconds).map_err(|_| AsError::Certificate("time overflow".into()))?;
    OffsetDateTime::from_unix_timestamp(seconds).map_err(|e| AsError::Certificate(e.to_string()))
}

/// A signature key pair held by a provider, usable by rcgen as the signing key.
pub struct ProviderSigner {
    cs: Box<dyn CipherSuiteProvider>,
    secret: Secret,
    public: Vec<u8>,
    algorithm: &'static rcgen::SignatureAlgorithm,
}

impl core::fmt::Debug for ProviderSigner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ProviderSigner")
            .field("suite", &self.cs.cipher_suite())
            .finish_non_exhaustive()
    }
}

/// Only a public key, for the subject of a certificate.
struct SubjectKey<'a> {
    public: &'a [u8],
    algorithm: &'static rcgen::SignatureAlgorithm,
}

impl rcgen::PublicKeyData for SubjectKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.public
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.algorithm
    }
}

impl rcgen::PublicKeyData for ProviderSigner {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.algorithm
    }
}

impl rcgen::SigningKey for ProviderSigner {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.cs
            .sign(self.secret.as_bytes(), msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

impl ProviderSigner {
    /// Wraps a key pair of `cs`'s signature scheme.
    pub fn new(
        cs: Box<dyn CipherSuiteProvider>,
        secret: Secret,
        public: Vec<u8>,
    ) -> Result<Self, AsError> {
        let algorithm = rcgen_algorithm(cs.signature())?;
        Ok(Self {
            cs,
            secret,
            public,
            algorithm,
        })
    }

    /// The provider of the signer's suite.
    pub fn provider(&self) -> &dyn CipherSuiteProvider {
        self.cs.as_ref()
    }

    /// Gives back the provider (dropping, and so zeroizing, the private key).
    pub fn into_provider(self) -> Box<dyn CipherSuiteProvider> {
        self.cs
    }

    /// The signer's public key.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// `len` bytes derived from the private key for the purpose `info` (HKDF of the suite:
    /// `Expand(Extract("", secret), info, len)`), so that a second key of the AS needs no
    /// storage of its own and never equals the root key.
    pub(crate) fn derive_secret(&self, info: &[u8], len: usize) -> Result<Secret, AsError> {
        let prk = self.cs.kdf_extract(&[], self.secret.as_bytes());
        Ok(self.cs.kdf_expand(prk.as_bytes(), info, len)?)
    }

    /// A self-signed CA certificate named `common_name`, valid from `now` for `lifetime`.
    pub fn self_signed_root(
        &self,
        common_name: &str,
        now: u64,
        lifetime: u64,
    ) -> Result<Vec<u8>, AsError> {
        let params = self.root_params(common_name, now, lifetime)?;
        Ok(params
            .self_signed(self)
            .map_err(certificate_error)?
            .der()
            .to_vec())
    }

    fn root_params(
        &self,
        common_name: &str,
        now: u64,
        lifetime: u64,
    ) -> Result<CertificateParams, AsError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(certificate_error)?;
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = date(now.saturating_sub(60))?;
        params.not_after = date(now.saturating_add(lifetime))?;
        params.serial_number = Some(SerialNumber::from_slice(&[1]));
        Ok(params)
    }

    /// Issues a client certificate for `name` (subjectAltName URI `mls://<name>`, common name
    /// `name`) over `client_key`, signed by this root (named `root_common_name`).
    pub fn issue_client_certificate(
        &self,
        root_common_name: &str,
        name: &str,
        client_key: &[u8],
        serial: u64,
        now: u64,
        lifetime: u64,
    ) -> Result<Vec<u8>, AsError> {
        let root_params = self.root_params(root_common_name, 0, 0)?;
        let issuer = Issuer::from_params(&root_params, self);
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(certificate_error)?;
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        let uri = identity_uri(name)
            .try_into()
            .map_err(|e: rcgen::Error| certificate_error(e))?;
        params.subject_alt_names = vec![SanType::URI(uri)];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = date(now.saturating_sub(60))?;
        params.not_after = date(now.saturating_add(lifetime))?;
        params.serial_number = Some(SerialNumber::from_slice(&serial.to_be_bytes()));
        params.use_authority_key_identifier_extension = true;
        let subject = SubjectKey {
            public: client_key,
            algorithm: self.algorithm,
        };
        Ok(params
            .signed_by(&subject, &issuer)
            .map_err(certificate_error)?
            .der()
            .to_vec())
    }
}
