use std::num::NonZeroU32;

use conclave_codec::{Decode, Encode};
use conclave_crypto::{
    CipherSuite, CipherSuiteProvider, CryptoProvider, CryptoRandom, Secret, SeededRng,
};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use proptest::prelude::*;

use super::*;
use crate::messages::{
    Commit, LeafIndex, MlsMessage, MlsMessageBody, PrivateContentAad, PrivateMessage,
    ProposalOrRef, ProtocolVersion, PublicMessage, Remove, SenderData, SenderDataAad,
};
use crate::secret_tree::{
    RatchetType, SecretTree, SecretTreeConfig, SecretTreeError, sender_data_key_nonce,
};
use crate::tree_math::TreeSize;

const SENDER: LeafIndex = LeafIndex(1);

struct Fixture {
    cs: Box<dyn CipherSuiteProvider>,
    context: GroupContext,
    sig_priv: Secret,
    sig_pub: Vec<u8>,
    membership_key: Vec<u8>,
    sender_data_secret: Vec<u8>,
    encryption_secret: Vec<u8>,
    rng: SeededRng,
}

impl Fixture {
    fn new() -> Self {
        let cs = RustCryptoProvider
            .cipher_suite_provider(CipherSuite(1))
            .unwrap();
        let mut rng = SeededRng::new(42);
        let (sig_priv, sig_pub) = cs.signature_generate(&mut rng).unwrap();
        let context = GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: CipherSuite(1),
            group_id: b"group".to_vec(),
            epoch: 7,
            tree_hash: vec![1; 32],
            confirmed_transcript_hash: vec![2; 32],
            extensions: vec![],
        };
        Self {
            cs,
            context,
            sig_priv,
            sig_pub,
            membership_key: vec![3; 32],
            sender_data_secret: vec![4; 32],
            encryption_secret: vec![5; 32],
            rng,
        }
    }

    fn cs(&self) -> &dyn CipherSuiteProvider {
        self.cs.as_ref()
    }

    fn tree(&self) -> SecretTree {
        SecretTree::new(
            Secret::from_slice(&self.encryption_secret),
            TreeSize::new(2).unwrap(),
            SecretTreeConfig::default(),
        )
    }

    fn framed(&self, sender: Sender, content: Content) -> FramedContent {
        FramedContent {
            group_id: self.context.group_id.clone(),
            epoch: self.context.epoch,
            sender,
            authenticated_data: b"aad".to_vec(),
            content,
        }
    }

    fn signed(&self, wire_format: WireFormat, content: Content) -> AuthenticatedContent {
        let is_commit = matches!(content, Content::Commit(_));
        let mut signed = sign_content(
            self.cs(),
            self.sig_priv.as_bytes(),
            wire_format,
            self.framed(Sender::Member(SENDER), content),
            Some(&self.context),
        )
        .unwrap();
        if is_commit {
            signed.auth.confirmation_tag = Some(vec![9; 32]);
        }
        signed
    }

    fn public(&self, content: Content) -> (AuthenticatedContent, PublicMessage) {
        let signed = self.signed(WireFormat::PUBLIC_MESSAGE, content);
        let message = protect_public(
            self.cs(),
            &signed,
            Some(&self.context),
            Some(&self.membership_key),
        )
        .unwrap();
        (signed, message)
    }

    fn unprotect_public<'m>(
        &self,
        message: &'m PublicMessage,
    ) -> Result<VerifiedContent<'m>, FramingError> {
        unprotect_public(self.cs(), message, &self.context, &self.membership_key)?.verify(
            self.cs(),
            &self.sig_pub,
            &self.context,
        )
    }

    fn private(
        &mut self,
        tree: &mut SecretTree,
        content: Content,
        padding: PaddingPolicy,
    ) -> (AuthenticatedContent, PrivateMessage) {
        let signed = self.signed(WireFormat::PRIVATE_MESSAGE, content);
        let mut rng = self.rng.clone();
        let message = protect_private(
            self.cs(),
            &signed,
            tree,
            &self.sender_data_secret,
            padding,
            &mut rng,
        )
        .unwrap();
        self.rng = rng;
        (signed, message)
    }

    fn unprotect_private(
        &self,
        tree: &mut SecretTree,
        message: &PrivateMessage,
    ) -> Result<VerifiedContent<'_>, FramingError> {
        unprotect_private(
            self.cs(),
            message,
            &self.context,
            tree,
            &self.sender_data_secret,
        )?
        .verify(self.cs(), &self.sig_pub, &self.context)
    }

    /// A PrivateMessage with arbitrary plaintext and sender data, encrypted with the real
    /// keys (for malformed-content tests an honest codec cannot produce).
    fn raw_private(
        &self,
        tree: &mut SecretTree,
        content_type: ContentType,
        sender_data: SenderData,
        plaintext: &[u8],
    ) -> PrivateMessage {
        let cs = self.cs();
        let aad = PrivateContentAad {
            group_id: self.context.group_id.clone(),
            epoch: self.context.epoch,
            content_type,
            authenticated_data: b"aad".to_vec(),
        }
        .to_bytes()
        .unwrap();
        let ciphertext = match tree.key_for_generation(
            cs,
            sender_data.leaf_index,
            RatchetType::for_content_type(content_type),
            sender_data.generation,
        ) {
            Ok(key) => {
                let nonce = key.nonce_with_reuse_guard(sender_data.reuse_guard);
                cs.aead_seal(key.key.as_bytes(), nonce.as_bytes(), &aad, plaintext)
                    .unwrap()
            }
            // Leaf outside the tree: any ciphertext will do.
            Err(_) => vec![0xab; 48],
        };
        let sd_aad = SenderDataAad {
            group_id: self.context.group_id.clone(),
            epoch: self.context.epoch,
            content_type,
        }
        .to_bytes()
        .unwrap();
        let (k, n) = sender_data_key_nonce(cs, &self.sender_data_secret, &ciphertext).unwrap();
        let encrypted_sender_data = cs
            .aead_seal(
                k.as_bytes(),
                n.as_bytes(),
                &sd_aad,
                &sender_data.to_bytes().unwrap(),
            )
            .unwrap();
        PrivateMessage {
            group_id: self.context.group_id.clone(),
            epoch: self.context.epoch,
            content_type,
            authenticated_data: b"aad".to_vec(),
            encrypted_sender_data,
            ciphertext,
        }
    }
}

fn proposal() -> Content {
    Content::Proposal(Proposal::Remove(Remove {
        removed: LeafIndex(0),
    }))
}

fn commit() -> Content {
    Content::Commit(Commit {
        proposals: vec![ProposalOrRef::Proposal(Box::new(Proposal::Remove(
            Remove {
                removed: LeafIndex(0),
            },
        )))],
        path: None,
    })
}

fn application() -> Content {
    Content::Application(b"hello, group".to_vec())
}

fn flip(bytes: &mut [u8], index: usize) {
    bytes[index] ^= 0x01;
}

// ---- §6.1, §6.2: PublicMessage ------------------------------------------------------------

/// The TBS encoded for the membership tag is reused for the signature only when `verify`
/// gets the same group context: verifying against another context (same group and epoch,
/// another tree hash) checks the signature over that context, and fails.
#[test]
fn public_signature_is_checked_over_the_context_given_to_verify() {
    let f = Fixture::new();
    let (_, message) = f.public(commit());
    let other_context = GroupContext {
        tree_hash: vec![0xee; 32],
        ..f.context.clone()
    };
    let unverified = unprotect_public(f.cs(), &message, &f.context, &f.membership_key).unwrap();
    assert!(matches!(
        unverified
            .clone()
            .verify(f.cs(), &f.sig_pub, &other_context),
        Err(FramingError::InvalidSignature)
    ));
    let verified = unverified.verify(f.cs(), &f.sig_pub, &f.context).unwrap();
    // The transcript input takes the content as encoded for the signature (RFC 9420 §8.2).
    assert_eq!(
        verified.encoded_content(),
        verified.framed_content().to_bytes().unwrap().as_slice()
    );
}

#[test]
fn public_round_trip() {
    let f = Fixture::new();
    for content in [proposal(), commit()] {
        let (signed, message) = f.public(content);
        // Through the wire encoding too.
        let wire = MlsMessage::new(MlsMessageBody::PublicMessage(message))
            .to_bytes()
            .unwrap();
        let MlsMessageBody::PublicMessage(message) = MlsMessage::from_bytes(&wire).unwrap().body
        else {
            panic!("not a PublicMessage");
        };
        let verified = f.unprotect_public(&message).unwrap();
        assert_eq!(verified.clone().into_authenticated_content(), signed);
        assert_eq!(verified.sender(), Sender::Member(SENDER));
        assert_eq!(verified.wire_format(), WireFormat::PUBLIC_MESSAGE);
    }
}

#[test]
fn application_as_public_message_is_rejected() {
    let f = Fixture::new();
    assert_eq!(
        sign_content(
            f.cs(),
            f.sig_priv.as_bytes(),
            WireFormat::PUBLIC_MESSAGE,
            f.framed(Sender::Member(SENDER), application()),
            Some(&f.context),
        ),
        Err(FramingError::ApplicationAsPublicMessage)
    );
    // Even if signed for another wire format and relabelled.
    let mut signed = f.signed(WireFormat::PRIVATE_MESSAGE, application());
    signed.wire_format = WireFormat::PUBLIC_MESSAGE;
    assert_eq!(
        protect_public(f.cs(), &signed, Some(&f.context), Some(&f.membership_key)),
        Err(FramingError::ApplicationAsPublicMessage)
    );
    // And a received one is rejected before anything else.
    let (_, mut message) = f.public(proposal());
    message.content.content = application();
    assert_eq!(
        f.unprotect_public(&message).unwrap_err(),
        FramingError::ApplicationAsPublicMessage
    );
}

#[test]
fn public_tampering_is_rejected() {
    let f = Fixture::new();
    let (_, good) = f.public(commit());

    let mut m = good.clone();
    flip(m.membership_tag.as_mut().unwrap(), 0);
    assert_eq!(
        f.unprotect_public(&m).unwrap_err(),
        FramingError::InvalidMembershipTag
    );

    let mut m = good.clone();
    m.membership_tag.as_mut().unwrap().pop();
    assert_eq!(
        f.unprotect_public(&m).unwrap_err(),
        FramingError::InvalidMembershipTag
    );

    let mut m = good.clone();
    m.membership_tag = None;
    assert_eq!(
        f.unprotect_public(&m).unwrap_err(),
        FramingError::MembershipTagPresence
    );

    let mut m = good.clone();
    m.content.authenticated_data.push(0);
    assert_eq!(
        f.unprotect_public(&m).unwrap_err(),
        FramingError::InvalidMembershipTag
    );

    let mut m = good.clone();
    flip(m.auth.confirmation_tag.as_mut().unwrap(), 3);
    assert_eq!(
        f.unprotect_public(&m).unwrap_err(),
        FramingError::InvalidMembershipTag
    );

    // Wrong membership key.
    assert_eq!(
        unprotect_public(f.cs(), &good, &f.context, &[7; 32]).unwrap_err(),
        FramingError::InvalidMembershipTag
    );

    // A bad signature under a valid membership tag (an insider forging another member's
    // message) passes the MAC and fails verification.
    let mut m = good.clone();
    flip(&mut m.auth.signature, 10);
    m.membership_tag =
        Some(membership_tag(f.cs(), &f.membership_key, &m.content, &m.auth, &f.context).unwrap());
    let unverified = unprotect_public(f.cs(), &m, &f.context, &f.membership_key).unwrap();
    assert_eq!(
        unverified.verify(f.cs(), &f.sig_pub, &f.context),
        Err(FramingError::InvalidSignature)
    );

    // The right message with another sender's key.
    let (_, other_pub) = f.cs().signature_generate(&mut SeededRng::new(9)).unwrap();
    let unverified = unprotect_public(f.cs(), &good, &f.context, &f.membership_key).unwrap();
    assert_eq!(
        unverified.verify(f.cs(), &other_pub, &f.context),
        Err(FramingError::InvalidSignature)
    );

    // Wrong group or epoch.
    let mut context = f.context.clone();
    context.epoch += 1;
    assert_eq!(
        unprotect_public(f.cs(), &good, &context, &f.membership_key).unwrap_err(),
        FramingError::WrongEpoch {
            message: 7,
            expected: 8
        }
    );
    let mut m = good.clone();
    m.content.group_id = b"other".to_vec();
    assert_eq!(
        f.unprotect_public(&m).unwrap_err(),
        FramingError::WrongGroupId
    );
    // Verification against another context (the signature covers it).
    let mut context = f.context.clone();
    context.tree_hash = vec![0; 32];
    let unverified = unprotect_public(f.cs(), &good, &f.context, &f.membership_key).unwrap();
    assert_eq!(
        unverified.verify(f.cs(), &f.sig_pub, &context),
        Err(FramingError::InvalidSignature)
    );

    // Missing confirmation tag on a commit.
    let mut m = good.clone();
    m.auth.confirmation_tag = None;
    assert_eq!(
        f.unprotect_public(&m).unwrap_err(),
        FramingError::ConfirmationTagPresence
    );
    // The untouched message still verifies.
    f.unprotect_public(&good).unwrap();
}

#[test]
fn public_protect_preconditions() {
    let f = Fixture::new();
    let signed = f.signed(WireFormat::PRIVATE_MESSAGE, proposal());
    assert!(matches!(
        protect_public(f.cs(), &signed, Some(&f.context), Some(&f.membership_key)),
        Err(FramingError::WrongWireFormat { .. })
    ));
    let signed = f.signed(WireFormat::PUBLIC_MESSAGE, proposal());
    assert_eq!(
        protect_public(f.cs(), &signed, Some(&f.context), None),
        Err(FramingError::MissingMembershipKey)
    );
    assert_eq!(
        protect_public(f.cs(), &signed, None, Some(&f.membership_key)),
        Err(FramingError::MissingGroupContext)
    );
    let mut signed = f.signed(WireFormat::PUBLIC_MESSAGE, commit());
    signed.auth.confirmation_tag = None;
    assert_eq!(
        protect_public(f.cs(), &signed, Some(&f.context), Some(&f.membership_key)),
        Err(FramingError::ConfirmationTagPresence)
    );
    assert_eq!(
        sign_content(
            f.cs(),
            f.sig_priv.as_bytes(),
            WireFormat::PUBLIC_MESSAGE,
            f.framed(Sender::Member(SENDER), proposal()),
            None,
        ),
        Err(FramingError::MissingGroupContext)
    );
}

#[test]
fn external_sender_rules() {
    let f = Fixture::new();
    // An external proposal: no group context signed, no membership tag.
    let signed = sign_content(
        f.cs(),
        f.sig_priv.as_bytes(),
        WireFormat::PUBLIC_MESSAGE,
        f.framed(Sender::External(0), proposal()),
        None,
    )
    .unwrap();
    let message = protect_public(f.cs(), &signed, None, None).unwrap();
    assert_eq!(message.membership_tag, None);
    let verified = unprotect_public(f.cs(), &message, &f.context, &f.membership_key)
        .unwrap()
        .verify(f.cs(), &f.sig_pub, &f.context)
        .unwrap();
    assert_eq!(verified.into_authenticated_content(), signed);

    // A membership tag on a non-member's message is rejected.
    let mut m = message.clone();
    m.membership_tag = Some(vec![0; 32]);
    assert_eq!(
        unprotect_public(f.cs(), &m, &f.context, &f.membership_key).unwrap_err(),
        FramingError::MembershipTagPresence
    );

    // Content types per sender type (§6.1).
    for (sender, content) in [
        (Sender::External(0), commit()),
        (Sender::NewMemberCommit, proposal()),
        (Sender::NewMemberProposal, commit()),
    ] {
        assert!(matches!(
            sign_content(
                f.cs(),
                f.sig_priv.as_bytes(),
                WireFormat::PUBLIC_MESSAGE,
                f.framed(sender, content),
                Some(&f.context),
            ),
            Err(FramingError::ContentNotAllowedForSender { .. })
        ));
    }
    assert_eq!(
        sign_content(
            f.cs(),
            f.sig_priv.as_bytes(),
            WireFormat::PUBLIC_MESSAGE,
            f.framed(Sender::NewMemberProposal, proposal()),
            None,
        ),
        Err(FramingError::NewMemberProposalNotAdd)
    );
    // A received external commit is rejected too.
    let mut m = message;
    m.content.content = commit();
    m.auth.confirmation_tag = Some(vec![0; 32]);
    assert!(matches!(
        unprotect_public(f.cs(), &m, &f.context, &f.membership_key),
        Err(FramingError::ContentNotAllowedForSender { .. })
    ));
    // Only members send PrivateMessages.
    assert_eq!(
        sign_content(
            f.cs(),
            f.sig_priv.as_bytes(),
            WireFormat::PRIVATE_MESSAGE,
            f.framed(Sender::External(0), proposal()),
            None,
        ),
        Err(FramingError::SenderNotMember)
    );
}

// ---- §6.3: PrivateMessage ---------------------------------------------------------------

#[test]
fn private_round_trip_all_content_types() {
    let mut f = Fixture::new();
    let (mut sender, mut receiver) = (f.tree(), f.tree());
    for content in [application(), proposal(), commit(), application()] {
        let (signed, message) = f.private(&mut sender, content, PaddingPolicy::None);
        let wire = MlsMessage::new(MlsMessageBody::PrivateMessage(message))
            .to_bytes()
            .unwrap();
        let MlsMessageBody::PrivateMessage(message) = MlsMessage::from_bytes(&wire).unwrap().body
        else {
            panic!("not a PrivateMessage");
        };
        let verified = f.unprotect_private(&mut receiver, &message).unwrap();
        assert_eq!(verified.clone().into_authenticated_content(), signed);
        assert_eq!(verified.wire_format(), WireFormat::PRIVATE_MESSAGE);
    }
    // Application and handshake ratchets advanced independently.
    let cs = f.cs.as_ref();
    let app = receiver
        .ratchet(cs, SENDER, RatchetType::Application)
        .unwrap();
    assert_eq!(app.next_generation(), 2);
    let hs = receiver
        .ratchet(cs, SENDER, RatchetType::Handshake)
        .unwrap();
    assert_eq!(hs.next_generation(), 2);
}

#[test]
fn private_padding() {
    let mut f = Fixture::new();
    let (mut sender, mut receiver) = (f.tree(), f.tree());
    let block = NonZeroU32::new(64).unwrap();
    let tag_len = 16; // AES-128-GCM
    for len in [0, 1, 5, 63, 64, 100] {
        let content = Content::Application(vec![0x55; len]);
        let (signed, message) =
            f.private(&mut sender, content, PaddingPolicy::PadToMultipleOf(block));
        assert_eq!((message.ciphertext.len() - tag_len) % 64, 0, "len {len}");
        let verified = f.unprotect_private(&mut receiver, &message).unwrap();
        assert_eq!(verified.clone().into_authenticated_content(), signed);
    }
    assert_eq!(PaddingPolicy::None.padding_for(17).unwrap(), 0);
    let p = PaddingPolicy::PadToMultipleOf(NonZeroU32::new(16).unwrap());
    assert_eq!(p.padding_for(0).unwrap(), 0);
    assert_eq!(p.padding_for(1).unwrap(), 15);
    assert_eq!(p.padding_for(16).unwrap(), 0);
    assert_eq!(p.padding_for(17).unwrap(), 15);
    assert_eq!(p.padding_for(usize::MAX).unwrap(), 1);
}

#[test]
fn padding_rules_on_receipt() {
    let f = Fixture::new();
    let mut sender = f.tree();
    let signed = f.signed(WireFormat::PRIVATE_MESSAGE, application());
    let mut body = Vec::new();
    signed.content.content.encode_body(&mut body).unwrap();
    signed.auth.encode(&mut body).unwrap();
    let sender_data = |generation| SenderData {
        leaf_index: SENDER,
        generation,
        reuse_guard: [1, 2, 3, 4],
    };

    // Zero padding is accepted, of any length.
    let mut padded = body.clone();
    padded.extend_from_slice(&[0; 37]);
    let m = f.raw_private(
        &mut sender,
        ContentType::Application,
        sender_data(0),
        &padded,
    );
    let mut receiver = f.tree();
    let m = f.unprotect_private(&mut receiver, &m).unwrap();
    assert_eq!(m.content(), &application());

    // A non-zero byte anywhere in the padding is not.
    let mut padded = body.clone();
    padded.extend_from_slice(&[0, 0, 0, 1, 0]);
    let m = f.raw_private(
        &mut sender,
        ContentType::Application,
        sender_data(1),
        &padded,
    );
    assert_eq!(
        f.unprotect_private(&mut receiver, &m).unwrap_err(),
        FramingError::NonZeroPadding
    );

    // A truncated plaintext is malformed.
    let m = f.raw_private(
        &mut sender,
        ContentType::Application,
        sender_data(2),
        &body[..body.len() - 1],
    );
    assert!(matches!(
        f.unprotect_private(&mut receiver, &m).unwrap_err(),
        FramingError::MalformedContent(_)
    ));
}

#[test]
fn private_tampering_is_rejected_without_burning_the_key() {
    let mut f = Fixture::new();
    let (mut sender, mut receiver) = (f.tree(), f.tree());
    let (_, good) = f.private(&mut sender, application(), PaddingPolicy::None);

    let mut m = good.clone();
    flip(&mut m.ciphertext, 40);
    assert_eq!(
        f.unprotect_private(&mut receiver, &m).unwrap_err(),
        FramingError::ContentDecryption
    );

    let mut m = good.clone();
    flip(&mut m.encrypted_sender_data, 2);
    assert_eq!(
        f.unprotect_private(&mut receiver, &m).unwrap_err(),
        FramingError::SenderDataDecryption
    );

    // A changed first ciphertext byte also changes the sender-data key (the sample).
    let mut m = good.clone();
    flip(&mut m.ciphertext, 0);
    assert_eq!(
        f.unprotect_private(&mut receiver, &m).unwrap_err(),
        FramingError::SenderDataDecryption
    );

    let mut m = good.clone();
    m.authenticated_data = b"other".to_vec();
    assert_eq!(
        f.unprotect_private(&mut receiver, &m).unwrap_err(),
        FramingError::ContentDecryption
    );

    let mut m = good.clone();
    m.content_type = ContentType::Proposal;
    assert_eq!(
        f.unprotect_private(&mut receiver, &m).unwrap_err(),
        FramingError::SenderDataDecryption
    );

    // Wrong epoch / group id: rejected against the context, and also by the AAD when the
    // context is changed to match.
    let mut m = good.clone();
    m.epoch += 1;
    assert_eq!(
        f.unprotect_private(&mut receiver, &m).unwrap_err(),
        FramingError::WrongEpoch {
            message: 8,
            expected: 7
        }
    );
    let mut context = f.context.clone();
    context.epoch += 1;
    assert_eq!(
        unprotect_private(f.cs(), &m, &context, &mut receiver, &f.sender_data_secret).unwrap_err(),
        FramingError::SenderDataDecryption
    );
    let mut m = good.clone();
    m.group_id = b"other".to_vec();
    assert_eq!(
        f.unprotect_private(&mut receiver, &m).unwrap_err(),
        FramingError::WrongGroupId
    );
    let mut context = f.context.clone();
    context.group_id = b"other".to_vec();
    assert_eq!(
        unprotect_private(f.cs(), &m, &context, &mut receiver, &f.sender_data_secret).unwrap_err(),
        FramingError::SenderDataDecryption
    );

    // Wrong sender data secret.
    assert_eq!(
        unprotect_private(f.cs(), &good, &f.context, &mut receiver, &[0; 32]).unwrap_err(),
        FramingError::SenderDataDecryption
    );

    // After all that, the genuine message still decrypts (its key was not consumed) ...
    let verified = f.unprotect_private(&mut receiver, &good).unwrap();
    assert_eq!(verified.content(), &application());
    // ... exactly once.
    assert_eq!(
        f.unprotect_private(&mut receiver, &good).unwrap_err(),
        FramingError::SecretTree(SecretTreeError::KeyAlreadyUsed(0))
    );
}

#[test]
fn private_bad_signature_is_rejected() {
    let f = Fixture::new();
    let mut rng = SeededRng::new(1);
    let (mut sender, mut receiver) = (f.tree(), f.tree());
    let mut signed = f.signed(WireFormat::PRIVATE_MESSAGE, proposal());
    flip(&mut signed.auth.signature, 5);
    let message = protect_private(
        f.cs(),
        &signed,
        &mut sender,
        &f.sender_data_secret,
        PaddingPolicy::None,
        &mut rng,
    )
    .unwrap();
    assert_eq!(
        f.unprotect_private(&mut receiver, &message).unwrap_err(),
        FramingError::InvalidSignature
    );
    // Signed as a PublicMessage, sent as a PrivateMessage.
    let signed = f.signed(WireFormat::PUBLIC_MESSAGE, proposal());
    assert!(matches!(
        protect_private(
            f.cs(),
            &signed,
            &mut sender,
            &f.sender_data_secret,
            PaddingPolicy::None,
            &mut rng,
        ),
        Err(FramingError::WrongWireFormat { .. })
    ));
    let mut signed = f.signed(WireFormat::PRIVATE_MESSAGE, commit());
    signed.auth.confirmation_tag = None;
    assert_eq!(
        protect_private(
            f.cs(),
            &signed,
            &mut sender,
            &f.sender_data_secret,
            PaddingPolicy::None,
            &mut rng,
        ),
        Err(FramingError::ConfirmationTagPresence)
    );
}

#[test]
fn replay_and_out_of_order() {
    let mut f = Fixture::new();
    let (mut sender, mut receiver) = (f.tree(), f.tree());
    let messages: Vec<_> = (0..4)
        .map(|_| f.private(&mut sender, application(), PaddingPolicy::None).1)
        .collect();
    for i in [2, 0, 3, 1] {
        f.unprotect_private(&mut receiver, &messages[i]).unwrap();
    }
    for (i, m) in (0u32..).zip(&messages) {
        assert_eq!(
            f.unprotect_private(&mut receiver, m).unwrap_err(),
            FramingError::SecretTree(SecretTreeError::KeyAlreadyUsed(i))
        );
    }
}

#[test]
fn forged_generation_does_not_move_the_ratchet() {
    let mut f = Fixture::new();
    let (mut sender, mut receiver) = (f.tree(), f.tree());
    let (_, genuine) = f.private(&mut sender, application(), PaddingPolicy::None);
    // An insider (knows sender_data_secret) claims generation 500 with garbage content.
    let mut scratch = f.tree();
    let mut forged = f.raw_private(
        &mut scratch,
        ContentType::Application,
        SenderData {
            leaf_index: SENDER,
            generation: 500,
            reuse_guard: [0; 4],
        },
        b"garbage",
    );
    forged.ciphertext = vec![0; forged.ciphertext.len()];
    // Re-encrypt the sender data for the modified ciphertext.
    let forged = {
        let sd_aad = SenderDataAad {
            group_id: forged.group_id.clone(),
            epoch: forged.epoch,
            content_type: forged.content_type,
        }
        .to_bytes()
        .unwrap();
        let (k, n) =
            sender_data_key_nonce(f.cs(), &f.sender_data_secret, &forged.ciphertext).unwrap();
        let sd = SenderData {
            leaf_index: SENDER,
            generation: 500,
            reuse_guard: [0; 4],
        };
        forged.encrypted_sender_data = f
            .cs()
            .aead_seal(k.as_bytes(), n.as_bytes(), &sd_aad, &sd.to_bytes().unwrap())
            .unwrap();
        forged
    };
    assert_eq!(
        f.unprotect_private(&mut receiver, &forged).unwrap_err(),
        FramingError::ContentDecryption
    );
    let cs = f.cs.as_ref();
    let ratchet = receiver
        .ratchet(cs, SENDER, RatchetType::Application)
        .unwrap();
    assert_eq!(ratchet.next_generation(), 0);
    assert_eq!(ratchet.retained_keys(), 0);
    f.unprotect_private(&mut receiver, &genuine).unwrap();

    // Too far ahead: refused by the ratchet, state unchanged.
    let too_far = f.raw_private(
        &mut scratch,
        ContentType::Application,
        SenderData {
            leaf_index: SENDER,
            generation: 5000,
            reuse_guard: [0; 4],
        },
        b"x",
    );
    assert!(matches!(
        f.unprotect_private(&mut receiver, &too_far).unwrap_err(),
        FramingError::SecretTree(SecretTreeError::GenerationTooFarAhead { .. })
    ));
}

#[test]
fn sender_leaf_out_of_range() {
    let f = Fixture::new();
    let mut scratch = f.tree();
    let m = f.raw_private(
        &mut scratch,
        ContentType::Application,
        SenderData {
            leaf_index: LeafIndex(2),
            generation: 0,
            reuse_guard: [0; 4],
        },
        b"x",
    );
    let mut receiver = f.tree();
    assert_eq!(
        f.unprotect_private(&mut receiver, &m).unwrap_err(),
        FramingError::SenderLeafOutOfRange { leaf: 2, leaves: 2 }
    );
}

#[test]
fn reuse_guard_comes_from_the_rng() {
    struct Fixed;
    impl CryptoRandom for Fixed {
        fn fill(&mut self, dest: &mut [u8]) -> Result<(), conclave_crypto::CryptoError> {
            dest.fill(0xa5);
            Ok(())
        }
    }
    struct Broken;
    impl CryptoRandom for Broken {
        fn fill(&mut self, _: &mut [u8]) -> Result<(), conclave_crypto::CryptoError> {
            Err(conclave_crypto::CryptoError::RandomFailed)
        }
    }
    let f = Fixture::new();
    let signed = f.signed(WireFormat::PRIVATE_MESSAGE, application());
    let mut sender = f.tree();
    let m = protect_private(
        f.cs(),
        &signed,
        &mut sender,
        &f.sender_data_secret,
        PaddingPolicy::None,
        &mut Fixed,
    )
    .unwrap();
    let (k, n) = sender_data_key_nonce(f.cs(), &f.sender_data_secret, &m.ciphertext).unwrap();
    let aad = SenderDataAad {
        group_id: m.group_id.clone(),
        epoch: m.epoch,
        content_type: m.content_type,
    }
    .to_bytes()
    .unwrap();
    let sd = f
        .cs()
        .aead_open(k.as_bytes(), n.as_bytes(), &aad, &m.encrypted_sender_data)
        .unwrap();
    let sd = SenderData::from_bytes(sd.as_bytes()).unwrap();
    assert_eq!(sd.reuse_guard, [0xa5; 4]);
    assert_eq!(sd.leaf_index, SENDER);
    assert_eq!(sd.generation, 0);
    // A failing random source fails protection, without consuming a generation.
    assert_eq!(
        protect_private(
            f.cs(),
            &signed,
            &mut sender,
            &f.sender_data_secret,
            PaddingPolicy::None,
            &mut Broken,
        ),
        Err(FramingError::Crypto(
            conclave_crypto::CryptoError::RandomFailed
        ))
    );
    let r = sender
        .ratchet(f.cs.as_ref(), SENDER, RatchetType::Application)
        .unwrap();
    assert_eq!(r.next_generation(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_private_messages_never_panic(
        sender_data in proptest::collection::vec(any::<u8>(), 0..64),
        ciphertext in proptest::collection::vec(any::<u8>(), 0..128),
        content_type in 1u8..=3,
    ) {
        let f = Fixture::new();
        let mut tree = f.tree();
        let content_type = ContentType::from_bytes(&[content_type]).unwrap();
        let m = PrivateMessage {
            group_id: f.context.group_id.clone(),
            epoch: f.context.epoch,
            content_type,
            authenticated_data: vec![],
            encrypted_sender_data: sender_data,
            ciphertext,
        };
        prop_assert!(f.unprotect_private(&mut tree, &m).is_err());
    }

    #[test]
    fn arbitrary_plaintexts_never_panic(
        plaintext in proptest::collection::vec(any::<u8>(), 0..200),
        content_type in 1u8..=3,
    ) {
        let f = Fixture::new();
        let mut sender = f.tree();
        let mut receiver = f.tree();
        let content_type = ContentType::from_bytes(&[content_type]).unwrap();
        let m = f.raw_private(
            &mut sender,
            content_type,
            SenderData { leaf_index: SENDER, generation: 0, reuse_guard: [7; 4] },
            &plaintext,
        );
        // Either malformed or (for a parseable plaintext) a bad signature.
        prop_assert!(f.unprotect_private(&mut receiver, &m).is_err());
    }
}
