//! The labelled cryptographic functions of MLS (RFC 9420 §5.1.2, §5.1.3, §5.2, §8, §9).
//!
//! Every MLS use of the KDF, signatures, public-key encryption and reference hashes goes
//! through a labelled construction that binds the operation to its purpose:
//!
//! * [`expand_with_label`], [`derive_secret`] (RFC 9420 §8) and [`derive_tree_secret`]
//!   (RFC 9420 §9), over `KDFLabel`;
//! * [`sign_with_label`] / [`verify_with_label`] (RFC 9420 §5.1.2), over `SignContent`;
//! * [`encrypt_with_label`] / [`decrypt_with_label`] (RFC 9420 §5.1.3), HPKE base mode with
//!   `info = EncryptContext` and empty associated data;
//! * the `*_bytes` variants of the signing and encryption functions take the label as bytes
//!   rather than a string: the Safe Application Interface of draft-ietf-mls-extensions-10
//!   (§4.2, §4.3) puts a serialized `ComponentOperationLabel` where RFC 9420 has a string;
//! * [`ref_hash`], [`make_key_package_ref`], [`make_proposal_ref`] (RFC 9420 §5.2);
//! * [`derive_key_pair`]: the KEM's `DeriveKeyPair` used on node, path and external
//!   secrets (RFC 9420 §5.1, §7.4, §8).
//!
//! Variable-length vectors are encoded with the MLS varint (RFC 9420 §2.1.2) via
//! `conclave-codec`.

use conclave_codec::{CodecError, write_opaque};

use crate::hpke::{self, HpkeKeyPair};
use crate::{CipherSuiteProvider, CryptoError, CryptoRandom, Secret};

/// The prefix of every MLS label (RFC 9420 §5.1.2, §5.1.3, §8).
pub const MLS_LABEL_PREFIX: &str = "MLS 1.0 ";

/// `RefHash` label of a `KeyPackageRef` (RFC 9420 §5.2).
pub const KEY_PACKAGE_REF_LABEL: &str = "MLS 1.0 KeyPackage Reference";

/// `RefHash` label of a `ProposalRef` (RFC 9420 §5.2).
pub const PROPOSAL_REF_LABEL: &str = "MLS 1.0 Proposal Reference";

fn encoding_error(e: CodecError) -> CryptoError {
    CryptoError::Encoding(e.to_string())
}

/// Writes `opaque label<V> = "MLS 1.0 " + label`. The label is bytes: RFC 9420's own
/// labels are ASCII strings, but the Safe Application Interface puts a serialized
/// `ComponentOperationLabel` in its place (draft-ietf-mls-extensions-10 §4.2, §4.3).
fn write_mls_label(out: &mut Vec<u8>, label: &[u8]) -> Result<(), CryptoError> {
    let mut full = Vec::with_capacity(MLS_LABEL_PREFIX.len() + label.len());
    full.extend_from_slice(MLS_LABEL_PREFIX.as_bytes());
    full.extend_from_slice(label);
    write_opaque(out, &full).map_err(encoding_error)
}

/// Encodes `struct { opaque label<V>; opaque second<V>; }` with the MLS label prefix
/// (`SignContent`, `EncryptContext`; RFC 9420 §5.1.2, §5.1.3).
fn labelled_pair(label: &[u8], second: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::with_capacity(MLS_LABEL_PREFIX.len() + label.len() + second.len() + 8);
    write_mls_label(&mut out, label)?;
    write_opaque(&mut out, second).map_err(encoding_error)?;
    Ok(out)
}

// ---- key schedule (RFC 9420 §8, §9) --------------------------------------------------------

/// Encodes `KDFLabel { uint16 length; opaque label<V>; opaque context<V>; }` with
/// `label = "MLS 1.0 " + label` (RFC 9420 §8).
pub fn kdf_label(label: &str, context: &[u8], length: usize) -> Result<Vec<u8>, CryptoError> {
    let length16 = u16::try_from(length).map_err(|_| CryptoError::InvalidLength {
        what: "ExpandWithLabel output",
        len: length,
    })?;
    let mut out = Vec::with_capacity(2 + MLS_LABEL_PREFIX.len() + label.len() + context.len() + 8);
    out.extend_from_slice(&length16.to_be_bytes());
    write_mls_label(&mut out, label.as_bytes())?;
    write_opaque(&mut out, context).map_err(encoding_error)?;
    Ok(out)
}

/// `ExpandWithLabel(Secret, Label, Context, Length) = KDF.Expand(Secret, KDFLabel, Length)`
/// (RFC 9420 §8).
pub fn expand_with_label(
    cs: &dyn CipherSuiteProvider,
    secret: &[u8],
    label: &str,
    context: &[u8],
    length: usize,
) -> Result<Secret, CryptoError> {
    let info = kdf_label(label, context, length)?;
    cs.kdf_expand(secret, &info, length)
}

/// `DeriveSecret(Secret, Label) = ExpandWithLabel(Secret, Label, "", KDF.Nh)`
/// (RFC 9420 §8).
pub fn derive_secret(
    cs: &dyn CipherSuiteProvider,
    secret: &[u8],
    label: &str,
) -> Result<Secret, CryptoError> {
    expand_with_label(cs, secret, label, &[], cs.hash_len())
}

/// `DeriveTreeSecret(Secret, Label, Generation, Length) =
/// ExpandWithLabel(Secret, Label, Generation, Length)`, with `Generation` encoded as a
/// big-endian `uint32` (RFC 9420 §9).
pub fn derive_tree_secret(
    cs: &dyn CipherSuiteProvider,
    secret: &[u8],
    label: &str,
    generation: u32,
    length: usize,
) -> Result<Secret, CryptoError> {
    expand_with_label(cs, secret, label, &generation.to_be_bytes(), length)
}

// ---- signatures (RFC 9420 §5.1.2) --------------------------------------------------------

/// Encodes `SignContent { opaque label<V> = "MLS 1.0 " + label; opaque content<V>; }`
/// (RFC 9420 §5.1.2).
pub fn sign_content(label: &str, content: &[u8]) -> Result<Vec<u8>, CryptoError> {
    labelled_pair(label.as_bytes(), content)
}

/// [`sign_content`] with a label of arbitrary bytes: `SignContent { opaque label<V> =
/// "MLS 1.0 " + label; opaque content<V>; }`. The Safe Application Interface signs with a
/// serialized `ComponentOperationLabel` as the label (draft-ietf-mls-extensions-10 §4.3).
pub fn sign_content_bytes(label: &[u8], content: &[u8]) -> Result<Vec<u8>, CryptoError> {
    labelled_pair(label, content)
}

/// Starts a `SignContent` (RFC 9420 §5.1.2) whose `content` the caller appends itself: the
/// label and the length prefix of a `content_len`-byte content. Encoding a large content
/// (a 1 MiB application message) straight after it saves a copy of the content.
pub fn sign_content_header(label: &str, content_len: usize) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::with_capacity(MLS_LABEL_PREFIX.len() + label.len() + content_len + 8);
    write_mls_label(&mut out, label.as_bytes())?;
    conclave_codec::write_varint(&mut out, content_len).map_err(encoding_error)?;
    Ok(out)
}

/// `SignWithLabel(SignatureKey, Label, Content) = Signature.Sign(SignatureKey, SignContent)`
/// (RFC 9420 §5.1.2).
pub fn sign_with_label(
    cs: &dyn CipherSuiteProvider,
    secret_key: &[u8],
    label: &str,
    content: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    sign_with_label_bytes(cs, secret_key, label.as_bytes(), content)
}

/// [`sign_with_label`] with a label of arbitrary bytes (see [`sign_content_bytes`]).
pub fn sign_with_label_bytes(
    cs: &dyn CipherSuiteProvider,
    secret_key: &[u8],
    label: &[u8],
    content: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let message = sign_content_bytes(label, content)?;
    cs.sign(secret_key, &message)
}

/// `VerifyWithLabel(VerificationKey, Label, Content, SignatureValue)` (RFC 9420 §5.1.2):
/// [`CryptoError::InvalidSignature`] if the signature does not verify.
pub fn verify_with_label(
    cs: &dyn CipherSuiteProvider,
    public_key: &[u8],
    label: &str,
    content: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    verify_with_label_bytes(cs, public_key, label.as_bytes(), content, signature)
}

/// [`verify_with_label`] with a label of arbitrary bytes (see [`sign_content_bytes`]).
pub fn verify_with_label_bytes(
    cs: &dyn CipherSuiteProvider,
    public_key: &[u8],
    label: &[u8],
    content: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    let message = sign_content_bytes(label, content)?;
    cs.verify(public_key, &message, signature)
}

// ---- public-key encryption (RFC 9420 §5.1.3) ------------------------------------------

/// The output of [`encrypt_with_label`]: the fields of an `HPKECiphertext`
/// (RFC 9420 §7.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledCiphertext {
    /// The HPKE encapsulated key `enc`.
    pub kem_output: Vec<u8>,
    /// The AEAD ciphertext (with tag).
    pub ciphertext: Vec<u8>,
}

/// Encodes `EncryptContext { opaque label<V> = "MLS 1.0 " + label; opaque context<V>; }`
/// (RFC 9420 §5.1.3).
pub fn encrypt_context(label: &str, context: &[u8]) -> Result<Vec<u8>, CryptoError> {
    labelled_pair(label.as_bytes(), context)
}

/// [`encrypt_context`] with a label of arbitrary bytes: the Safe Application Interface
/// encrypts with a serialized `ComponentOperationLabel` as the label
/// (draft-ietf-mls-extensions-10 §4.2).
pub fn encrypt_context_bytes(label: &[u8], context: &[u8]) -> Result<Vec<u8>, CryptoError> {
    labelled_pair(label, context)
}

/// `EncryptWithLabel(PublicKey, Label, Context, Plaintext) =
/// SealBase(PublicKey, EncryptContext, "", Plaintext)` (RFC 9420 §5.1.3). The HPKE
/// ephemeral key is drawn from `rng`.
pub fn encrypt_with_label(
    cs: &dyn CipherSuiteProvider,
    public_key: &[u8],
    label: &str,
    context: &[u8],
    plaintext: &[u8],
    rng: &mut dyn CryptoRandom,
) -> Result<LabelledCiphertext, CryptoError> {
    encrypt_with_label_bytes(cs, public_key, label.as_bytes(), context, plaintext, rng)
}

/// [`encrypt_with_label`] with a label of arbitrary bytes (see [`encrypt_context_bytes`]).
pub fn encrypt_with_label_bytes(
    cs: &dyn CipherSuiteProvider,
    public_key: &[u8],
    label: &[u8],
    context: &[u8],
    plaintext: &[u8],
    rng: &mut dyn CryptoRandom,
) -> Result<LabelledCiphertext, CryptoError> {
    let info = encrypt_context_bytes(label, context)?;
    let (kem_output, ciphertext) = hpke::seal_base(cs, public_key, &info, &[], plaintext, rng)?;
    Ok(LabelledCiphertext {
        kem_output,
        ciphertext,
    })
}

/// An `EncryptContext` prepared once for many recipients: its HPKE info hash.
#[derive(Debug, Clone)]
pub struct PreparedEncryptContext(hpke::InfoHash);

/// Prepares `EncryptContext { label, context }` for [`encrypt_with_label_prepared`].
pub fn prepare_encrypt_context(
    cs: &dyn CipherSuiteProvider,
    label: &str,
    context: &[u8],
) -> Result<PreparedEncryptContext, CryptoError> {
    let info = encrypt_context(label, context)?;
    Ok(PreparedEncryptContext(hpke::InfoHash::new(cs, &info)))
}

/// [`encrypt_with_label`] with a prepared context: identical output, but the (possibly large)
/// context is hashed once, not once per recipient (RFC 9420 §12.4.3.1 encrypts every
/// Welcome entry with the whole encrypted GroupInfo as context).
pub fn encrypt_with_label_prepared(
    cs: &dyn CipherSuiteProvider,
    public_key: &[u8],
    prepared: &PreparedEncryptContext,
    plaintext: &[u8],
    rng: &mut dyn CryptoRandom,
) -> Result<LabelledCiphertext, CryptoError> {
    let (kem_output, ciphertext) =
        hpke::seal_base_with_info_hash(cs, public_key, &prepared.0, &[], plaintext, rng)?;
    Ok(LabelledCiphertext {
        kem_output,
        ciphertext,
    })
}

/// `DecryptWithLabel(PrivateKey, Label, Context, KEMOutput, Ciphertext) =
/// OpenBase(KEMOutput, PrivateKey, EncryptContext, "", Ciphertext)` (RFC 9420 §5.1.3).
pub fn decrypt_with_label(
    cs: &dyn CipherSuiteProvider,
    secret_key: &[u8],
    label: &str,
    context: &[u8],
    kem_output: &[u8],
    ciphertext: &[u8],
) -> Result<Secret, CryptoError> {
    decrypt_with_label_bytes(
        cs,
        secret_key,
        label.as_bytes(),
        context,
        kem_output,
        ciphertext,
    )
}

/// [`decrypt_with_label`] with a label of arbitrary bytes (see [`encrypt_context_bytes`]).
pub fn decrypt_with_label_bytes(
    cs: &dyn CipherSuiteProvider,
    secret_key: &[u8],
    label: &[u8],
    context: &[u8],
    kem_output: &[u8],
    ciphertext: &[u8],
) -> Result<Secret, CryptoError> {
    let info = encrypt_context_bytes(label, context)?;
    hpke::open_base(cs, kem_output, secret_key, &info, &[], ciphertext)
}

// ---- hash-based identifiers (RFC 9420 §5.2) ----------------------------------------------

/// `RefHash(label, value) = Hash(RefHashInput)` with
/// `RefHashInput { opaque label<V>; opaque value<V>; }` (RFC 9420 §5.2). The label is used
/// as given (no "MLS 1.0 " prefix is added: the callers' labels already carry it).
pub fn ref_hash(
    cs: &dyn CipherSuiteProvider,
    label: &str,
    value: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut input = Vec::with_capacity(label.len() + value.len() + 8);
    write_opaque(&mut input, label.as_bytes()).map_err(encoding_error)?;
    write_opaque(&mut input, value).map_err(encoding_error)?;
    Ok(cs.hash(&input))
}

/// `MakeKeyPackageRef(value) = RefHash("MLS 1.0 KeyPackage Reference", value)`, where
/// `value` is the encoded `KeyPackage` (RFC 9420 §5.2).
pub fn make_key_package_ref(
    cs: &dyn CipherSuiteProvider,
    encoded_key_package: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    ref_hash(cs, KEY_PACKAGE_REF_LABEL, encoded_key_package)
}

/// `MakeProposalRef(value) = RefHash("MLS 1.0 Proposal Reference", value)`, where `value`
/// is the encoded `AuthenticatedContent` carrying the proposal (RFC 9420 §5.2).
pub fn make_proposal_ref(
    cs: &dyn CipherSuiteProvider,
    encoded_authenticated_content: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    ref_hash(cs, PROPOSAL_REF_LABEL, encoded_authenticated_content)
}

// ---- HPKE key pairs from secrets (RFC 9420 §5.1, §7.4, §8) -------------------------------

/// `KEM.DeriveKeyPair(secret)` of the suite (RFC 9420 §5.1, RFC 9180 §7.1.3): the HPKE key
/// pair of a node secret (RFC 9420 §7.4) or of the `external_secret` (RFC 9420 §8).
pub fn derive_key_pair(
    cs: &dyn CipherSuiteProvider,
    secret: &[u8],
) -> Result<HpkeKeyPair, CryptoError> {
    hpke::derive_key_pair(cs, secret)
}

/// The node key pair of a path secret (RFC 9420 §7.4):
/// `node_secret = DeriveSecret(path_secret, "node")`, then `DeriveKeyPair(node_secret)`.
pub fn node_key_pair_from_path_secret(
    cs: &dyn CipherSuiteProvider,
    path_secret: &[u8],
) -> Result<HpkeKeyPair, CryptoError> {
    let node_secret = derive_secret(cs, path_secret, "node")?;
    derive_key_pair(cs, node_secret.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kdf_label_layout() {
        let l = kdf_label("joiner", &[1, 2, 3], 32).unwrap();
        let mut expected = vec![0, 32, 14];
        expected.extend_from_slice(b"MLS 1.0 joiner");
        expected.extend_from_slice(&[3, 1, 2, 3]);
        assert_eq!(l, expected);
        assert!(kdf_label("x", &[], 70_000).is_err());
    }

    #[test]
    fn sign_content_header_then_content_is_sign_content() {
        let content = vec![7u8; 300];
        let mut c = sign_content_header("FramedContentTBS", content.len()).unwrap();
        c.extend_from_slice(&content);
        assert_eq!(c, sign_content("FramedContentTBS", &content).unwrap());
    }

    #[test]
    fn byte_labels_encode_like_string_labels() {
        assert_eq!(
            sign_content_bytes(b"L", &[9]).unwrap(),
            sign_content("L", &[9]).unwrap()
        );
        assert_eq!(
            encrypt_context_bytes(b"Welcome", &[1, 2]).unwrap(),
            encrypt_context("Welcome", &[1, 2]).unwrap()
        );
        // A label that is not UTF-8 (a serialized ComponentOperationLabel may not be).
        let c = sign_content_bytes(&[0xff, 0x00], &[]).unwrap();
        let mut expected = vec![10];
        expected.extend_from_slice(b"MLS 1.0 ");
        expected.extend_from_slice(&[0xff, 0x00, 0]);
        assert_eq!(c, expected);
    }

    #[test]
    fn sign_content_layout() {
        let c = sign_content("L", &[9]).unwrap();
        let mut expected = vec![9];
        expected.extend_from_slice(b"MLS 1.0 L");
        expected.extend_from_slice(&[1, 9]);
        assert_eq!(c, expected);
    }
}
