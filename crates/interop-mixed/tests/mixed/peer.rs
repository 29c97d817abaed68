//! The one interface the scenarios drive every implementation through. Everything that
//! crosses between members is the TLS encoding of an `MLSMessage` (RFC 9420 §6): each peer
//! serialises what it produces and parses what it receives with its own codec.

/// The implementations under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Conclave,
    MlsRs,
    OpenMls,
}

impl Kind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Conclave => "conclave",
            Kind::MlsRs => "mls-rs",
            Kind::OpenMls => "openmls",
        }
    }

    /// RFC 9420 §17.1 suites the peer's crypto provider supports (of 1, 2, 3, 5, 7).
    /// mls-rs-crypto-rustcrypto 0.23: 1, 2, 3, 7; openmls_rust_crypto 0.6: 1, 2, 3.
    pub(crate) fn supports(self, suite: u16) -> bool {
        match self {
            Kind::Conclave => matches!(suite, 1..=7),
            Kind::MlsRs => matches!(suite, 1 | 2 | 3 | 7),
            Kind::OpenMls => matches!(suite, 1..=3),
        }
    }
}

/// Wire format of handshake messages sent by members (RFC 9420 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handshake {
    Public,
    Private,
}

/// The external PSK every peer knows (RFC 9420 §8.4).
pub(crate) const PSK_ID: &[u8] = b"mixed-external-psk";
pub(crate) const PSK_SECRET: [u8; 32] = [0x5a; 32];

/// What a commit produced, as bytes.
#[derive(Debug, Clone)]
pub(crate) struct CommitOut {
    pub(crate) commit: Vec<u8>,
    pub(crate) welcome: Option<Vec<u8>>,
}

/// Commits a peer can be asked to create.
#[derive(Clone)]
pub(crate) enum CommitOp {
    /// Add these KeyPackages (`MLSMessage`s), Welcome with the ratchet tree in its GroupInfo.
    Add(Vec<Vec<u8>>),
    /// A commit with a fresh UpdatePath and whatever proposals are pending.
    Update,
    /// Commit the pending proposals only (by reference).
    Pending,
    /// Remove the members with these identities, by value.
    Remove(Vec<Vec<u8>>),
    /// A PreSharedKey proposal for the shared external PSK, by value.
    ExternalPsk,
    /// A PreSharedKey proposal for the resumption PSK of this group at `epoch`, by value.
    ResumptionPsk(u64),
    /// A PreSharedKey proposal for the resumption PSK of another group, by value.
    ForeignResumptionPsk { group_id: Vec<u8>, epoch: u64 },
}

impl core::fmt::Debug for CommitOp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Add(kps) => write!(f, "Add({} KeyPackages)", kps.len()),
            Self::Update => write!(f, "Update"),
            Self::Pending => write!(f, "Pending"),
            Self::Remove(ids) => {
                let names: Vec<_> = ids.iter().map(|i| String::from_utf8_lossy(i)).collect();
                write!(f, "Remove({names:?})")
            }
            Self::ExternalPsk => write!(f, "ExternalPsk"),
            Self::ResumptionPsk(epoch) => write!(f, "ResumptionPsk(epoch {epoch})"),
            Self::ForeignResumptionPsk { group_id, epoch } => write!(
                f,
                "ResumptionPsk(group {:?}, epoch {epoch})",
                String::from_utf8_lossy(group_id)
            ),
        }
    }
}

/// Proposals a peer can be asked to send by reference.
#[derive(Clone)]
pub(crate) enum ProposalOp {
    Update,
    Remove(Vec<u8>),
    ExternalPsk,
}

impl core::fmt::Debug for ProposalOp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Update => write!(f, "Update"),
            Self::Remove(id) => write!(f, "Remove({:?})", String::from_utf8_lossy(id)),
            Self::ExternalPsk => write!(f, "ExternalPsk"),
        }
    }
}

/// What processing an incoming message produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Received {
    Application { data: Vec<u8>, aad: Vec<u8> },
    Proposal,
    Commit { removed: bool },
}

/// One member (or member-to-be) of the shared group.
pub(crate) trait Peer {
    fn kind(&self) -> Kind;
    fn name(&self) -> &str;
    /// A fresh KeyPackage as an `MLSMessage`; the peer keeps its private keys.
    fn key_package(&mut self) -> Vec<u8>;
    /// Creates the group (epoch 0, one member).
    fn create(&mut self, group_id: &[u8]);
    /// Joins from a Welcome (`MLSMessage`) for the last KeyPackage it made.
    fn join(&mut self, welcome: &[u8]);
    /// Joins by external commit from a GroupInfo (`MLSMessage`, with `external_pub` and the
    /// ratchet tree), with a PreSharedKey proposal for the external PSK if `with_psk`;
    /// returns the commit. The peer is in the new epoch afterwards.
    fn join_external(&mut self, group_info: &[u8], with_psk: bool) -> Vec<u8>;
    /// A member re-joins by external commit that removes its old leaf (resync,
    /// RFC 9420 §12.4.3.2), dropping its old state; returns the commit.
    fn rejoin_external(&mut self, group_info: &[u8]) -> Vec<u8>;
    /// Creates a commit; it stays pending until [`Peer::merge`].
    fn commit(&mut self, op: &CommitOp) -> CommitOut;
    /// Applies our pending commit (the Delivery Service accepted it).
    fn merge(&mut self);
    /// Sends a proposal by reference.
    fn propose(&mut self, op: &ProposalOp) -> Vec<u8>;
    /// Processes a message from another member.
    fn try_process(&mut self, message: &[u8]) -> Result<Received, String>;
    /// [`Peer::try_process`], which must succeed.
    fn process(&mut self, message: &[u8]) -> Received {
        self.try_process(message)
            .unwrap_or_else(|e| panic!("processing failed: {e}"))
    }
    /// Encrypts an application message.
    fn protect(&mut self, data: &[u8], aad: &[u8]) -> Vec<u8>;
    fn epoch(&self) -> u64;
    /// The epoch authenticator (RFC 9420 §8.7).
    fn authenticator(&self) -> Vec<u8>;
    /// `MLS-Exporter(label, context, length)` (RFC 9420 §8.5).
    fn export(&self, label: &str, context: &[u8], length: usize) -> Vec<u8>;
    /// A GroupInfo with `external_pub` and the ratchet tree.
    fn group_info(&mut self) -> Vec<u8>;
    /// Identities of the members, in leaf order.
    fn roster(&self) -> Vec<Vec<u8>>;
}
