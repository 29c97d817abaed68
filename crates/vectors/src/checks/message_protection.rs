//! Checker for `message-protection.json` (RFC 9420 §6.1, §6.2, §6.3), following
//! test-vectors/FORMATS.md "Message Protection": with a GroupContext built from the case
//! (empty extensions) and a secret tree for 2 members with sender leaf 1, for each of
//! proposal, commit and application: the given PublicMessage (not for application) and
//! PrivateMessage unprotect, verify and yield the raw value; protecting the raw value
//! ourselves yields messages that unprotect and verify again; protecting application data
//! as a PublicMessage fails.

use conclave_codec::{Decode, Encode};
use conclave_core::framing::{
    FramingError, PaddingPolicy, VerifiedContent, protect_private, protect_public, sign_content,
    unprotect_private, unprotect_public,
};
use conclave_core::messages::{
    Commit, Content, FramedContent, GroupContext, LeafIndex, MlsMessage, MlsMessageBody,
    PrivateMessage, Proposal, ProtocolVersion, PublicMessage, Sender, WireFormat,
};
use conclave_core::secret_tree::{SecretTree, SecretTreeConfig};
use conclave_core::tree_math::TreeSize;
use conclave_crypto::{CipherSuiteProvider, CryptoProvider, Secret, SeededRng};

use crate::{Report, field_hex, field_u64};

const SENDER: LeafIndex = LeafIndex(1);

/// Records one check per case and provider; a check covers all three content types.
pub(crate) fn check(
    json: &serde_json::Value,
    providers: &[Box<dyn CryptoProvider>],
    report: &mut Report,
) {
    report.check_suite_cases(json, providers, check_case);
}

/// The inputs shared by the three content types of a case.
struct Case {
    context: GroupContext,
    signature_priv: Secret,
    signature_pub: Vec<u8>,
    encryption_secret: Vec<u8>,
    sender_data_secret: Vec<u8>,
    membership_key: Vec<u8>,
}

impl Case {
    fn parse(cs: &dyn CipherSuiteProvider, case: &serde_json::Value) -> Result<Self, String> {
        let context = GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: cs.cipher_suite(),
            group_id: field_hex(case, "group_id")?,
            epoch: field_u64(case, "epoch")?,
            tree_hash: field_hex(case, "tree_hash")?,
            confirmed_transcript_hash: field_hex(case, "confirmed_transcript_hash")?,
            extensions: Vec::new(),
        };
        if u64::from(context.cipher_suite.0) != field_u64(case, "cipher_suite")? {
            return Err("provider suite differs from the case's".into());
        }
        let signature_priv = crate::signature_secret_key(cs, field_hex(case, "signature_priv")?)?;
        let signature_pub = field_hex(case, "signature_pub")?;
        let derived = cs
            .signature_public_key(signature_priv.as_bytes())
            .map_err(|e| format!("signature_priv: {e}"))?;
        if derived != signature_pub {
            return Err("signature_pub is not the public key of signature_priv".into());
        }
        Ok(Self {
            context,
            signature_priv,
            signature_pub,
            encryption_secret: field_hex(case, "encryption_secret")?,
            sender_data_secret: field_hex(case, "sender_data_secret")?,
            membership_key: field_hex(case, "membership_key")?,
        })
    }

    /// A fresh secret tree for 2 members from `encryption_secret`.
    fn tree(&self) -> Result<SecretTree, String> {
        let size = TreeSize::new(2).ok_or("tree size")?;
        Ok(SecretTree::new(
            Secret::from_slice(&self.encryption_secret),
            size,
            SecretTreeConfig::default(),
        ))
    }

    fn unprotect_public<'m>(
        &self,
        cs: &dyn CipherSuiteProvider,
        message: &'m PublicMessage,
    ) -> Result<VerifiedContent<'m>, FramingError> {
        unprotect_public(cs, message, &self.context, &self.membership_key)?.verify(
            cs,
            &self.signature_pub,
            &self.context,
        )
    }

    fn unprotect_private(
        &self,
        cs: &dyn CipherSuiteProvider,
        message: &PrivateMessage,
        tree: &mut SecretTree,
    ) -> Result<VerifiedContent<'static>, FramingError> {
        unprotect_private(cs, message, &self.context, tree, &self.sender_data_secret)?.verify(
            cs,
            &self.signature_pub,
            &self.context,
        )
    }

    fn framed(&self, content: Content) -> FramedContent {
        FramedContent {
            group_id: self.context.group_id.clone(),
            epoch: self.context.epoch,
            sender: Sender::Member(SENDER),
            authenticated_data: Vec::new(),
            content,
        }
    }
}

fn check_case(cs: &dyn CipherSuiteProvider, case: &serde_json::Value) -> Result<(), String> {
    let c = Case::parse(cs, case)?;
    let proposal = Proposal::from_bytes(&field_hex(case, "proposal")?)
        .map_err(|e| format!("proposal: {e}"))?;
    let commit =
        Commit::from_bytes(&field_hex(case, "commit")?).map_err(|e| format!("commit: {e}"))?;
    let application = field_hex(case, "application")?;

    check_content(cs, &c, case, "proposal", Content::Proposal(proposal))?;
    check_content(cs, &c, case, "commit", Content::Commit(commit))?;
    check_content(
        cs,
        &c,
        case,
        "application",
        Content::Application(application),
    )
}

/// All checks for one content type; `name` is the field prefix (`proposal`, `commit`,
/// `application`).
fn check_content(
    cs: &dyn CipherSuiteProvider,
    c: &Case,
    case: &serde_json::Value,
    name: &str,
    raw: Content,
) -> Result<(), String> {
    let is_application = matches!(raw, Content::Application(_));
    let err = |step: &str| {
        let name = name.to_owned();
        let step = step.to_owned();
        move |e: FramingError| format!("{name}: {step}: {e}")
    };
    let mut confirmation_tag = None;

    // The given PublicMessage unprotects, verifies and yields the raw value.
    if !is_application {
        let message = decode_message(case, &format!("{name}_pub"))?;
        let MlsMessageBody::PublicMessage(message) = message.body else {
            return Err(format!("{name}_pub is not a PublicMessage"));
        };
        let verified = c
            .unprotect_public(cs, &message)
            .map_err(err("unprotect pub"))?;
        expect_content(&verified, &raw, &format!("{name}_pub"))?;
        confirmation_tag = verified.auth().confirmation_tag.clone();
    }

    // The given PrivateMessage unprotects with a fresh secret tree.
    let message = decode_message(case, &format!("{name}_priv"))?;
    let MlsMessageBody::PrivateMessage(message) = message.body else {
        return Err(format!("{name}_priv is not a PrivateMessage"));
    };
    let mut tree = c.tree()?;
    let verified = c
        .unprotect_private(cs, &message, &mut tree)
        .map_err(err("unprotect priv"))?;
    expect_content(&verified, &raw, &format!("{name}_priv"))?;
    if confirmation_tag.is_none() {
        confirmation_tag = verified.auth().confirmation_tag.clone();
    }

    // Protecting the raw value as a PublicMessage: round trip, or failure for application.
    let public = sign_content(
        cs,
        c.signature_priv.as_bytes(),
        WireFormat::PUBLIC_MESSAGE,
        c.framed(raw.clone()),
        Some(&c.context),
    );
    if is_application {
        match public {
            Err(FramingError::ApplicationAsPublicMessage) => {}
            other => {
                return Err(format!(
                    "application as PublicMessage: expected failure, got {other:?}"
                ));
            }
        }
    } else {
        let mut signed = public.map_err(err("sign pub"))?;
        signed.auth.confirmation_tag = confirmation_tag.clone();
        let message = protect_public(cs, &signed, Some(&c.context), Some(&c.membership_key))
            .map_err(err("protect pub"))?;
        let message = reencode(MlsMessageBody::PublicMessage(message))?;
        let MlsMessageBody::PublicMessage(message) = message else {
            return Err("re-encoded PublicMessage changed type".into());
        };
        let verified = c
            .unprotect_public(cs, &message)
            .map_err(err("re-unprotect pub"))?;
        if verified.into_authenticated_content() != signed {
            return Err(format!("{name}: own PublicMessage does not round-trip"));
        }
    }

    // Protecting the raw value as a PrivateMessage with a sender's secret tree; a receiver
    // with its own tree unprotects it.
    let mut signed = sign_content(
        cs,
        c.signature_priv.as_bytes(),
        WireFormat::PRIVATE_MESSAGE,
        c.framed(raw),
        Some(&c.context),
    )
    .map_err(err("sign priv"))?;
    signed.auth.confirmation_tag = confirmation_tag;
    let (mut sender_tree, mut receiver_tree) = (c.tree()?, c.tree()?);
    let mut rng = SeededRng::new(u64::from(cs.cipher_suite().0));
    let message = protect_private(
        cs,
        &signed,
        &mut sender_tree,
        &c.sender_data_secret,
        PaddingPolicy::None,
        &mut rng,
    )
    .map_err(err("protect priv"))?;
    let message = reencode(MlsMessageBody::PrivateMessage(message))?;
    let MlsMessageBody::PrivateMessage(message) = message else {
        return Err("re-encoded PrivateMessage changed type".into());
    };
    let verified = c
        .unprotect_private(cs, &message, &mut receiver_tree)
        .map_err(err("re-unprotect priv"))?;
    if verified.into_authenticated_content() != signed {
        return Err(format!("{name}: own PrivateMessage does not round-trip"));
    }
    Ok(())
}

fn decode_message(case: &serde_json::Value, field: &str) -> Result<MlsMessage, String> {
    MlsMessage::from_bytes(&field_hex(case, field)?).map_err(|e| format!("{field}: {e}"))
}

/// Encodes a message as an `MLSMessage` and decodes it again, as a receiver would see it.
fn reencode(body: MlsMessageBody) -> Result<MlsMessageBody, String> {
    let bytes = MlsMessage::new(body)
        .to_bytes()
        .map_err(|e| e.to_string())?;
    Ok(MlsMessage::from_bytes(&bytes)
        .map_err(|e| e.to_string())?
        .body)
}

/// The verified content is the raw value sent by member 1 in the case's group and epoch.
fn expect_content(
    verified: &VerifiedContent<'_>,
    raw: &Content,
    field: &str,
) -> Result<(), String> {
    if verified.sender() != Sender::Member(SENDER) {
        return Err(format!(
            "{field}: sender {:?}, expected leaf 1",
            verified.sender()
        ));
    }
    if verified.content() != raw {
        return Err(format!("{field}: content differs from the raw value"));
    }
    Ok(())
}
