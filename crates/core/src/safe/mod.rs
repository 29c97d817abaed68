//! The Safe Application Interface (draft-ietf-mls-extensions-10 §4): MLS's signature keys,
//! HPKE keys, exporter, PSKs and additional authenticated data used by application
//! components, each domain-separated by its `ComponentID` so that components cannot collide
//! with MLS or with each other.
//!
//! * [`ComponentOperationLabel`] (§4.1) is the label of every safe operation:
//!   `base_label` is the group profile's ([`CodepointProfile::component_base_label`], "MLS
//!   Component" in -10), then the component and the component's own label.
//! * [`safe_sign_with_label`] / [`safe_verify_with_label`] (§4.3) and
//!   [`safe_encrypt_with_label`] / [`safe_decrypt_with_label`] (§4.2) are RFC 9420's
//!   `SignWithLabel` / `EncryptWithLabel` with the *serialized* `ComponentOperationLabel` as
//!   the label. RFC 9420 §5.1.2 / §5.1.3 prefix every label with "MLS 1.0 ", so the signed
//!   bytes are
//!
//!   ```text
//!   SignContent {
//!       opaque label<V>   = "MLS 1.0 " || ComponentOperationLabel {
//!                               opaque base_label<V> = "MLS Component";
//!                               uint16 component_id;
//!                               opaque label<V>;
//!                           };
//!       opaque content<V> = Content;
//!   }
//!   ```
//!
//!   and the HPKE `info` of `SafeEncryptWithLabel` is `EncryptContext` with the same label
//!   and the caller's `Context` (empty AAD, base mode).
//! * The other HPKE modes (PSK, auth, auth-PSK, and the secret export of any mode, RFC 9180
//!   §5.1, §5.3) are [`safe_hpke_sender`] / [`safe_hpke_receiver`]: §4.2 sets their `info` to
//!   the `ComponentOperationLabel` itself (serialized, no prefix); the application's
//!   context goes in the AEAD associated data or the exporter context.
//! * [`ExporterTree`] is the forward-secure exporter (§4.4); the application PSK type
//!   (§4.5) is [`crate::messages::Psk::Application`]; Safe AAD (§4.9) is [`parse_safe_aad`]
//!   and the group's check of every message ([`safe_aad_required`]).
//!
//! The group-level operations (a member's keys, the group's external key pair, the epoch's
//! exporter tree, Safe AAD on send and receive) are methods of [`crate::group::Group`].
//!
//! §4.2 and §4.3: "For operations involving the secret key, ComponentID MUST be set to the
//! ComponentID of the component performing the operation". The MLS stack cannot know which
//! component calls it; that rule is the application's (pass your own component's id when
//! signing, decrypting and exporting).

mod aad;
mod exporter;

#[cfg(test)]
mod tests;

pub(crate) use aad::incoming_safe_aad;
pub use aad::{
    encode_safe_aad, outgoing_authenticated_data, parse_safe_aad, safe_aad_components,
    safe_aad_required,
};
pub(crate) use exporter::StoredExporterTree;
pub use exporter::{EXPORTER_TREE_LEAVES, ExporterTree};

use conclave_codec::{CodecError, Encode};
use conclave_crypto::hpke::{self, ReceiverContext, SenderContext};
use conclave_crypto::{CipherSuiteProvider, CryptoError, CryptoRandom, Secret, labels};

use crate::codepoints::CodepointProfile;
use crate::messages::{ComponentId, ComponentOperationLabel, HpkeCiphertext};

/// Errors of the Safe Application Interface.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SafeError {
    /// A component's exported secret can be had once per epoch: it was exported already and
    /// its source key material deleted.
    #[error(
        "draft-ietf-mls-extensions-10 §4.4: the exported secret of component {0:#06x} was \
         already exported in this epoch and is deleted (consumed); keep it from the first \
         export, or wait for the next epoch"
    )]
    ExportConsumed(u16),
    /// The epoch's exporter tree is not available: the state was stored before this
    /// implementation derived `application_export_secret`.
    #[error(
        "draft-ietf-mls-extensions-10 §4.4: this epoch has no exporter tree (the group state \
         was stored before the safe exporter existed); it is available from the next epoch"
    )]
    ExporterUnavailable,
    /// The GroupContext requires Safe AAD and `authenticated_data` does not decode as exactly
    /// one `SafeAAD` struct.
    #[error(
        "draft-ietf-mls-extensions-10 §4.9: the group context lists the safe_aad component, so \
         the whole authenticated_data must be one SafeAAD struct: {0}"
    )]
    NotSafeAad(CodecError),
    /// The items of a `SafeAAD` are not in strictly increasing `component_id` order.
    #[error(
        "draft-ietf-mls-extensions-10 §4.9: SafeAAD items must be sorted by strictly \
         increasing component_id"
    )]
    SafeAadUnsorted,
    /// The GroupContext's `app_data_dictionary` extension, or its `safe_aad` entry, does not
    /// decode.
    #[error(
        "draft-ietf-mls-extensions-10 §4.6, §5: the group context's app_data_dictionary (or \
         its safe_aad ComponentsList) is malformed: {0}"
    )]
    MalformedAppDataDictionary(CodecError),
    /// A safe signature did not verify: wrong key, component, label or content.
    #[error(
        "draft-ietf-mls-extensions-10 §4.3: SafeVerifyWithLabel failed (wrong key, component, \
         label or content)"
    )]
    InvalidSignature,
    /// A safe decryption failed: wrong key, component, label, context or ciphertext.
    #[error(
        "draft-ietf-mls-extensions-10 §4.2: SafeDecryptWithLabel failed (wrong key, component, \
         label, context or ciphertext)"
    )]
    DecryptionFailed,
    /// The leaf is blank or outside the tree: no member's key to use.
    #[error("draft-ietf-mls-extensions-10 §4.2, §4.3: leaf {0} is not a member of the group")]
    NoSuchMember(u32),
    /// A private-key operation with a leaf other than our own: only the member at a leaf
    /// holds its private key.
    #[error(
        "draft-ietf-mls-extensions-10 §4.2: we hold the private key of our own leaf only, not \
         of leaf {0}"
    )]
    NotOwnLeaf(u32),
    /// Encoding a label failed (a label longer than a vector can be).
    #[error("draft-ietf-mls-extensions-10 §4.1: encoding the ComponentOperationLabel: {0}")]
    Encoding(CodecError),
    /// Stored exporter-tree state is inconsistent.
    #[error("stored exporter tree is malformed: {0}")]
    MalformedExporterTree(&'static str),
    /// A cryptographic primitive failed.
    #[error("safe application interface crypto error: {0}")]
    Crypto(#[from] CryptoError),
}

/// The `ComponentOperationLabel` of `component_id`'s operation `label` (draft-ietf-mls-
/// extensions-10 §4.1), with the base label of `profile` ("MLS Component" for the draft
/// profile).
pub fn operation_label(
    profile: CodepointProfile,
    component_id: ComponentId,
    label: &[u8],
) -> ComponentOperationLabel {
    ComponentOperationLabel {
        base_label: profile.component_base_label().to_vec(),
        component_id,
        label: label.to_vec(),
    }
}

/// The serialized `ComponentOperationLabel` (draft-ietf-mls-extensions-10 §4.1): what takes
/// the place of the label string in `SignWithLabel` and `EncryptWithLabel`, and the HPKE
/// `info` of the other modes.
pub fn encode_operation_label(label: &ComponentOperationLabel) -> Result<Vec<u8>, SafeError> {
    label.to_bytes().map_err(SafeError::Encoding)
}

/// `SafeSignWithLabel(SignatureKey, ComponentID, Label, Content) = SignWithLabel(SignatureKey,
/// ComponentOperationLabel, Content)` (draft-ietf-mls-extensions-10 §4.3): the signature is
/// over `SignContent { "MLS 1.0 " || ComponentOperationLabel, Content }` (RFC 9420 §5.1.2).
/// The component must be the caller's own.
pub fn safe_sign_with_label(
    cs: &dyn CipherSuiteProvider,
    secret_key: &[u8],
    label: &ComponentOperationLabel,
    content: &[u8],
) -> Result<Vec<u8>, SafeError> {
    let label = encode_operation_label(label)?;
    Ok(labels::sign_with_label_bytes(
        cs, secret_key, &label, content,
    )?)
}

/// `SafeVerifyWithLabel(VerificationKey, ComponentID, Label, Content, SignatureValue)`
/// (draft-ietf-mls-extensions-10 §4.3): [`SafeError::InvalidSignature`] unless the signature
/// was made with the same component and label over the same content.
pub fn safe_verify_with_label(
    cs: &dyn CipherSuiteProvider,
    public_key: &[u8],
    label: &ComponentOperationLabel,
    content: &[u8],
    signature: &[u8],
) -> Result<(), SafeError> {
    let label = encode_operation_label(label)?;
    labels::verify_with_label_bytes(cs, public_key, &label, content, signature).map_err(|e| match e
    {
        CryptoError::InvalidSignature => SafeError::InvalidSignature,
        other => SafeError::Crypto(other),
    })
}

/// `SafeEncryptWithLabel(PublicKey, ComponentID, Label, Context, Plaintext) =
/// EncryptWithLabel(PublicKey, ComponentOperationLabel, Context, Plaintext)`
/// (draft-ietf-mls-extensions-10 §4.2): HPKE base mode with `info = EncryptContext {
/// "MLS 1.0 " || ComponentOperationLabel, Context }` and empty AAD (RFC 9420 §5.1.3). Any
/// component may encrypt to any other.
pub fn safe_encrypt_with_label(
    cs: &dyn CipherSuiteProvider,
    public_key: &[u8],
    label: &ComponentOperationLabel,
    context: &[u8],
    plaintext: &[u8],
    rng: &mut dyn CryptoRandom,
) -> Result<HpkeCiphertext, SafeError> {
    let label = encode_operation_label(label)?;
    let sealed = labels::encrypt_with_label_bytes(cs, public_key, &label, context, plaintext, rng)?;
    Ok(HpkeCiphertext {
        kem_output: sealed.kem_output,
        ciphertext: sealed.ciphertext,
    })
}

/// `SafeDecryptWithLabel(PrivateKey, ComponentID, Label, Context, KEMOutput, Ciphertext)`
/// (draft-ietf-mls-extensions-10 §4.2): [`SafeError::DecryptionFailed`] unless the
/// ciphertext was made for this key, component, label and context. The component must be
/// the caller's own.
pub fn safe_decrypt_with_label(
    cs: &dyn CipherSuiteProvider,
    secret_key: &[u8],
    label: &ComponentOperationLabel,
    context: &[u8],
    ciphertext: &HpkeCiphertext,
) -> Result<Secret, SafeError> {
    let label = encode_operation_label(label)?;
    labels::decrypt_with_label_bytes(
        cs,
        secret_key,
        &label,
        context,
        &ciphertext.kem_output,
        &ciphertext.ciphertext,
    )
    .map_err(decryption_error)
}

fn decryption_error(e: CryptoError) -> SafeError {
    match e {
        CryptoError::AeadOpenFailed => SafeError::DecryptionFailed,
        other => SafeError::Crypto(other),
    }
}

/// `Setup<MODE>S(pkR, info = ComponentOperationLabel, …)` (draft-ietf-mls-extensions-10
/// §4.2, RFC 9180 §5.1): an HPKE sender context of a component in any mode — base, PSK
/// (`psk`), auth (`sender_secret_key`) or auth-PSK (both) — for `Seal` and `Export`.
/// Returns `(enc, context)`. `info` is the serialized label alone, as §4.2 says; the
/// application's context belongs in the AAD of `seal` or the exporter context of `export`.
pub fn safe_hpke_sender<'a>(
    cs: &'a dyn CipherSuiteProvider,
    public_key: &[u8],
    label: &ComponentOperationLabel,
    psk: Option<hpke::Psk<'_>>,
    sender_secret_key: Option<&[u8]>,
    rng: &mut dyn CryptoRandom,
) -> Result<(Vec<u8>, SenderContext<'a>), SafeError> {
    let info = encode_operation_label(label)?;
    Ok(hpke::setup_sender(
        cs,
        public_key,
        &info,
        psk,
        sender_secret_key,
        hpke::Ephemeral::Random(rng),
    )?)
}

/// `Setup<MODE>R(enc, skR, info = ComponentOperationLabel, …)` (draft-ietf-mls-extensions-10
/// §4.2, RFC 9180 §5.1): the recipient side of [`safe_hpke_sender`], for `Open` and
/// `Export`; `psk` and `sender_public_key` select the mode as they did for the sender. The
/// component must be the caller's own.
pub fn safe_hpke_receiver<'a>(
    cs: &'a dyn CipherSuiteProvider,
    enc: &[u8],
    secret_key: &[u8],
    label: &ComponentOperationLabel,
    psk: Option<hpke::Psk<'_>>,
    sender_public_key: Option<&[u8]>,
) -> Result<ReceiverContext<'a>, SafeError> {
    let info = encode_operation_label(label)?;
    Ok(hpke::setup_receiver(
        cs,
        enc,
        secret_key,
        &info,
        psk,
        sender_public_key,
    )?)
}
