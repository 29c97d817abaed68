//! Checker for `messages.json`: every wire structure decodes and re-encodes to the same bytes
//! (RFC 9420 §6, §7, §10, §12). One check per field per case; suite-independent.

use conclave_codec::{Decode, Encode};
use conclave_core::messages::{
    Add, Commit, ContentType, ExternalInit, GroupContextExtensions, GroupSecrets, MlsMessage,
    MlsMessageBody, PreSharedKey, RatchetTreeNodes, ReInit, Remove, Update, WireFormat,
};
use conclave_crypto::CryptoProvider;

use crate::{Report, cases, field_hex};

/// What to check a field's bytes against.
type FieldCheck = fn(&[u8]) -> Result<(), String>;

/// The fields of a case, each with its structure (and, for `MLSMessage`s, the expected
/// wire format and content type).
const FIELDS: &[(&str, FieldCheck)] = &[
    ("mls_welcome", |b| mls_message(b, WireFormat::WELCOME, None)),
    ("mls_group_info", |b| {
        mls_message(b, WireFormat::GROUP_INFO, None)
    }),
    ("mls_key_package", |b| {
        mls_message(b, WireFormat::KEY_PACKAGE, None)
    }),
    ("ratchet_tree", round_trip::<RatchetTreeNodes>),
    ("group_secrets", round_trip::<GroupSecrets>),
    ("add_proposal", round_trip::<Add>),
    ("update_proposal", round_trip::<Update>),
    ("remove_proposal", round_trip::<Remove>),
    ("pre_shared_key_proposal", round_trip::<PreSharedKey>),
    ("re_init_proposal", round_trip::<ReInit>),
    ("external_init_proposal", round_trip::<ExternalInit>),
    (
        "group_context_extensions_proposal",
        round_trip::<GroupContextExtensions>,
    ),
    ("commit", round_trip::<Commit>),
    ("public_message_application", |b| {
        mls_message(
            b,
            WireFormat::PUBLIC_MESSAGE,
            Some(ContentType::Application),
        )
    }),
    ("public_message_proposal", |b| {
        mls_message(b, WireFormat::PUBLIC_MESSAGE, Some(ContentType::Proposal))
    }),
    ("public_message_commit", |b| {
        mls_message(b, WireFormat::PUBLIC_MESSAGE, Some(ContentType::Commit))
    }),
    ("private_message", |b| {
        mls_message(b, WireFormat::PRIVATE_MESSAGE, None)
    }),
];

/// Checks every field of every case.
pub(crate) fn check(json: &serde_json::Value, _: &[Box<dyn CryptoProvider>], report: &mut Report) {
    for (i, case) in cases(json) {
        for (field, check_field) in FIELDS {
            let outcome = field_hex(case, field).and_then(|bytes| check_field(&bytes));
            report.record(|| format!("case {i} {field}"), outcome);
        }
    }
}

/// Decodes `bytes` as a whole `T` and checks that re-encoding gives the same bytes.
fn round_trip<T: Decode + Encode>(bytes: &[u8]) -> Result<(), String> {
    decode_and_compare::<T>(bytes).map(|_| ())
}

pub(crate) fn decode_and_compare<T: Decode + Encode>(bytes: &[u8]) -> Result<T, String> {
    let value = T::from_bytes(bytes).map_err(|e| format!("decode: {e}"))?;
    if value.encoded_len() != bytes.len() {
        return Err(format!(
            "encoded_len {} != {} input bytes",
            value.encoded_len(),
            bytes.len()
        ));
    }
    let encoded = value.to_bytes().map_err(|e| format!("encode: {e}"))?;
    if encoded != bytes {
        return Err(format!(
            "re-encoded {} != {}",
            hex::encode(&encoded),
            hex::encode(bytes)
        ));
    }
    Ok(value)
}

/// An `MLSMessage` round trip that also checks the wire format (and, for public messages, the
/// content type) the format promises for the field.
fn mls_message(
    bytes: &[u8],
    wire_format: WireFormat,
    content_type: Option<ContentType>,
) -> Result<(), String> {
    let message = decode_and_compare::<MlsMessage>(bytes)?;
    if message.wire_format() != wire_format {
        return Err(format!(
            "wire format {:?}, expected {wire_format:?}",
            message.wire_format()
        ));
    }
    if let (Some(expected), MlsMessageBody::PublicMessage(public)) = (content_type, &message.body) {
        let found = public.content.content_type();
        if found != expected {
            return Err(format!("content type {found:?}, expected {expected:?}"));
        }
    }
    Ok(())
}
