//! Every codepoint and label the drafts Conclave implements define or suggest, in one table,
//! with named profiles that remap them to what deployed peers put on the wire.
//!
//! RFC 9420's own values are constants on their newtypes ([`ExtensionType::RATCHET_TREE`],
//! [`ProposalType::ADD`], …). The drafts' values are not IANA assignments yet: most are
//! "suggested", some are TBD, some clash with each other, and OpenMLS and mls-rs ship
//! earlier choices. So the group's [`CodepointProfile`] decides which values it uses, and is
//! part of the group's configuration and stored state.
//!
//! | Profile | Differs from the draft values |
//! |---|---|
//! | `draft` | — (draft-ietf-mls-extensions-10 §7 values) |
//! | `openmls-0.9` | post-quantum suites under OpenMLS 0.9.2's values and HPKE key derivation (below); targeted messages in the -01 format (the others: the -02 editor's copy); component base label "Application" (-07/-08 text); last resort as extension 0x000A (the -04 design); no wire-format extensions; AppDataUpdates move `app_data_dictionary` to the end of the GroupContext extensions and start from the prior GroupContext's dictionary; a commit lists GroupContextExtensions before AppDataUpdates; bytes may follow the SafeAAD; no AppEphemeral in external commits, no draft proposals from external senders |
//! | `mls-rs` | SelfRemove at 0xF003 (mls-rs's `self_remove_proposal` feature); last resort as extension 0x000A |
//!
//! # Post-quantum cipher suites (draft-ietf-mls-pq-ciphersuites, all codepoints TBD)
//!
//! [`PqCipherSuite`] names the draft's eleven suites; [`CodepointProfile::pq_cipher_suite`]
//! gives the value a profile sends, [`mlspp_pq_cipher_suite`] MLSpp's provisional numbers
//! (the partial-MLS vectors use them) and [`openmls_pq_cipher_suite`] OpenMLS 0.9.2's. The
//! crypto crate's `CipherSuite::algorithms` decodes all three numberings (it cannot depend
//! on this crate; a test here checks that the two agree).
//!
//! | Suite | `draft` (Conclave, private use) | MLSpp | OpenMLS 0.9.2 (`openmls-0.9` profile) | KEM id | mls-rs |
//! |---|---|---|---|---|---|
//! | TBD1 MLKEM768X25519 AES128GCM SHA256 Ed25519 | 0xF0A0 | — | 0x004F | 0x647a | — |
//! | TBD2 MLKEM768X25519 AES256GCM SHA384 Ed25519 | 0xF0A1 | 0x0008 | 0x004E | 0x647a | — |
//! | TBD3 MLKEM768P256 AES128GCM SHA256 P256 | 0xF0A2 | — | — | 0x0050 | — |
//! | TBD4 MLKEM768P256 AES256GCM SHA384 P256 | 0xF0A3 | 0x0009 | — | 0x0050 | — |
//! | TBD5 MLKEM1024P384 AES256GCM SHA384 P384 | 0xF0A4 | 0x000A | — | 0x0051 | — |
//! | TBD6 MLKEM768 AES256GCM SHA384 Ed25519 | 0xF0A5 | — | 0xF042 | 0x0041 | — |
//! | TBD7 MLKEM768 AES256GCM SHA384 P256 | 0xF0A6 | — | 0x0050 | 0x0041 | — |
//! | TBD8 MLKEM1024 AES256GCM SHA384 P384 | 0xF0A7 | — | 0x0042 | 0x0042 | — |
//! | TBD9 MLKEM768X25519 CHACHA20POLY1305 SHA384 MLDSA44 | 0xF0A8 | — | 0x0052 | 0x647a | — |
//! | TBD10 MLKEM768 AES256GCM SHA384 MLDSA65 | 0xF0A9 | — | 0x0051 | 0x0041 | — |
//! | TBD11 MLKEM1024 AES256GCM SHA384 MLDSA87 | 0xF0AA | — | 0x0907 | 0x0042 | — |
//!
//! The ML-DSA suites sign with the TLS SignatureSchemes `mldsa44` (0x0904), `mldsa65`
//! (0x0905) and `mldsa87` (0x0906) of draft-ietf-tls-mldsa, which the draft names; these are
//! not MLS codepoints and every profile uses them (OpenMLS 0.9.2's `SignatureScheme` agrees).
//!
//! Under OpenMLS 0.9.2's values the suites are the draft's algorithms with one difference
//! in the HPKE integration of the KEM (`conclave_crypto::PqHpke::OpenMls09`): OpenMLS 0.9.2
//! (`openmls_rust_crypto` 0.6, hpke-rs 0.7) derives HPKE key pairs as plain
//! `SHAKE256(ikm, Nsk)` rather than draft-ietf-hpke-pq §3's `LabeledDerive`. (OpenMLS's
//! enum names X-Wing 0x004D, but its provider runs HPKE with the KEM id 0x647a, the
//! draft's.) A group under the `openmls-0.9` profile
//! uses OpenMLS's value and derivation, so that its tree keys and HPKE ciphertexts are the
//! ones an OpenMLS member computes; the mixed groups of the interop crate check it on every
//! suite of the table that OpenMLS carries. OpenMLS 0.9.2 also defines two suites outside
//! the draft, which no profile sends: X-Wing/ChaCha20Poly1305/SHA256/Ed25519 (0x004D) and
//! ML-KEM-1024/AES256GCM/SHA512/ML-DSA-87 (0x0906). The `mls-rs` profile sends no
//! post-quantum suite: mls-rs's private suites (0xFDEA, 0xFDEB, 0xFE4C) are other
//! configurations.
//!
//! Decoding is profile-free: a proposal type any profile uses decodes to its structure
//! ([`decodable_proposal_kind`]); whether the group accepts it under that codepoint is the
//! group's check ([`CodepointProfile::proposal_kind`]).
//!
//! # Ratchet tree options (draft-ietf-mls-ratchet-tree-options-00, codepoints TBD)
//!
//! | Structure | Where | Every profile (private use) |
//! |---|---|---|
//! | `RatchetTreeOption` | GroupInfo extension | 0xF0C0 ([`RATCHET_TREE_OPTION_EXTENSION`]) |
//! | `ratchet_tree_source_domains` | GroupContext extension | 0xF0C1 ([`RATCHET_TREE_SOURCE_DOMAINS_EXTENSION`]) |
//!
//! # Clashes between drafts (and how the table settles them)
//! - Extension 0x000B: draft-mahy-mls-kp-context and draft-mahy-mls-room-policy-ext both
//!   request it; room policy moved to components (draft-ietf-mimi-room-policy), so 0x000B is
//!   [`KP_CONTEXT_EXTENSION`] here.
//! - Credential 0x0003/0x0004: draft-ietf-mls-extensions-10 assigns multi/weak-multi;
//!   draft-barnes-mls-addl-creds asks for userinfo-vc = 0x0003, multi = 0x0004,
//!   weak-multi = 0x0005. The extensions draft's values win ([`MULTI_CREDENTIAL`],
//!   [`WEAK_MULTI_CREDENTIAL`]); userinfo-vc travels as MLSpp's 0xFE00
//!   ([`USERINFO_VC_CREDENTIAL`], [`UserInfoVcCodepoint`]).
//! - Wire format 0x0006: draft-ietf-mls-targeted-messages uses it
//!   ([`TARGETED_MESSAGE_WIRE_FORMAT`]); draft-mahy-mls-semiprivatemessage's is TBD1, so
//!   Conclave uses the private-use value 0xF0C5 ([`SEMI_PRIVATE_MESSAGE_WIRE_FORMAT`],
//!   RFC 9420 §17.2 reserves 0xF000–0xFFFF for private use), the same under every profile
//!   that has the wire-format extensions; no deployed peer implements the draft.
//! - Component 0x0008: draft-mahy-mls-semiprivatemessage-07 §5.2 suggests it for
//!   `external_receivers` under the heading "MLS Component Type" but calls it an extension
//!   in its prose. As an *extension* type it would clash with `required_wire_formats`
//!   (0x0008); as a component ID (draft-ietf-mls-extensions-10 §7.5) it does not, so it is
//!   [`EXTERNAL_RECEIVERS_COMPONENT`], an entry of the GroupContext's `app_data_dictionary`.
//! - 0x0008 is both the `required_wire_formats` extension and the `app_data_update` proposal:
//!   different registries, no clash.
//!
//! # Private-use values Conclave chose for drafts without assignments
//!
//! | Draft | Codepoint | Registry | Value (every profile) |
//! |---|---|---|---|
//! | draft-mahy-mls-semiprivatemessage-07 | `mls_semiprivate_message` | wire format | 0xF0C5 |
//! | draft-barnes-mls-replace-00 | `replace` ([`REPLACE_PROPOSAL`]) | proposal type | 0xF0D0 |
//! | draft-barnes-mls-replace-00 | `leaf_node_epoch` ([`LEAF_NODE_EPOCH_EXTENSION`]) | extension type (LN) | 0xF0D1 |
//!
//! | draft-mularczyk-mls-splitcommit-00 | `mls_scommit` ([`SCOMMIT_WIRE_FORMAT`]) | wire format | 0xF0E0 |
//! | draft-mularczyk-mls-splitcommit-00 | `mls_per_member_commit` ([`PER_MEMBER_COMMIT_WIRE_FORMAT`]) | wire format | 0xF0E1 |
//! | draft-mularczyk-mls-splitcommit-00 | `scommit_broadcast` ([`SCOMMIT_BROADCAST_CONTENT_TYPE`]) | content type (`uint8`, no registry) | 0xF0 |
//!
//! No deployed peer implements draft-barnes-mls-replace, so no profile remaps its values.
//! draft-mularczyk-mls-splitcommit-00 is an expired individual draft with no IANA section:
//! it extends `ContentType` with `scommit_broadcast(4)` and `WireFormat` with `mls_scommit`
//! and `mls_per_member_commit` (no values). Value 4 would be the next one IANA-less RFC 9420
//! `ContentType` grows, so Conclave stays clear of it; RFC 9420 defines no registry nor
//! private range for `ContentType`, and 0xF0 mirrors the 0xF000 private-use start of the
//! other registries. A group turns split commits on by listing both wire formats in its
//! `required_wire_formats` ([`crate::split`]); a peer that does not list them in its leaf's
//! `supported_wire_formats` cannot be in such a group.

use conclave_codec::{Decode, Encode};
use conclave_crypto::CipherSuite;

use crate::messages::{
    ComponentId, CredentialType, ExtensionProposalKind, ExtensionType, ProposalType, WireFormat,
};

// ---- draft-ietf-mls-extensions-10 §7.1: extension types -----------------------------------

/// `app_data_dictionary` extension (KP, LN, GC, GI), draft-ietf-mls-extensions-10 §7.1.
pub const APP_DATA_DICTIONARY_EXTENSION: ExtensionType = ExtensionType(0x0006);
/// `supported_wire_formats` extension (LN), draft-ietf-mls-extensions-10 §7.1.
pub const SUPPORTED_WIRE_FORMATS_EXTENSION: ExtensionType = ExtensionType(0x0007);
/// `required_wire_formats` extension (GC), draft-ietf-mls-extensions-10 §7.1.
pub const REQUIRED_WIRE_FORMATS_EXTENSION: ExtensionType = ExtensionType(0x0008);
/// `last_resort_key_package` as a KeyPackage *extension*: the -04 design OpenMLS 0.9 and
/// mls-rs still ship (-10 makes it component [`LAST_RESORT_KEY_PACKAGE_COMPONENT`]).
pub const LAST_RESORT_KEY_PACKAGE_EXTENSION: ExtensionType = ExtensionType(0x000A);

// ---- draft-ietf-mls-extensions-10 §7.2: proposal types ------------------------------------

/// `app_data_update` proposal, draft-ietf-mls-extensions-10 §7.2.
pub const APP_DATA_UPDATE_PROPOSAL: ProposalType = ProposalType(0x0008);
/// `app_ephemeral` proposal, draft-ietf-mls-extensions-10 §7.2.
pub const APP_EPHEMERAL_PROPOSAL: ProposalType = ProposalType(0x0009);
/// `self_remove` proposal, draft-ietf-mls-extensions-10 §7.2 (OpenMLS agrees).
pub const SELF_REMOVE_PROPOSAL: ProposalType = ProposalType(0x000A);
/// `self_remove` under mls-rs's private codepoint (its `self_remove_proposal` feature).
pub const SELF_REMOVE_PROPOSAL_MLS_RS: ProposalType = ProposalType(0xF003);

// ---- draft-ietf-mls-extensions-10 §7.3: credential types ----------------------------------

/// `multi` credential, draft-ietf-mls-extensions-10 §7.3.
pub const MULTI_CREDENTIAL: CredentialType = CredentialType(0x0003);
/// `weak-multi` credential, draft-ietf-mls-extensions-10 §7.3.
pub const WEAK_MULTI_CREDENTIAL: CredentialType = CredentialType(0x0004);

// ---- draft-ietf-mls-extensions-10 §7.5: the MLS Component Types registry ------------------

/// `app_components` (LN, GC): supported / required components.
pub const APP_COMPONENTS_COMPONENT: ComponentId = ComponentId(0x0001);
/// `safe_aad` (LN, GC): supported / required Safe AAD components.
pub const SAFE_AAD_COMPONENT: ComponentId = ComponentId(0x0002);
/// `content_media_types` (LN, GC): accepted / required media types.
pub const CONTENT_MEDIA_TYPES_COMPONENT: ComponentId = ComponentId(0x0003);
/// `last_resort_key_package` (KP): empty data marks a last-resort KeyPackage.
pub const LAST_RESORT_KEY_PACKAGE_COMPONENT: ComponentId = ComponentId(0x0004);
/// `app_ack` (AE): an [`crate::messages::AppAck`] carried in AppEphemeral.
pub const APP_ACK_COMPONENT: ComponentId = ComponentId(0x0005);
/// `external_receivers` (GC): an [`crate::messages::ExternalReceivers`] list, the receivers
/// every `SemiPrivateMessage` of the group is encrypted to (draft-mahy-mls-semiprivatemessage-07
/// §3, §5.2: TBD2, suggested 0x0008).
pub const EXTERNAL_RECEIVERS_COMPONENT: ComponentId = ComponentId(0x0008);
/// The GREASE component values (GI, KP, LN only): 0x0A0A, 0x1A1A, …, 0x7A7A.
pub const GREASE_COMPONENTS: [ComponentId; 8] = [
    ComponentId(0x0A0A),
    ComponentId(0x1A1A),
    ComponentId(0x2A2A),
    ComponentId(0x3A3A),
    ComponentId(0x4A4A),
    ComponentId(0x5A5A),
    ComponentId(0x6A6A),
    ComponentId(0x7A7A),
];

// ---- Conclave's own components (draft-ietf-mls-extensions-10 §7.5: 0x8000-0xFFFF are for
// private use) ---------------------------------------------------------------------------

/// Conclave's group topic (GC): the group context's data of this component is the topic, UTF-8
/// text of at most 256 bytes; an AppDataUpdate `update` carries the whole new topic (same
/// rules) and a `remove` clears it (draft-ietf-mls-extensions-10 §4.7). A private-use value
/// (§7.5), so only Conclave clients know it; the client library implements its logic and
/// lists it in the `app_components` of its leaves (§5.1).
pub const CONCLAVE_TOPIC_COMPONENT: ComponentId = ComponentId(0x8C01);
/// The longest topic [`CONCLAVE_TOPIC_COMPONENT`] carries, in bytes of UTF-8.
pub const CONCLAVE_TOPIC_MAX_BYTES: usize = 256;
/// Conclave's handshake mode (GC): the data is the `WireFormat` (a `uint16`) the group's
/// members send their proposals and commits in — `mls_public_message`,
/// `mls_private_message` or [`SEMI_PRIVATE_MESSAGE_WIRE_FORMAT`] — set by the creator, so
/// that members who join later use the same one. A private-use value (§7.5); the client
/// library reads and writes it. Groups without it predate it and use `mls_private_message`.
pub const CONCLAVE_HANDSHAKES_COMPONENT: ComponentId = ComponentId(0x8C02);

/// `roles_list` (GC) of draft-ietf-mimi-room-policy-04 §3, §10.1.2: the data is a `RoleData`,
/// the role definitions of the room ([`crate::group::policy`]). The draft's value is TBD
/// (suggested 0x0025, not assigned, and in the range IANA will assign), so Conclave uses a
/// private-use value (draft-ietf-mls-extensions-10 §7.5) under every profile until one is
/// assigned.
pub const ROOM_ROLES_COMPONENT: ComponentId = ComponentId(0x8C20);
/// Conclave's participant list (GC): each participant's user identity and role index, the
/// part of the MIMI ParticipantList (draft-ietf-mimi-protocol) that draft-ietf-mimi-room-policy-04
/// §8 authorizes against ([`crate::group::policy::ParticipantList`]). Private use (§7.5).
pub const ROOM_PARTICIPANTS_COMPONENT: ComponentId = ComponentId(0x8C21);

/// Conclave's group name for joiners (GroupInfo extension in the Welcome only): the adder's
/// local name of the group, which the joiner takes as its own local name. Group ids are
/// random bytes, so that the Delivery Service sees no name; the Welcome's GroupInfo is
/// encrypted to the joiners (RFC 9420 §12.4.3.1). A private-use extension type (RFC 9420
/// §17.3: 0xF000-0xFFFF).
pub const CONCLAVE_GROUP_NAME_EXTENSION: ExtensionType = ExtensionType(0xFC01);

// ---- draft-mahy-mls-member-proof-00, as private-use components (§7.5) --------------------
//
// The draft (written against the -04 "Safe Extensions") asks IANA for the extension types
// `handshake_framed_data_hash` and `next_epoch_member_proof_key` and uses an unnamed
// ExtensionType `member_proof` to derive the key pair. In -10's framework these are
// components; no value is assigned, so Conclave uses private-use ones ([`crate::member_proof`]
// explains every decision). The handshake-sharing usage (`handshake_framed_data_hash`) is
// not implemented and has no value here.

/// `member_proof` (GC, AD): an entry (empty data) in the GroupContext's
/// `app_data_dictionary` turns member proofs on for the group; the component of the
/// per-epoch key derivation, of the `SafeSignWithLabel` of every proof and of the
/// `MemberProofAAD` Safe AAD item (draft-mahy-mls-member-proof-00 §3).
pub const MEMBER_PROOF_COMPONENT: ComponentId = ComponentId(0x8C04);
/// `next_epoch_member_proof_key` (AD): the Safe AAD item of a commit carrying the member-proof
/// public key of the epoch the commit starts (draft-mahy-mls-member-proof-00 §4).
pub const NEXT_EPOCH_MEMBER_PROOF_KEY_COMPONENT: ComponentId = ComponentId(0x8C05);
/// `label` of the `ComponentOperationLabel` that derives an epoch's member-proof secret
/// ([`crate::member_proof::member_proof_secret`]).
pub const MEMBER_PROOF_SECRET_LABEL: &[u8] = b"member_proof secret";
/// `label` of the `SafeSignWithLabel` of a member proof (draft-mahy-mls-member-proof-00 §3
/// step 4; the draft's "MLS 1.0 ExtensionData" is the -04 label).
pub const MEMBER_PROOF_SIGN_LABEL: &[u8] = b"member proof";
/// `ExpandWithLabel` label of the member-proof secret (RFC 9420 §8 prefixes "MLS 1.0 ").
pub const MEMBER_PROOF_EXPAND_LABEL: &str = "member_proof";

// ---- labels ----------------------------------------------------------------------------

/// `base_label` of a `ComponentOperationLabel` in draft-ietf-mls-extensions-09 and later
/// (§4.1).
pub const COMPONENT_BASE_LABEL: &[u8] = b"MLS Component";
/// The -07/-08 base label, which OpenMLS 0.9 still uses.
pub const COMPONENT_BASE_LABEL_DRAFT_08: &[u8] = b"Application";
/// Key-schedule label of `application_export_secret` (draft-ietf-mls-extensions-10 §4.4):
/// a `DeriveSecret` label, so a string like RFC 9420's own.
pub const APPLICATION_EXPORT_LABEL: &str = "application_export";
/// SignWithLabel label of a multi-credential's binding (draft-ietf-mls-extensions-10 §6.5.1,
/// §7.4).
pub const CREDENTIAL_BINDING_TBS_LABEL: &str = "CredentialBindingTBS";
/// `EncryptWithLabel` label of the per-message keys encrypted to an external receiver
/// (draft-mahy-mls-semiprivatemessage-07 §3.1, §5.3).
pub const SEMI_PRIVATE_MESSAGE_RECEIVER_LABEL: &str = "SemiPrivateMessageReceiver";
/// `PSKType application(3)` (draft-ietf-mls-extensions-10 §4.5; no IANA text).
pub const APPLICATION_PSK_TYPE: u8 = 3;

// ---- other drafts, kept here so that clashes show ---------------------------------------

/// `mls_targeted_message` wire format (draft-ietf-mls-targeted-messages-01 §9.1, suggested;
/// the same value in the -02 editor's copy and in OpenMLS 0.9.2). The format behind it
/// depends on the profile ([`CodepointProfile::targeted_message_version`]).
pub const TARGETED_MESSAGE_WIRE_FORMAT: WireFormat = WireFormat(0x0006);
/// `mls_semiprivate_message` wire format (draft-mahy-mls-semiprivatemessage-07 §5.1: TBD1).
/// A private-use value (RFC 9420 §17.2: 0xF000–0xFFFF), chosen by Conclave until IANA
/// assigns one; see [`CodepointProfile::semi_private_wire_format`].
pub const SEMI_PRIVATE_MESSAGE_WIRE_FORMAT: WireFormat = WireFormat(0xF0C5);
/// `mls_scommit` wire format (draft-mularczyk-mls-splitcommit-00 §3: no value given). A
/// private-use value (RFC 9420 §17.2: 0xF000–0xFFFF), Conclave's 0xF0E0–0xF0EF block.
pub const SCOMMIT_WIRE_FORMAT: WireFormat = WireFormat(0xF0E0);
/// `mls_per_member_commit` wire format (draft-mularczyk-mls-splitcommit-00 §3: no value
/// given). A private-use value (RFC 9420 §17.2).
pub const PER_MEMBER_COMMIT_WIRE_FORMAT: WireFormat = WireFormat(0xF0E1);
/// `ContentType scommit_broadcast` (draft-mularczyk-mls-splitcommit-00 §3 writes 4; RFC 9420
/// §6 has no registry nor private range for this `uint8`, so Conclave picks 0xF0, away from
/// the values a future RFC would take next; see the module table).
pub const SCOMMIT_BROADCAST_CONTENT_TYPE: u8 = 0xF0;
/// `MLS-Exporter` label of a split commit's `epoch_identifier`
/// (draft-mularczyk-mls-splitcommit-00 §3). The draft names it "SplittableCommit" where the
/// committer constructs the commit and "SCommitBroadcast" where the receiver checks it;
/// Conclave uses the latter for both (the name of the structure the value sits in).
pub const SCOMMIT_EPOCH_IDENTIFIER_LABEL: &str = "SCommitBroadcast";

/// `kp_context` KeyPackage extension (draft-mahy-mls-kp-context-00 §4, requested 0x000B),
/// under every profile ([`crate::kp_context`]). draft-mahy-mls-room-policy-ext-00 requests
/// the same value; its successor draft-ietf-mimi-room-policy carries the policy as
/// components, not an extension, so the value is `kp_context`'s alone here.
pub const KP_CONTEXT_EXTENSION: ExtensionType = ExtensionType(0x000B);

// ---- draft-ietf-mls-ratchet-tree-options-00 (codepoints TBD): private use ---------------
//
// The draft asks IANA for `ratchet_tree_source_domains` (TBD1, GC) and defines
// `RatchetTreeOption` without a codepoint; Conclave sends both as private-use extension
// types (RFC 9420 §17.3: 0xF000–0xFFFF) from its 0xF0C0–0xF0CF block, the same under every
// profile ([`crate::ratchet_tree_options`]).

/// `RatchetTreeOption` as a GroupInfo extension (GI): where the ratchet tree is when the
/// GroupInfo does not carry it (draft-ietf-mls-ratchet-tree-options-00 §3, no codepoint).
pub const RATCHET_TREE_OPTION_EXTENSION: ExtensionType = ExtensionType(0xF0C0);
/// `ratchet_tree_source_domains` (GC): the domains an `httpsUri` tree may come from
/// (draft-ietf-mls-ratchet-tree-options-00 §3.1, §6: TBD1).
pub const RATCHET_TREE_SOURCE_DOMAINS_EXTENSION: ExtensionType = ExtensionType(0xF0C1);
// ---- draft-barnes-mls-replace-00: the Replace proposal and `leaf_node_epoch` ---------------
//
// The draft asks IANA for both ("TODO", §7); until values are assigned Conclave uses
// private-use ones (RFC 9420 §17.3 extension types and §17.4 proposal types: 0xF000-0xFFFF),
// the same under every profile ([`crate::group::replace`]).

/// `replace` proposal (draft-barnes-mls-replace-00 §4, private use), sent by members only,
/// never in an external commit.
pub const REPLACE_PROPOSAL: ProposalType = ProposalType(0xF0D0);
/// `leaf_node_epoch` LeafNode extension (draft-barnes-mls-replace-00 §3, private use): a
/// `uint64`, the epoch in which the LeafNode was created.
pub const LEAF_NODE_EPOCH_EXTENSION: ExtensionType = ExtensionType(0xF0D1);

// ---- draft-ietf-mls-pq-ciphersuites §3: cipher suites (all TBD) ---------------------------

/// A cipher suite of draft-ietf-mls-pq-ciphersuites §3, by its TBD number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PqCipherSuite {
    /// TBD1 `MLS_128_MLKEM768X25519_AES128GCM_SHA256_Ed25519`.
    MlKem768X25519Aes128Sha256Ed25519,
    /// TBD2 `MLS_128_MLKEM768X25519_AES256GCM_SHA384_Ed25519`.
    MlKem768X25519Aes256Sha384Ed25519,
    /// TBD3 `MLS_128_MLKEM768P256_AES128GCM_SHA256_P256`.
    MlKem768P256Aes128Sha256P256,
    /// TBD4 `MLS_128_MLKEM768P256_AES256GCM_SHA384_P256`.
    MlKem768P256Aes256Sha384P256,
    /// TBD5 `MLS_192_MLKEM1024P384_AES256GCM_SHA384_P384`.
    MlKem1024P384Aes256Sha384P384,
    /// TBD6 `MLS_128_MLKEM768_AES256GCM_SHA384_Ed25519`.
    MlKem768Aes256Sha384Ed25519,
    /// TBD7 `MLS_128_MLKEM768_AES256GCM_SHA384_P256`.
    MlKem768Aes256Sha384P256,
    /// TBD8 `MLS_192_MLKEM1024_AES256GCM_SHA384_P384`.
    MlKem1024Aes256Sha384P384,
    /// TBD9 `MLS_128_MLKEM768X25519_CHACHA20POLY1305_SHA384_MLDSA44`.
    MlKem768X25519ChaChaSha384MlDsa44,
    /// TBD10 `MLS_192_MLKEM768_AES256GCM_SHA384_MLDSA65`.
    MlKem768Aes256Sha384MlDsa65,
    /// TBD11 `MLS_256_MLKEM1024_AES256GCM_SHA384_MLDSA87`.
    MlKem1024Aes256Sha384MlDsa87,
}

impl PqCipherSuite {
    /// The eleven suites in draft order (TBD1–TBD11).
    pub const ALL: [Self; 11] = [
        Self::MlKem768X25519Aes128Sha256Ed25519,
        Self::MlKem768X25519Aes256Sha384Ed25519,
        Self::MlKem768P256Aes128Sha256P256,
        Self::MlKem768P256Aes256Sha384P256,
        Self::MlKem1024P384Aes256Sha384P384,
        Self::MlKem768Aes256Sha384Ed25519,
        Self::MlKem768Aes256Sha384P256,
        Self::MlKem1024Aes256Sha384P384,
        Self::MlKem768X25519ChaChaSha384MlDsa44,
        Self::MlKem768Aes256Sha384MlDsa65,
        Self::MlKem1024Aes256Sha384MlDsa87,
    ];

    /// The draft's name of the suite.
    pub fn name(self) -> &'static str {
        match self {
            Self::MlKem768X25519Aes128Sha256Ed25519 => {
                "MLS_128_MLKEM768X25519_AES128GCM_SHA256_Ed25519"
            }
            Self::MlKem768X25519Aes256Sha384Ed25519 => {
                "MLS_128_MLKEM768X25519_AES256GCM_SHA384_Ed25519"
            }
            Self::MlKem768P256Aes128Sha256P256 => "MLS_128_MLKEM768P256_AES128GCM_SHA256_P256",
            Self::MlKem768P256Aes256Sha384P256 => "MLS_128_MLKEM768P256_AES256GCM_SHA384_P256",
            Self::MlKem1024P384Aes256Sha384P384 => "MLS_192_MLKEM1024P384_AES256GCM_SHA384_P384",
            Self::MlKem768Aes256Sha384Ed25519 => "MLS_128_MLKEM768_AES256GCM_SHA384_Ed25519",
            Self::MlKem768Aes256Sha384P256 => "MLS_128_MLKEM768_AES256GCM_SHA384_P256",
            Self::MlKem1024Aes256Sha384P384 => "MLS_192_MLKEM1024_AES256GCM_SHA384_P384",
            Self::MlKem768X25519ChaChaSha384MlDsa44 => {
                "MLS_128_MLKEM768X25519_CHACHA20POLY1305_SHA384_MLDSA44"
            }
            Self::MlKem768Aes256Sha384MlDsa65 => "MLS_192_MLKEM768_AES256GCM_SHA384_MLDSA65",
            Self::MlKem1024Aes256Sha384MlDsa87 => "MLS_256_MLKEM1024_AES256GCM_SHA384_MLDSA87",
        }
    }

    /// Conclave's private-use value (RFC 9420 §17.1: 0xF000–0xFFFF), 0xF0A0 + (TBD − 1),
    /// whether implemented or not.
    pub fn conclave_value(self) -> CipherSuite {
        let position = Self::ALL
            .iter()
            .position(|s| *s == self)
            .unwrap_or_default();
        CipherSuite(0xF0A0_u16.saturating_add(u16::try_from(position).unwrap_or_default()))
    }

    /// Whether Conclave implements the suite: all eleven since the ML-DSA signatures
    /// (TBD9–TBD11) arrived; kept so that a suite a later draft adds can be listed first.
    pub fn is_implemented(self) -> bool {
        CipherSuite::PQ.contains(&self.conclave_value())
    }
}

/// A cipher suite as configuration spells it: a number (decimal or `0x` hexadecimal), or
/// the draft-ietf-mls-pq-ciphersuites §3 name of a post-quantum suite Conclave implements
/// (case-insensitive), which gives the `draft` profile's value.
pub fn parse_cipher_suite(text: &str) -> Option<CipherSuite> {
    let text = text.trim();
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return u16::from_str_radix(hex, 16).ok().map(CipherSuite);
    }
    if let Ok(value) = text.parse::<u16>() {
        return Some(CipherSuite(value));
    }
    PqCipherSuite::ALL
        .into_iter()
        .find(|suite| suite.name().eq_ignore_ascii_case(text))
        .and_then(|suite| CodepointProfile::Draft.pq_cipher_suite(suite))
}

/// MLSpp's provisional number for a suite (its `CipherSuite::ID`, used by the partial-MLS
/// vectors): 8, 9 and 10 for TBD2, TBD4 and TBD5.
pub fn mlspp_pq_cipher_suite(suite: PqCipherSuite) -> Option<CipherSuite> {
    match suite {
        PqCipherSuite::MlKem768X25519Aes256Sha384Ed25519 => Some(CipherSuite(0x0008)),
        PqCipherSuite::MlKem768P256Aes256Sha384P256 => Some(CipherSuite(0x0009)),
        PqCipherSuite::MlKem1024P384Aes256Sha384P384 => Some(CipherSuite(0x000A)),
        _ => None,
    }
}

/// OpenMLS 0.9.2's provisional value for a suite (`openmls_traits` 0.6, feature
/// `draft-ietf-mls-pq-ciphersuites`), which the `openmls-0.9` profile sends; the crypto
/// crate decodes it with OpenMLS's key derivation (see the module documentation).
pub fn openmls_pq_cipher_suite(suite: PqCipherSuite) -> Option<CipherSuite> {
    let value = match suite {
        PqCipherSuite::MlKem768X25519Aes128Sha256Ed25519 => 0x004F,
        PqCipherSuite::MlKem768X25519Aes256Sha384Ed25519 => 0x004E,
        PqCipherSuite::MlKem768Aes256Sha384Ed25519 => 0xF042,
        PqCipherSuite::MlKem768Aes256Sha384P256 => 0x0050,
        PqCipherSuite::MlKem1024Aes256Sha384P384 => 0x0042,
        PqCipherSuite::MlKem768X25519ChaChaSha384MlDsa44 => 0x0052,
        PqCipherSuite::MlKem768Aes256Sha384MlDsa65 => 0x0051,
        PqCipherSuite::MlKem1024Aes256Sha384MlDsa87 => 0x0907,
        PqCipherSuite::MlKem768P256Aes128Sha256P256
        | PqCipherSuite::MlKem768P256Aes256Sha384P256
        | PqCipherSuite::MlKem1024P384Aes256Sha384P384 => return None,
    };
    Some(CipherSuite(value))
}

/// The post-quantum suite a cipher suite value names under any numbering Conclave decodes
/// (its own, MLSpp's or OpenMLS 0.9.2's).
pub fn pq_cipher_suite_of(value: CipherSuite) -> Option<PqCipherSuite> {
    PqCipherSuite::ALL.into_iter().find(|suite| {
        (suite.is_implemented() && suite.conclave_value() == value)
            || mlspp_pq_cipher_suite(*suite) == Some(value)
            || openmls_pq_cipher_suite(*suite) == Some(value)
    })
}

/// A named remapping of the draft codepoints: which values a group puts on the wire and
/// accepts. Stored with the group (one byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Encode, Decode)]
#[repr(u8)]
#[non_exhaustive]
pub enum CodepointProfile {
    /// The values of draft-ietf-mls-extensions-10 (and the other drafts' suggestions).
    #[default]
    Draft = 0,
    /// What OpenMLS 0.9.2 with its `extensions-draft` feature puts on the wire.
    OpenMls09 = 1,
    /// mls-rs 0.x with its `self_remove_proposal` feature.
    MlsRs = 2,
}

/// How a profile marks a last-resort KeyPackage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LastResortMarker {
    /// An entry with empty data for this component in the KeyPackage's
    /// `app_data_dictionary` (draft-ietf-mls-extensions-10 §6.4).
    Component(ComponentId),
    /// An empty KeyPackage extension of this type (the -04 design).
    Extension(ExtensionType),
}

/// A profile name that [`CodepointProfile::from_str`](core::str::FromStr) does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown codepoint profile {0:?}: expected one of draft, openmls-0.9, mls-rs")]
pub struct UnknownProfile(pub String);

impl CodepointProfile {
    /// Every profile, in table order.
    pub const ALL: [Self; 3] = [Self::Draft, Self::OpenMls09, Self::MlsRs];

    /// The profile's name as configuration spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::OpenMls09 => "openmls-0.9",
            Self::MlsRs => "mls-rs",
        }
    }

    /// The proposal type this profile sends `kind` under.
    pub fn proposal_type(self, kind: ExtensionProposalKind) -> ProposalType {
        match (self, kind) {
            (_, ExtensionProposalKind::AppDataUpdate) => APP_DATA_UPDATE_PROPOSAL,
            (_, ExtensionProposalKind::AppEphemeral) => APP_EPHEMERAL_PROPOSAL,
            (Self::MlsRs, ExtensionProposalKind::SelfRemove) => SELF_REMOVE_PROPOSAL_MLS_RS,
            (_, ExtensionProposalKind::SelfRemove) => SELF_REMOVE_PROPOSAL,
            (_, ExtensionProposalKind::Replace) => REPLACE_PROPOSAL,
        }
    }

    /// The kind of proposal `proposal_type` is under this profile, if it is one of the
    /// drafts' proposals.
    pub fn proposal_kind(self, proposal_type: ProposalType) -> Option<ExtensionProposalKind> {
        EXTENSION_PROPOSAL_KINDS
            .into_iter()
            .find(|kind| self.proposal_type(*kind) == proposal_type)
    }

    /// `base_label` of this profile's `ComponentOperationLabel`s.
    pub fn component_base_label(self) -> &'static [u8] {
        match self {
            Self::OpenMls09 => COMPONENT_BASE_LABEL_DRAFT_08,
            Self::Draft | Self::MlsRs => COMPONENT_BASE_LABEL,
        }
    }

    /// How this profile marks last-resort KeyPackages.
    pub fn last_resort_marker(self) -> LastResortMarker {
        match self {
            Self::Draft => LastResortMarker::Component(LAST_RESORT_KEY_PACKAGE_COMPONENT),
            Self::OpenMls09 | Self::MlsRs => {
                LastResortMarker::Extension(LAST_RESORT_KEY_PACKAGE_EXTENSION)
            }
        }
    }

    /// The value this profile sends for a post-quantum suite, if it has one
    /// (draft-ietf-mls-pq-ciphersuites §3; see the module documentation's table).
    pub fn pq_cipher_suite(self, suite: PqCipherSuite) -> Option<CipherSuite> {
        match self {
            Self::Draft => suite.is_implemented().then(|| suite.conclave_value()),
            Self::OpenMls09 => openmls_pq_cipher_suite(suite),
            Self::MlsRs => None,
        }
    }

    /// Whether this profile uses the `supported_wire_formats` / `required_wire_formats`
    /// extensions (draft-ietf-mls-extensions-10 §5). OpenMLS 0.9 has neither.
    pub fn has_wire_format_extensions(self) -> bool {
        !matches!(self, Self::OpenMls09)
    }

    /// The wire format value of `SemiPrivateMessage` under this profile
    /// (draft-mahy-mls-semiprivatemessage-07 §5.1), or `None` where the profile cannot
    /// negotiate it: enabling it needs `supported_wire_formats` and `required_wire_formats`
    /// (§3), which OpenMLS 0.9 does not have.
    pub fn semi_private_wire_format(self) -> Option<WireFormat> {
        self.has_wire_format_extensions()
            .then_some(SEMI_PRIVATE_MESSAGE_WIRE_FORMAT)
    }

    /// Which version of draft-ietf-mls-targeted-messages this profile speaks in the
    /// `mls_targeted_message` wire format (0x0006 under every profile): OpenMLS 0.9.2's
    /// `targeted-messages-draft` feature implements -01; the others follow the editor's copy
    /// after -02 (mls-rs has no targeted messages). The two are not wire compatible.
    pub fn targeted_message_version(self) -> crate::targeted::TargetedMessageVersion {
        match self {
            Self::OpenMls09 => crate::targeted::TargetedMessageVersion::Draft01,
            Self::Draft | Self::MlsRs => crate::targeted::TargetedMessageVersion::Draft02,
        }
    }

    /// Where AppDataUpdates leave the GroupContext's `app_data_dictionary` extension
    /// (draft-ietf-mls-extensions-10 §4.7).
    pub fn app_data_dictionary_placement(self) -> DictionaryPlacement {
        match self {
            Self::OpenMls09 => DictionaryPlacement::MovedToEnd,
            Self::Draft | Self::MlsRs => DictionaryPlacement::InPlace,
        }
    }

    /// Which `app_data_dictionary` the AppDataUpdates of a commit start from
    /// (draft-ietf-mls-extensions-10 §4.7).
    pub fn app_data_update_base(self) -> AppDataUpdateBase {
        match self {
            Self::OpenMls09 => AppDataUpdateBase::PriorGroupContext,
            Self::Draft | Self::MlsRs => AppDataUpdateBase::AfterGroupContextExtensions,
        }
    }

    /// Whether bytes may follow the `SafeAAD` in `authenticated_data` when the group
    /// requires Safe AAD. draft-ietf-mls-extensions-10 §4.9 makes the whole field the
    /// `SafeAAD`; OpenMLS 0.9 appends its application's plain AAD after it and accepts any
    /// tail. Where this is true a receiver accepts (and surfaces) a tail; a sender still
    /// never writes one.
    pub fn safe_aad_allows_trailing_data(self) -> bool {
        matches!(self, Self::OpenMls09)
    }

    /// Whether a commit must list its GroupContextExtensions proposal before its
    /// AppDataUpdate proposals. draft-ietf-mls-extensions-10 §4.7 fixes the processing order
    /// (default proposals first), not the order of the list; OpenMLS 0.9 refuses a commit
    /// whose list has an AppDataUpdate before a GroupContextExtensions.
    pub fn group_context_extensions_before_app_data_updates(self) -> bool {
        matches!(self, Self::OpenMls09)
    }

    /// Whether a proposal of `kind` may be in an external commit: AppDataUpdate and
    /// AppEphemeral by value (draft-ietf-mls-extensions-10 §4.7, §4.8), SelfRemove by
    /// reference (§6.3); never a Replace (draft-barnes-mls-replace-00 §5). OpenMLS 0.9
    /// refuses AppEphemeral there.
    pub fn external_commit_allows(self, kind: ExtensionProposalKind) -> bool {
        !matches!(
            (self, kind),
            (Self::OpenMls09, ExtensionProposalKind::AppEphemeral)
                | (_, ExtensionProposalKind::Replace)
        )
    }

    /// Whether an external sender may send a proposal of `kind`: AppDataUpdate and
    /// AppEphemeral yes, SelfRemove no (draft-ietf-mls-extensions-10 §7.2, "External"), nor
    /// Replace ("any member of the group", draft-barnes-mls-replace-00 §1).
    /// OpenMLS 0.9 accepts only Add and Remove from external senders.
    pub fn external_sender_allows(self, kind: ExtensionProposalKind) -> bool {
        match (self, kind) {
            (_, ExtensionProposalKind::SelfRemove | ExtensionProposalKind::Replace)
            | (Self::OpenMls09, _) => false,
            (Self::Draft | Self::MlsRs, _) => true,
        }
    }
}

/// Where a commit's AppDataUpdates leave the GroupContext's `app_data_dictionary`
/// extension in the GroupContext's extension list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DictionaryPlacement {
    /// An existing extension keeps its place; a new one is appended
    /// (draft-ietf-mls-extensions-10 §4.7).
    InPlace,
    /// The extension is removed and appended, so that it is always the last one, also when
    /// it existed before (OpenMLS 0.9's `Extensions::add_or_replace`).
    MovedToEnd,
}

/// Which `app_data_dictionary` a commit's AppDataUpdates are applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppDataUpdateBase {
    /// The dictionary as the commit's GroupContextExtensions proposal (if any) left it:
    /// AppDataUpdates come "after any default proposals" (draft-ietf-mls-extensions-10
    /// §4.7).
    AfterGroupContextExtensions,
    /// The dictionary of the group context before the commit; the result replaces whatever
    /// a GroupContextExtensions proposal of the same commit set (OpenMLS 0.9). The two
    /// differ only while AppDataUpdate is not a required proposal type.
    PriorGroupContext,
}

impl core::fmt::Display for CodepointProfile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for CodepointProfile {
    type Err = UnknownProfile;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|profile| profile.name() == name)
            .ok_or_else(|| UnknownProfile(name.to_owned()))
    }
}

const EXTENSION_PROPOSAL_KINDS: [ExtensionProposalKind; 4] = [
    ExtensionProposalKind::AppDataUpdate,
    ExtensionProposalKind::AppEphemeral,
    ExtensionProposalKind::SelfRemove,
    ExtensionProposalKind::Replace,
];

/// The structure a proposal type decodes to under *some* profile. Profiles never give one
/// value two meanings (a test checks), so decoding needs no profile.
pub fn decodable_proposal_kind(proposal_type: ProposalType) -> Option<ExtensionProposalKind> {
    CodepointProfile::ALL
        .into_iter()
        .find_map(|profile| profile.proposal_kind(proposal_type))
}

// ---- draft-barnes-mls-addl-creds-01: the userinfo-vc credential ---------------------------
//
// The draft asks IANA for userinfo-vc = 0x0003 (§6.1), which draft-ietf-mls-extensions-10
// gives to `multi` ([`MULTI_CREDENTIAL`]). MLSpp ships the credential under the private-use
// value 0xFE00 (its `userinfo_vc_draft_00`). Every profile here uses the extensions draft's
// multi-credentials, so every profile puts a UserInfo VC on the wire as 0xFE00; the draft's
// 0x0003 is reachable only for a lone credential outside such a group, through
// [`crate::messages::Credential::to_bytes_with`] / `from_bytes_with`.

/// `userinfo-vc` credential as MLSpp deploys it (private use, RFC 9420 §17.5: 0xF000-0xFFFF).
/// What [`crate::messages::Credential::UserInfoVc`] encodes as and decodes from.
pub const USERINFO_VC_CREDENTIAL: CredentialType = CredentialType(0xFE00);
/// `userinfo-vc` credential as draft-barnes-mls-addl-creds-01 §6.1 requests it; clashes with
/// draft-ietf-mls-extensions-10's `multi`.
pub const USERINFO_VC_CREDENTIAL_ADDL_CREDS: CredentialType = CredentialType(0x0003);

/// Which codepoint a `userinfo-vc` credential (draft-barnes-mls-addl-creds-01 §3.2) travels
/// under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum UserInfoVcCodepoint {
    /// [`USERINFO_VC_CREDENTIAL`] (0xFE00), MLSpp's deployed value; usable next to
    /// multi-credentials.
    #[default]
    Mlspp,
    /// [`USERINFO_VC_CREDENTIAL_ADDL_CREDS`] (0x0003), the draft's request; only for a
    /// credential outside a group that uses `multi` (same value).
    AddlCreds,
}

impl UserInfoVcCodepoint {
    /// The credential type this choice means.
    pub fn credential_type(self) -> CredentialType {
        match self {
            Self::Mlspp => USERINFO_VC_CREDENTIAL,
            Self::AddlCreds => USERINFO_VC_CREDENTIAL_ADDL_CREDS,
        }
    }
}

impl CodepointProfile {
    /// The `userinfo-vc` codepoint of this profile (draft-barnes-mls-addl-creds-01 §6.1).
    /// Every profile has the extensions draft's `multi` at 0x0003, so all use MLSpp's 0xFE00.
    pub fn userinfo_vc_codepoint(self) -> UserInfoVcCodepoint {
        match self {
            Self::Draft | Self::OpenMls09 | Self::MlsRs => UserInfoVcCodepoint::Mlspp,
        }
    }
}

#[cfg(test)]
mod userinfo_vc_tests {
    use super::*;

    #[test]
    fn the_userinfo_vc_codepoint_never_clashes_with_the_multi_credentials_of_a_profile() {
        for profile in CodepointProfile::ALL {
            let vc = profile.userinfo_vc_codepoint().credential_type();
            assert_ne!(vc, MULTI_CREDENTIAL, "{profile}");
            assert_ne!(vc, WEAK_MULTI_CREDENTIAL, "{profile}");
            assert_eq!(vc, USERINFO_VC_CREDENTIAL, "{profile}");
        }
        assert_eq!(
            UserInfoVcCodepoint::AddlCreds.credential_type(),
            CredentialType(0x0003)
        );
        assert_eq!(
            UserInfoVcCodepoint::default().credential_type(),
            CredentialType(0xFE00)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_profile_gives_a_proposal_codepoint_a_different_meaning_than_another() {
        for a in CodepointProfile::ALL {
            for b in CodepointProfile::ALL {
                for kind in EXTENSION_PROPOSAL_KINDS {
                    let value = a.proposal_type(kind);
                    assert!(
                        b.proposal_kind(value).is_none_or(|other| other == kind),
                        "{value:?} is {kind:?} under {a} but {:?} under {b}",
                        b.proposal_kind(value)
                    );
                }
            }
        }
    }

    #[test]
    fn draft_proposal_codepoints_do_not_reuse_rfc_9420_values() {
        for profile in CodepointProfile::ALL {
            for kind in EXTENSION_PROPOSAL_KINDS {
                assert!(profile.proposal_type(kind).0 > ProposalType::GROUP_CONTEXT_EXTENSIONS.0);
            }
        }
    }

    #[test]
    fn profiles_parse_from_their_names_and_refuse_others() {
        for profile in CodepointProfile::ALL {
            assert_eq!(profile.name().parse::<CodepointProfile>(), Ok(profile));
        }
        assert_eq!(
            "openmls".parse::<CodepointProfile>(),
            Err(UnknownProfile("openmls".into()))
        );
    }

    #[test]
    fn mls_rs_self_remove_decodes_and_is_refused_by_the_draft_profile() {
        assert_eq!(
            decodable_proposal_kind(SELF_REMOVE_PROPOSAL_MLS_RS),
            Some(ExtensionProposalKind::SelfRemove)
        );
        assert_eq!(
            CodepointProfile::Draft.proposal_kind(SELF_REMOVE_PROPOSAL_MLS_RS),
            None
        );
        assert_eq!(
            CodepointProfile::MlsRs.proposal_kind(SELF_REMOVE_PROPOSAL),
            None
        );
    }

    #[test]
    fn only_the_openmls_profile_moves_the_dictionary_orders_gce_first_and_accepts_a_safe_aad_tail()
    {
        for profile in CodepointProfile::ALL {
            let openmls = profile == CodepointProfile::OpenMls09;
            assert_eq!(
                profile.app_data_dictionary_placement(),
                if openmls {
                    DictionaryPlacement::MovedToEnd
                } else {
                    DictionaryPlacement::InPlace
                },
                "{profile}"
            );
            assert_eq!(
                profile.app_data_update_base(),
                if openmls {
                    AppDataUpdateBase::PriorGroupContext
                } else {
                    AppDataUpdateBase::AfterGroupContextExtensions
                },
                "{profile}"
            );
            assert_eq!(
                profile.safe_aad_allows_trailing_data(),
                openmls,
                "{profile}"
            );
            assert_eq!(
                profile.group_context_extensions_before_app_data_updates(),
                openmls,
                "{profile}"
            );
        }
    }

    #[test]
    fn self_remove_never_comes_from_an_external_sender_and_openmls_takes_no_draft_proposal_from_one()
     {
        for profile in CodepointProfile::ALL {
            assert!(!profile.external_sender_allows(ExtensionProposalKind::SelfRemove));
            assert!(!profile.external_sender_allows(ExtensionProposalKind::Replace));
        }
        for kind in [
            ExtensionProposalKind::AppDataUpdate,
            ExtensionProposalKind::AppEphemeral,
        ] {
            assert!(CodepointProfile::Draft.external_sender_allows(kind));
            assert!(!CodepointProfile::OpenMls09.external_sender_allows(kind));
        }
    }

    #[test]
    fn external_commits_take_every_draft_proposal_but_replace_and_under_openmls_app_ephemeral() {
        for kind in EXTENSION_PROPOSAL_KINDS {
            let replace = kind == ExtensionProposalKind::Replace;
            assert_eq!(
                CodepointProfile::Draft.external_commit_allows(kind),
                !replace
            );
            assert_eq!(
                CodepointProfile::OpenMls09.external_commit_allows(kind),
                kind != ExtensionProposalKind::AppEphemeral && !replace
            );
        }
    }

    #[test]
    fn split_commit_codepoints_are_private_use_and_clash_with_no_wire_format() {
        for value in [SCOMMIT_WIRE_FORMAT, PER_MEMBER_COMMIT_WIRE_FORMAT] {
            assert!((0xF0E0..=0xF0EF).contains(&value.0), "{value:?}");
            for other in [
                WireFormat::PUBLIC_MESSAGE,
                WireFormat::PRIVATE_MESSAGE,
                WireFormat::WELCOME,
                WireFormat::GROUP_INFO,
                WireFormat::KEY_PACKAGE,
                TARGETED_MESSAGE_WIRE_FORMAT,
                SEMI_PRIVATE_MESSAGE_WIRE_FORMAT,
            ] {
                assert_ne!(value, other);
            }
        }
        assert_ne!(SCOMMIT_WIRE_FORMAT, PER_MEMBER_COMMIT_WIRE_FORMAT);
        // RFC 9420's content types are 1..=3; the draft's own 4 is left for a future RFC.
        const { assert!(SCOMMIT_BROADCAST_CONTENT_TYPE > 4) };
    }

    #[test]
    fn replace_codepoints_are_private_use_in_their_range_and_clash_with_nothing() {
        assert!((0xF0D0..=0xF0DF).contains(&REPLACE_PROPOSAL.0));
        assert!((0xF0D0..=0xF0DF).contains(&LEAF_NODE_EPOCH_EXTENSION.0));
        for profile in CodepointProfile::ALL {
            assert_eq!(
                profile.proposal_type(ExtensionProposalKind::Replace),
                REPLACE_PROPOSAL
            );
            assert_eq!(
                profile.proposal_kind(REPLACE_PROPOSAL),
                Some(ExtensionProposalKind::Replace)
            );
        }
        for extension in [
            APP_DATA_DICTIONARY_EXTENSION,
            SUPPORTED_WIRE_FORMATS_EXTENSION,
            REQUIRED_WIRE_FORMATS_EXTENSION,
            LAST_RESORT_KEY_PACKAGE_EXTENSION,
            CONCLAVE_GROUP_NAME_EXTENSION,
            KP_CONTEXT_EXTENSION,
        ] {
            assert_ne!(extension, LEAF_NODE_EPOCH_EXTENSION);
        }
    }

    #[test]
    fn pq_suite_values_decode_to_the_drafts_algorithms_and_clash_with_nothing() {
        use conclave_crypto::{AeadAlgorithm as A, KdfAlgorithm as H, KemAlgorithm as K};
        let mut seen = std::collections::HashSet::new();
        for suite in PqCipherSuite::ALL {
            let value = suite.conclave_value();
            assert!((0xF0A0..=0xF0AF).contains(&value.0), "{suite:?}");
            assert!(seen.insert(value), "{value:?} used twice");
            // RFC 9420's suites and the private-use values never coincide.
            assert!(!CipherSuite::ALL.contains(&value));
            let values = [
                CodepointProfile::Draft.pq_cipher_suite(suite),
                mlspp_pq_cipher_suite(suite),
                CodepointProfile::OpenMls09.pq_cipher_suite(suite),
            ];
            for value in values.into_iter().flatten() {
                assert_eq!(pq_cipher_suite_of(value), Some(suite), "{value:?}");
                let (kem, kdf, aead, _) = value.algorithms().unwrap();
                // The draft's name spells the KEM, AEAD and hash.
                let name = suite.name();
                let kem_name = match kem {
                    K::MlKem768X25519(_) => "_MLKEM768X25519_",
                    K::MlKem768P256 => "_MLKEM768P256_",
                    K::MlKem1024P384 => "_MLKEM1024P384_",
                    K::MlKem768(_) => "_MLKEM768_",
                    K::MlKem1024(_) => "_MLKEM1024_",
                    other => panic!("{other:?}"),
                };
                assert!(name.contains(kem_name), "{name}");
                let aead_name = match aead {
                    A::Aes128Gcm => "_AES128GCM_",
                    A::Aes256Gcm => "_AES256GCM_",
                    A::ChaCha20Poly1305 => "_CHACHA20POLY1305_",
                };
                assert!(name.contains(aead_name), "{name}");
                let hash_name = if kdf == H::HkdfSha256 {
                    "_SHA256_"
                } else {
                    "_SHA384_"
                };
                assert!(name.contains(hash_name), "{name}");
            }
            assert_eq!(
                suite.conclave_value().algorithms().is_some(),
                suite.is_implemented()
            );
        }
        // MLSpp's 8–10 are the suites the partial-MLS vectors name.
        for value in [8, 9, 10] {
            assert!(pq_cipher_suite_of(CipherSuite(value)).is_some());
        }
        // The `openmls-0.9` profile sends OpenMLS's values, which the crypto crate decodes
        // (with OpenMLS's key derivation) as the same draft suite; the two tables agree,
        // and no OpenMLS value is one of RFC 9420's, MLSpp's or Conclave's.
        let mut openmls = Vec::new();
        for suite in PqCipherSuite::ALL {
            let value = CodepointProfile::OpenMls09.pq_cipher_suite(suite);
            assert_eq!(value, openmls_pq_cipher_suite(suite));
            assert_eq!(CodepointProfile::MlsRs.pq_cipher_suite(suite), None);
            if let Some(value) = value {
                assert!(seen.insert(value), "{value:?} used twice");
                assert!(!CipherSuite::ALL.contains(&value));
                assert_eq!(
                    value.openmls_09_pq_equivalent(),
                    Some(suite.conclave_value()),
                    "{suite:?}"
                );
                let (kem, ..) = value.algorithms().unwrap();
                assert_eq!(kem.pq_hpke(), Some(conclave_crypto::PqHpke::OpenMls09));
                openmls.push((value, suite.conclave_value()));
            }
        }
        assert_eq!(openmls, CipherSuite::OPENMLS_09_PQ);
    }

    #[test]
    fn cipher_suites_parse_from_numbers_and_draft_names() {
        assert_eq!(parse_cipher_suite("1"), Some(CipherSuite(1)));
        assert_eq!(parse_cipher_suite("0xF0A5"), Some(CipherSuite(0xF0A5)));
        assert_eq!(parse_cipher_suite("61600"), Some(CipherSuite(0xF0A0)));
        assert_eq!(
            parse_cipher_suite("mls_128_mlkem768x25519_aes128gcm_sha256_ed25519"),
            Some(CipherSuite::MLS_128_MLKEM768X25519_AES128GCM_SHA256_ED25519)
        );
        // The ML-DSA suites (TBD9–TBD11) by name.
        assert_eq!(
            parse_cipher_suite("MLS_128_MLKEM768X25519_CHACHA20POLY1305_SHA384_MLDSA44"),
            Some(CipherSuite::MLS_128_MLKEM768X25519_CHACHA20POLY1305_SHA384_MLDSA44)
        );
        assert_eq!(
            parse_cipher_suite("MLS_192_MLKEM768_AES256GCM_SHA384_MLDSA65"),
            Some(CipherSuite::MLS_192_MLKEM768_AES256GCM_SHA384_MLDSA65)
        );
        assert_eq!(
            parse_cipher_suite("MLS_256_MLKEM1024_AES256GCM_SHA384_MLDSA87"),
            Some(CipherSuite(0xF0AA))
        );
        // A name the draft does not define (OpenMLS's old SHA-512 variant of TBD11).
        assert_eq!(
            parse_cipher_suite("MLS_256_MLKEM1024_AES256GCM_SHA512_MLDSA87"),
            None
        );
        assert_eq!(parse_cipher_suite("suite one"), None);
        assert_eq!(parse_cipher_suite("0x10000"), None);
    }

    #[test]
    fn grease_components_are_recognised() {
        for value in GREASE_COMPONENTS {
            assert!(value.is_grease(), "{value:?}");
        }
        assert!(!ComponentId(0x8A0A).is_grease());
        assert!(!APP_COMPONENTS_COMPONENT.is_grease());
        assert!(ComponentId(0x8000).is_private_use());
        assert!(CONCLAVE_TOPIC_COMPONENT.is_private_use());
        for component in [
            MEMBER_PROOF_COMPONENT,
            NEXT_EPOCH_MEMBER_PROOF_KEY_COMPONENT,
        ] {
            assert!(component.is_private_use() && !component.is_grease());
            assert_ne!(component, CONCLAVE_TOPIC_COMPONENT);
            assert_ne!(component, CONCLAVE_HANDSHAKES_COMPONENT);
        }
        // Safe AAD items are sorted by component: the proof comes before the next key.
        assert!(MEMBER_PROOF_COMPONENT < NEXT_EPOCH_MEMBER_PROOF_KEY_COMPONENT);
        assert!(!CONCLAVE_TOPIC_COMPONENT.is_grease());
    }
}

#[cfg(test)]
mod ratchet_tree_options_tests {
    use super::*;

    #[test]
    fn the_ratchet_tree_option_codepoints_are_private_use_in_their_block_and_clash_with_none() {
        let ours = [
            RATCHET_TREE_OPTION_EXTENSION,
            RATCHET_TREE_SOURCE_DOMAINS_EXTENSION,
        ];
        let others = [
            ExtensionType::APPLICATION_ID,
            ExtensionType::RATCHET_TREE,
            ExtensionType::REQUIRED_CAPABILITIES,
            ExtensionType::EXTERNAL_PUB,
            ExtensionType::EXTERNAL_SENDERS,
            APP_DATA_DICTIONARY_EXTENSION,
            SUPPORTED_WIRE_FORMATS_EXTENSION,
            REQUIRED_WIRE_FORMATS_EXTENSION,
            LAST_RESORT_KEY_PACKAGE_EXTENSION,
            CONCLAVE_GROUP_NAME_EXTENSION,
            KP_CONTEXT_EXTENSION,
        ];
        for value in ours {
            assert!((0xF0C0..=0xF0CF).contains(&value.0), "{value:?}");
            assert!(!others.contains(&value), "{value:?}");
        }
        assert_ne!(ours[0], ours[1]);
    }
}
