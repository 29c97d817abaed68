//! What travels between clients and the Delivery Service besides single MLS objects: the
//! commit bundle (RFC 9750 §5.2: a Commit travels with its Welcome and GroupInfo), the
//! signed statements of the DS authentication, the media types, and the small JSON bodies
//! of the HTTP API.
//!
//! MLS objects are sent as `message/mls` (RFC 9420 §17.10). A commit bundle and a batch of
//! KeyPackages are TLS-presentation encoded like MLS structures, under the media types
//! [`COMMIT_BUNDLE_MEDIA_TYPE`] and [`KEY_PACKAGES_MEDIA_TYPE`].

use conclave_codec::{Decode, Encode};
use conclave_core::messages::MlsMessage;
use conclave_crypto::{CipherSuiteProvider, labels};
use serde::{Deserialize, Serialize};

/// `message/mls` (RFC 9420 §17.10): one `MLSMessage`.
pub const MLS_MEDIA_TYPE: &str = "message/mls";

/// The log's content type of a targeted message (draft-ietf-mls-targeted-messages): not an
/// RFC 9420 `ContentType` (a targeted message has none), the DS's own code beside 1
/// application, 2 proposal and 3 commit. Posted with `?to=<client>`; members other than
/// the recipient and the sender read the entry with an empty `message` and `sender`.
pub const TARGETED_CONTENT_TYPE: u8 = 4;
/// The content type of a log entry a partial client (registered with
/// [`RegisterRequest::partial`]) reads in place of a commit: its `message` is the TLS-encoded
/// `AnnotatedCommit` the DS built for it (draft-ietf-mls-partial-02 §10), base64, not an
/// `MLSMessage`. The DS's own code, beside [`TARGETED_CONTENT_TYPE`].
pub const ANNOTATED_COMMIT_CONTENT_TYPE: u8 = 5;
/// The content type of a log entry a partial client reads in place of an application
/// message of a verified group: its `message` is the TLS-encoded
/// `SenderAuthenticatedMessage<PrivateMessage>` (draft-ietf-mls-partial-02 §7), base64 —
/// the member's PrivateMessage with the MembershipProof of the posting client's leaf in the
/// message's epoch, which the DS attached when it accepted the message. The partial member
/// checks the proof against its tree hash and that it proves the decrypted sender.
pub const SENDER_AUTHENTICATED_CONTENT_TYPE: u8 = 6;
/// A TLS-encoded `MembershipProof` (draft-ietf-mls-partial-02 §7,
/// `GET /v1/groups/{id}/membership-proof`).
pub const MEMBERSHIP_PROOF_MEDIA_TYPE: &str = "application/vnd.conclave.membership-proof";
/// A TLS-encoded [`CommitBundle`].
pub const COMMIT_BUNDLE_MEDIA_TYPE: &str = "application/vnd.conclave.commit-bundle";
/// A TLS-encoded `MLSMessage key_packages<V>` (a batch of KeyPackages).
pub const KEY_PACKAGES_MEDIA_TYPE: &str = "application/vnd.conclave.key-packages";
/// A TLS-encoded [`PartialCommitBundle`].
pub const PARTIAL_COMMIT_BUNDLE_MEDIA_TYPE: &str = "application/vnd.conclave.partial-commit-bundle";
/// A TLS-encoded [`ExternalJoinBundle`].
pub const EXTERNAL_JOIN_MEDIA_TYPE: &str = "application/vnd.conclave.external-join";
/// Media type of a ratchet tree (`GET /v1/groups/{id}/ratchet-tree`): the TLS encoding of
/// `optional<Node> ratchet_tree<V>` (RFC 9420 §12.4.3.3, `RatchetTreeNodes`).
pub const RATCHET_TREE_MEDIA_TYPE: &str = "application/vnd.conclave.ratchet-tree";
/// A TLS-encoded `ExternalReceiver` (draft-mahy-mls-semiprivatemessage-07 §3): the Delivery
/// Service's HPKE public key for semi-private handshakes and its credential.
pub const EXTERNAL_RECEIVER_MEDIA_TYPE: &str = "application/vnd.conclave.external-receiver";
/// Response header set on a claimed KeyPackage that is its owner's last-resort package.
pub const LAST_RESORT_HEADER: &str = "x-conclave-last-resort";

/// The label of the registration proof: `SignWithLabel(sk, "conclave ds register",
/// RegistrationTbs)` (RFC 9420 §5.1.2 construction with a DS-specific label).
pub const REGISTER_LABEL: &str = "conclave ds register";
/// The label of the challenge answer: `SignWithLabel(sk, "conclave ds auth", ChallengeTbs)`.
pub const AUTH_LABEL: &str = "conclave ds auth";
/// The label of the new key's proof in a credential change: `SignWithLabel(new sk,
/// "conclave ds credential", CredentialChangeTbs)` (distinct from the registration's, so
/// that neither proof can stand for the other).
pub const CREDENTIAL_LABEL: &str = "conclave ds credential";
/// The label of the registered (previous) key's proof in a credential change:
/// `SignWithLabel(previous sk, "conclave ds credential previous key", CredentialChangeTbs)`.
/// A bearer token alone cannot replace a client's key: the key it had must agree.
pub const CREDENTIAL_PREVIOUS_KEY_LABEL: &str = "conclave ds credential previous key";

/// A commit with everything that must be stored with it, accepted or refused as one
/// (RFC 9750 §5.2: exactly one commit per epoch).
///
/// ```text
/// struct {
///     MLSMessage commit;
///     optional<MLSMessage> welcome;
///     MLSMessage group_info;
///     optional<opaque ratchet_tree<V>>;   // encoded ratchet_tree extension data
///     opaque members<V><V>;                // client ids of the members after the commit
///     optional<uint8> allow_external_join; // absent: unchanged
/// } CommitBundle;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CommitBundle {
    /// The commit (`PublicMessage` or `PrivateMessage`).
    pub commit: MlsMessage,
    /// The Welcome for the members the commit adds.
    pub welcome: Option<MlsMessage>,
    /// The GroupInfo of the new epoch.
    pub group_info: MlsMessage,
    /// The ratchet tree of the new epoch (`RatchetTreeNodes` encoding, RFC 9420 §12.4.3.3),
    /// for joiners that do not get it in the GroupInfo.
    pub ratchet_tree: Option<Vec<u8>>,
    /// The DS client ids of the members after the commit, as the committer declares them.
    pub members: Vec<Vec<u8>>,
    /// New value of the group's external-join policy, if it changes.
    pub allow_external_join: Option<bool>,
}

/// A commit bundle whose GroupInfo travels as a `PartialGroupInfo`
/// (draft-ietf-mls-ratchet-tree-options-00 §4), for a group whose handshakes the Delivery
/// Service follows: the DS rebuilds the GroupInfo of the new epoch from its own view (the
/// GroupContext, confirmation tag and, if the partial says so, the tree) and verifies the
/// committer's signature before it stores it. Posted to `POST /v1/groups/{id}/commits` as
/// [`PARTIAL_COMMIT_BUNDLE_MEDIA_TYPE`].
///
/// ```text
/// struct {
///     MLSMessage commit;
///     optional<MLSMessage> welcome;
///     PartialGroupInfo partial_group_info;
///     opaque members<V><V>;
/// } PartialCommitBundle;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PartialCommitBundle {
    /// The commit (`PublicMessage`, or a `SemiPrivateMessage` the DS opens).
    pub commit: MlsMessage,
    /// The Welcome for the members the commit adds.
    pub welcome: Option<MlsMessage>,
    /// What the DS cannot compute of the new epoch's GroupInfo.
    pub partial_group_info: conclave_core::ratchet_tree_options::PartialGroupInfo,
    /// The DS client ids of the members after the commit, as the committer declares them
    /// (the DS takes its own roster).
    pub members: Vec<Vec<u8>>,
}

/// What an external joiner fetches (`GET /v1/groups/{id}/external-join`): the latest
/// GroupInfo with the SelfRemove proposals of its epoch that the Delivery Service holds and
/// validated (draft-ietf-mls-extensions-10 §6.3: the DS SHOULD attach them; the joiner MUST
/// include them in its external commit by reference), and the ratchet tree when the committer
/// supplied it apart from the GroupInfo.
///
/// ```text
/// struct {
///     MLSMessage group_info;
///     MLSMessage self_removes<V>;          // PublicMessages, in log order
///     optional<opaque ratchet_tree<V>>;    // encoded ratchet_tree extension data
/// } ExternalJoinBundle;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ExternalJoinBundle {
    /// The GroupInfo of the group's current epoch.
    pub group_info: MlsMessage,
    /// The pending SelfRemove proposals of that epoch, at most one per member.
    pub self_removes: Vec<MlsMessage>,
    /// The ratchet tree (`RatchetTreeNodes` encoding), if stored apart from the GroupInfo.
    pub ratchet_tree: Option<Vec<u8>>,
}

/// What a client signs to register (proof of possession of its signature key).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct RegistrationTbs {
    /// The client id asked for.
    pub client_id: Vec<u8>,
    /// The cipher suite whose signature scheme the key belongs to.
    pub cipher_suite: u16,
    /// The signature public key.
    pub signature_key: Vec<u8>,
    /// The encoded `Credential`.
    pub credential: Vec<u8>,
}

/// What both keys of a credential change sign (`PUT /v1/clients/{id}/credential`): the new
/// key under [`CREDENTIAL_LABEL`] (proof of possession) and the registered key under
/// [`CREDENTIAL_PREVIOUS_KEY_LABEL`] (consent of the key being replaced), each with
/// `SignWithLabel` (RFC 9420 §5.1.2).
///
/// ```text
/// struct {
///     opaque client_id<V>;
///     uint16 cipher_suite;              // of the new key
///     opaque signature_key<V>;          // the new key
///     opaque credential<V>;             // the new Credential
///     opaque previous_signature_key<V>; // the registered key it replaces
///     opaque token_id<V>;               // token_id(bearer token of the request)
/// } CredentialChangeTbs;
/// ```
///
/// `token_id` ties the proofs to one bearer token. A change revokes every token issued
/// before it, so a recorded change cannot be replayed with another token, nor with its own
/// once it has been applied.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CredentialChangeTbs {
    /// The client id.
    pub client_id: Vec<u8>,
    /// The cipher suite of the new key.
    pub cipher_suite: u16,
    /// The new signature public key.
    pub signature_key: Vec<u8>,
    /// The new encoded `Credential`.
    pub credential: Vec<u8>,
    /// The registered signature key that the change replaces.
    pub previous_signature_key: Vec<u8>,
    /// [`token_id`] of the request's bearer token.
    pub token_id: Vec<u8>,
}

/// The identifier of a bearer token that signed statements name (and the form in which the
/// Delivery Service stores it): SHA-256 of the token's text.
pub fn token_id(token: &str) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.as_bytes()).to_vec()
}

/// What a client signs to answer a challenge.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ChallengeTbs {
    /// The client id.
    pub client_id: Vec<u8>,
    /// The challenge the DS issued.
    pub challenge: Vec<u8>,
}

/// Signs the registration of a client (for clients and tests).
pub fn sign_registration(
    cs: &dyn CipherSuiteProvider,
    secret_key: &[u8],
    tbs: &RegistrationTbs,
) -> Result<Vec<u8>, conclave_crypto::CryptoError> {
    let content = tbs
        .to_bytes()
        .map_err(|e| conclave_crypto::CryptoError::Encoding(e.to_string()))?;
    labels::sign_with_label(cs, secret_key, REGISTER_LABEL, &content)
}

/// Signs a credential change with the new key (for clients and tests), under
/// [`CREDENTIAL_LABEL`]; `cs` is the new key's suite.
pub fn sign_credential_change(
    cs: &dyn CipherSuiteProvider,
    new_secret_key: &[u8],
    tbs: &CredentialChangeTbs,
) -> Result<Vec<u8>, conclave_crypto::CryptoError> {
    let content = tbs
        .to_bytes()
        .map_err(|e| conclave_crypto::CryptoError::Encoding(e.to_string()))?;
    labels::sign_with_label(cs, new_secret_key, CREDENTIAL_LABEL, &content)
}

/// Signs a credential change with the registered (previous) key (for clients and tests),
/// under [`CREDENTIAL_PREVIOUS_KEY_LABEL`]; `cs` is the registered key's suite.
pub fn sign_credential_change_previous(
    cs: &dyn CipherSuiteProvider,
    previous_secret_key: &[u8],
    tbs: &CredentialChangeTbs,
) -> Result<Vec<u8>, conclave_crypto::CryptoError> {
    let content = tbs
        .to_bytes()
        .map_err(|e| conclave_crypto::CryptoError::Encoding(e.to_string()))?;
    labels::sign_with_label(
        cs,
        previous_secret_key,
        CREDENTIAL_PREVIOUS_KEY_LABEL,
        &content,
    )
}

/// Signs the answer to a challenge (for clients and tests).
pub fn sign_challenge(
    cs: &dyn CipherSuiteProvider,
    secret_key: &[u8],
    client_id: &str,
    challenge: &[u8],
) -> Result<Vec<u8>, conclave_crypto::CryptoError> {
    let content = ChallengeTbs {
        client_id: client_id.as_bytes().to_vec(),
        challenge: challenge.to_vec(),
    }
    .to_bytes()
    .map_err(|e| conclave_crypto::CryptoError::Encoding(e.to_string()))?;
    labels::sign_with_label(cs, secret_key, AUTH_LABEL, &content)
}

/// `POST /v1/clients`: register a client. Binary fields are base64 (standard alphabet).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// The client id (1 to 128 characters of `[A-Za-z0-9._@:-]`).
    pub client_id: String,
    /// The cipher suite of the signature key.
    pub cipher_suite: u16,
    /// The signature public key.
    pub signature_key: String,
    /// The TLS-encoded `Credential` (RFC 9420 §5.3).
    pub credential: String,
    /// `SignWithLabel(sk, "conclave ds register", RegistrationTbs)`.
    pub signature: String,
    /// A partial client (draft-ietf-mls-partial-02): it holds no ratchet tree, so the DS
    /// stores Welcomes for it as AnnotatedWelcomes (§8) and serves the commits of groups it
    /// follows as AnnotatedCommits (§10, [`ANNOTATED_COMMIT_CONTENT_TYPE`]). Set at the first
    /// registration; a later registration of the same client does not change it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// `PUT /v1/clients/{id}/credential`: a registered client replaces its signature key and
/// credential (bearer token of that client, and proofs by both keys over a
/// [`CredentialChangeTbs`]). Binary fields are base64 (standard alphabet).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialChangeRequest {
    /// The cipher suite of the new signature key.
    pub cipher_suite: u16,
    /// The new signature public key (may be the current one).
    pub signature_key: String,
    /// The new TLS-encoded `Credential` (RFC 9420 §5.3).
    pub credential: String,
    /// `SignWithLabel(new sk, "conclave ds credential", CredentialChangeTbs)`.
    pub signature: String,
    /// `SignWithLabel(registered sk, "conclave ds credential previous key",
    /// CredentialChangeTbs)`.
    pub previous_key_signature: String,
}

/// `POST /v1/auth/challenge`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChallengeRequest {
    /// The client asking.
    pub client_id: String,
}

/// Answer to `POST /v1/auth/challenge`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChallengeResponse {
    /// The challenge (base64).
    pub challenge: String,
    /// When it expires (seconds since the Unix epoch).
    pub expires_at: u64,
}

/// `POST /v1/auth/token`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRequest {
    /// The client.
    pub client_id: String,
    /// The challenge it was given (base64).
    pub challenge: String,
    /// `SignWithLabel(sk, "conclave ds auth", ChallengeTbs)` (base64).
    pub signature: String,
}

/// Answer to `POST /v1/auth/token`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The bearer token.
    pub token: String,
    /// When it expires (seconds since the Unix epoch).
    pub expires_at: u64,
}

/// `POST /v1/key-packages/claim`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClaimRequest {
    /// Whose KeyPackage.
    pub client_id: String,
    /// For which cipher suite.
    pub cipher_suite: u16,
    /// The group the KeyPackage is for (hex), if the claimer names one: a KeyPackage bound
    /// to that group by its `kp_context` (draft-mahy-mls-kp-context-00) may then be served,
    /// and one bound to another group never is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
}

/// `POST /v1/groups`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateGroupRequest {
    /// The MLS group id, hex.
    pub group_id: String,
    /// The group's current epoch (0 for a new group).
    #[serde(default)]
    pub epoch: u64,
    /// Whether the latest GroupInfo is served to non-members for external joins.
    #[serde(default)]
    pub allow_external_join: bool,
    /// The GroupInfo `MLSMessage` of the group's first epoch, base64. With it the DS
    /// verifies the group's handshakes and keeps its member list from them (RFC 9750 §5,
    /// "verified" groups); its handshakes must then be PublicMessages (or
    /// SemiPrivateMessages the DS can open). Without it the DS cannot read the group's
    /// handshakes and takes the member list its committers write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_info: Option<String>,
    /// The ratchet tree of that epoch (`RatchetTreeNodes`), base64, when the GroupInfo does
    /// not carry it in its `ratchet_tree` extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratchet_tree: Option<String>,
    /// The group's member-proof key of `epoch` (draft-mahy-mls-member-proof-00): with it the
    /// DS accepts a message or commit into the group's log only with a valid member proof,
    /// and learns each next epoch's key from the accepted commit. Absent: no member proofs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_proof: Option<MemberProofRegistration>,
    /// The group's ratchet tree is held by the DS (draft-ietf-mls-ratchet-tree-options-00
    /// §3 `distributionService`): its Welcomes and GroupInfos carry
    /// `RatchetTreeOption{distributionService}` instead of the tree, and joiners fetch the
    /// tree from `GET /v1/groups/{id}/ratchet-tree`. Only a verified group (with
    /// `group_info`, handshakes the DS reads) can be one; a GroupInfo with that option makes
    /// the group one too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tree_on_ds: bool,
}

/// The member-proof public key a group's creator registers (draft-mahy-mls-member-proof-00
/// §3 `MemberProofPubKey`, of the creation epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberProofRegistration {
    /// The group's cipher suite: its signature scheme is the key's.
    pub cipher_suite: u16,
    /// The public key, base64 (standard alphabet, padded).
    pub public_key: String,
}

impl MemberProofRegistration {
    /// The registration of `public_key` for a group of `cipher_suite`.
    pub fn new(cipher_suite: u16, public_key: &[u8]) -> Self {
        use base64::Engine as _;
        Self {
            cipher_suite,
            public_key: base64::engine::general_purpose::STANDARD.encode(public_key),
        }
    }
}

/// A group as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupView {
    /// The MLS group id, hex.
    pub group_id: String,
    /// The current epoch.
    pub epoch: u64,
    /// The sequence number of the last log entry (0: none yet).
    pub last_seq: u64,
    /// Whether external joins are allowed.
    pub allow_external_join: bool,
    /// The members, by client id.
    pub members: Vec<String>,
    /// Whether the DS verifies the group's handshakes and keeps its member list from them
    /// (created with a GroupInfo, see [`CreateGroupRequest::group_info`]).
    #[serde(default)]
    pub verified: bool,
}

/// Answer to an accepted message or commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Accepted {
    /// Its sequence number in the group log.
    pub seq: u64,
    /// The group's epoch after it.
    pub epoch: u64,
}

/// One log entry (`GET /v1/groups/{id}/messages`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogEntryView {
    /// Sequence number (1, 2, … without gaps).
    pub seq: u64,
    /// The epoch the message belongs to.
    pub epoch: u64,
    /// 1 application, 2 proposal, 3 commit, 4 targeted ([`TARGETED_CONTENT_TYPE`]), 5 a
    /// commit annotated for a partial client ([`ANNOTATED_COMMIT_CONTENT_TYPE`]), 6 an
    /// application message with its sender's proof, for a partial client
    /// ([`SENDER_AUTHENTICATED_CONTENT_TYPE`]).
    pub content_type: u8,
    /// The client that posted it.
    pub sender: String,
    /// The `MLSMessage` (base64).
    pub message: String,
}

/// A page of the group log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogPage {
    /// Entries after the cursor, in order (empty: nothing new).
    pub entries: Vec<LogEntryView>,
}

/// One Welcome in a client's inbox.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WelcomeView {
    /// Position in the inbox (increasing).
    pub id: u64,
    /// The KeyPackageRef it was routed by (hex).
    pub key_package_ref: String,
    /// The `MLSMessage` carrying the Welcome (base64); for a partial client's Welcome
    /// (`annotated`), the TLS-encoded `AnnotatedWelcome` (draft-ietf-mls-partial-02 §8).
    pub message: String,
    /// Whether `message` is an `AnnotatedWelcome` rather than an `MLSMessage`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub annotated: bool,
}

/// The inbox page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WelcomePage {
    /// Welcomes after the cursor, in order.
    pub welcomes: Vec<WelcomeView>,
}

/// KeyPackage stock of one client and suite (`GET /v1/key-packages`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyPackageStock {
    /// The cipher suite.
    pub cipher_suite: u16,
    /// Unclaimed, unexpired one-time packages.
    pub one_time_available: u64,
    /// Whether an unexpired last-resort package is published.
    pub has_last_resort: bool,
    /// Whether the last-resort package was handed out since it was published: rotate it.
    pub last_resort_claimed: bool,
}

/// A WebSocket wake-up: the group has entries up to `seq`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WakeUp {
    /// The group id, hex.
    pub group: String,
    /// The new last sequence number.
    pub seq: u64,
}

/// The first text frame of a WebSocket opened without an `Authorization` header (browsers
/// cannot set one): `{"token": "<bearer token>"}`. The Delivery Service never takes a token
/// from a URL, which ends up in logs and histories.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WebSocketAuth {
    /// The bearer token.
    pub token: String,
}

/// WebSocket close code (RFC 6455 §7.4.2, private range): the socket's token is missing,
/// unknown, expired, or was revoked by a credential change. Log in again and reconnect.
pub const WS_CLOSE_UNAUTHORIZED: u16 = 4401;
/// WebSocket close code: the client was revoked by the Authentication Service.
pub const WS_CLOSE_FORBIDDEN: u16 = 4403;
/// WebSocket close code: the client has as many WebSockets open as the DS allows.
pub const WS_CLOSE_TOO_MANY: u16 = 4429;

/// Every error answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable machine-readable code.
    pub error: String,
    /// What was wrong.
    pub message: String,
    /// For `wrong_epoch`: the group's current epoch.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub current_epoch: Option<u64>,
}
