//! `partial/test-vector-partial-message-syntax.json` (and its `-spec` subset): each
//! structure of draft-ietf-mls-partial-02 §6–§10 decodes and re-encodes to the same bytes.
//!
//! One check per field per case. Decoding needs no cryptography, so every case is checked,
//! including those of MLSpp's provisional post-quantum suites (8–10). The `commit` of the
//! `AnnotatedCommit` must also be a PublicMessage or PrivateMessage (§10), and a PublicMessage
//! one must carry a commit.

use conclave_core::messages::{
    ContentType, GroupInfo, MlsMessageBody, PrivateMessage, PublicMessage, Welcome,
};
use conclave_core::partial::{
    AnnotatedCommit, AnnotatedWelcome, CopathHash, MembershipProof, SenderAuthenticatedMessage,
};
use conclave_crypto::CryptoProvider;

use super::messages::decode_and_compare;
use crate::{Report, cases, field_hex};

/// The full file's name under the vector directory's `partial/`.
pub const FILE_NAME: &str = "test-vector-partial-message-syntax.json";
/// The `-spec` subset's name.
pub const SPEC_FILE_NAME: &str = "test-vector-partial-message-syntax-spec.json";

type FieldCheck = fn(&[u8]) -> Result<(), String>;

fn round_trip<T: conclave_codec::Decode + conclave_codec::Encode>(
    bytes: &[u8],
) -> Result<(), String> {
    decode_and_compare::<T>(bytes).map(drop)
}

const FIELDS: &[(&str, FieldCheck)] = &[
    ("copath_hash", round_trip::<CopathHash>),
    ("membership_proof", round_trip::<MembershipProof>),
    (
        "sender_authenticated_welcome",
        round_trip::<SenderAuthenticatedMessage<Welcome>>,
    ),
    (
        "sender_authenticated_group_info",
        round_trip::<SenderAuthenticatedMessage<GroupInfo>>,
    ),
    (
        "sender_authenticated_public_message",
        round_trip::<SenderAuthenticatedMessage<PublicMessage>>,
    ),
    (
        "sender_authenticated_private_message",
        round_trip::<SenderAuthenticatedMessage<PrivateMessage>>,
    ),
    ("annotated_welcome", round_trip::<AnnotatedWelcome>),
    ("annotated_commit", annotated_commit),
];

/// Checks every field of every case.
pub fn check(json: &serde_json::Value, _: &[Box<dyn CryptoProvider>], report: &mut Report) {
    for (i, case) in cases(json) {
        for (field, check_field) in FIELDS {
            let outcome = field_hex(case, field).and_then(|bytes| check_field(&bytes));
            report.record(|| format!("case {i} {field}"), outcome);
        }
    }
}

fn annotated_commit(bytes: &[u8]) -> Result<(), String> {
    let annotated = decode_and_compare::<AnnotatedCommit>(bytes)?;
    match &annotated.commit.body {
        MlsMessageBody::PublicMessage(public) => {
            let found = public.content.content_type();
            if found != ContentType::Commit {
                return Err(format!("commit: content type {found:?}, expected Commit"));
            }
            Ok(())
        }
        MlsMessageBody::PrivateMessage(_) => Ok(()),
        _ => Err(format!(
            "commit: wire format {:?}, expected a PublicMessage or PrivateMessage",
            annotated.commit.wire_format()
        )),
    }
}
