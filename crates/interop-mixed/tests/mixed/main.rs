//! Groups mixing Conclave, mls-rs and OpenMLS members.
//!
//! Each test takes one implementation as the group's creator and puts one member of every
//! other implementation that supports the cipher suite in the group with it, then runs the
//! life cycle of RFC 9420 through every member in turn: Welcome joins with the ratchet tree
//! in the GroupInfo (§12.4.3.1), commits with UpdatePaths (§12.4), Update proposals by
//! reference (§12.1.2), external and resumption PSKs by value and by reference (§8.4, §8.6,
//! §12.1.4), external joins from a GroupInfo with `external_pub` (§12.4.3.2), removals by
//! value and by reference (§12.1.3), and application messages (§6.3) from every member that
//! every other member decrypts. After every commit all members must agree on the epoch, the
//! epoch authenticator (§8.7), an exported secret (§8.5) and the roster. Handshake messages
//! are PublicMessages or PrivateMessages (§6) throughout, per test.
//!
//! Everything crosses between members as the bytes of an `MLSMessage`.
//!
//! Suites: mls-rs-crypto-rustcrypto 0.23 supports 1, 2, 3 and 7; openmls_rust_crypto 0.6
//! supports 1, 2 and 3; neither supports 5 (P-521), which is therefore not mixed.
//!
//! [`extensions`] and [`safe_hpke`] do the same for draft-ietf-mls-extensions-10 with
//! Conclave and OpenMLS members ([`ext_peer`] is their interface).

// Test code: a panic is a test failure (the helper modules are not `#[test]` functions, so
// clippy's in-test allowances do not reach them).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod conclave_ext;
mod conclave_peer;
mod ext_peer;
mod extensions;
mod inspect;
mod mlsrs_peer;
mod openmls_ext;
mod openmls_peer;
mod peer;
mod pq;
mod safe_hpke;
mod targeted;

use conclave_core::messages::{Psk, ResumptionPskUsage};
use peer::{CommitOp, Handshake, Kind, Peer, ProposalOp, Received};

const KINDS: [Kind; 3] = [Kind::Conclave, Kind::MlsRs, Kind::OpenMls];

/// A member of `kind` named `name`.
fn make(kind: Kind, name: &str, suite: u16, handshake: Handshake, seed: u64) -> Box<dyn Peer> {
    match kind {
        // Conclave runs on its aws-lc-rs backend for public handshakes and on its RustCrypto
        // backend for private ones, so both backends meet both peers.
        Kind::Conclave => Box::new(conclave_peer::ConclavePeer::new(
            name,
            suite,
            handshake,
            handshake == Handshake::Public,
            seed,
        )),
        Kind::MlsRs => mlsrs_peer::new(name, suite, handshake),
        Kind::OpenMls => Box::new(openmls_peer::OpenMlsPeer::new(name, suite, handshake)),
    }
}

struct Mixed {
    members: Vec<Box<dyn Peer>>,
    suite: u16,
    handshake: Handshake,
    seed: u64,
}

/// `KDF.Nh` of the suite.
fn hash_len(suite: u16) -> usize {
    if suite == 7 { 48 } else { 32 }
}

impl Mixed {
    /// Checks that every member is in the same epoch with the same authenticator, exporter
    /// output and roster.
    fn assert_agree(&self, step: &str) {
        let first = &self.members[0];
        let epoch = first.epoch();
        let auth = first.authenticator();
        let export = first.export("mixed", b"ctx", 32);
        let roster = first.roster();
        assert_eq!(roster.len(), self.members.len(), "{step}: roster size");
        for m in &self.members {
            let who = format!("{step}: {} vs {}", m.name(), first.name());
            assert_eq!(m.epoch(), epoch, "{who}: epoch");
            assert_eq!(m.authenticator(), auth, "{who}: epoch authenticator");
            assert_eq!(m.export("mixed", b"ctx", 32), export, "{who}: exporter");
            assert_eq!(m.roster(), roster, "{who}: roster");
        }
    }

    /// The wire format handshake messages from members must have.
    fn handshake_wire_format(&self) -> u16 {
        match self.handshake {
            Handshake::Public => 1,
            Handshake::Private => 2,
        }
    }

    /// Delivers `message` from member `from` to every other member; returns what each got.
    fn deliver(&mut self, from: usize, message: &[u8]) -> Vec<(usize, Received)> {
        let mut out = Vec::new();
        for (i, m) in self.members.iter_mut().enumerate() {
            if i != from {
                out.push((i, m.process(message)));
            }
        }
        out
    }

    /// Checks that a commit for `op` carries what it should (PublicMessages only: private
    /// ones cannot be opened here). `refs` is the number of proposals by reference expected.
    fn check_commit(&self, step: &str, op: &CommitOp, commit: &[u8], refs: usize) {
        assert_eq!(
            inspect::wire_format(commit),
            self.handshake_wire_format(),
            "{step}: wire format"
        );
        let Some(shape) = inspect::commit_shape(commit) else {
            return;
        };
        assert_eq!(shape.by_reference, refs, "{step}: proposals by reference");
        assert!(!shape.external, "{step}: sender");
        let count = |t: u16| shape.by_value.iter().filter(|&&x| x == t).count();
        match op {
            CommitOp::Add(kps) => assert_eq!(count(1), kps.len(), "{step}: Adds"),
            CommitOp::Update => assert!(shape.path, "{step}: no UpdatePath"),
            CommitOp::Pending => {}
            CommitOp::Remove(ids) => {
                assert_eq!(count(3), ids.len(), "{step}: Removes");
                // §12.4: a Remove requires a path.
                assert!(shape.path, "{step}: no UpdatePath");
            }
            CommitOp::ForeignResumptionPsk { .. } => {}
            CommitOp::ExternalPsk | CommitOp::ResumptionPsk(_) => {
                assert_eq!(shape.psks.len(), 1, "{step}: PSK proposals");
                let (psk, nonce_len) = &shape.psks[0];
                // §8.4: psk_nonce has length KDF.Nh.
                assert_eq!(*nonce_len, hash_len(self.suite), "{step}: psk_nonce length");
                match (op, psk) {
                    (CommitOp::ExternalPsk, Psk::External { psk_id }) => {
                        assert_eq!(psk_id, peer::PSK_ID, "{step}")
                    }
                    (
                        CommitOp::ResumptionPsk(epoch),
                        Psk::Resumption {
                            usage,
                            psk_group_id,
                            psk_epoch,
                        },
                    ) => {
                        // §12.1.4: usage application in a PreSharedKey proposal.
                        assert_eq!(*usage, ResumptionPskUsage::Application, "{step}");
                        assert_eq!(psk_group_id, GROUP_ID, "{step}");
                        assert_eq!(psk_epoch, epoch, "{step}");
                    }
                    other => panic!("{step}: unexpected PSK {other:?}"),
                }
            }
        }
    }

    /// Member `committer` commits `op`; everyone else processes the commit, the committer
    /// merges; members the commit removed are dropped (after checking they know it).
    /// `removed` names the members the commit must remove; `refs` is the number of
    /// proposals by reference it must carry.
    fn commit_checked(
        &mut self,
        committer: usize,
        op: CommitOp,
        refs: usize,
        removed: &[Vec<u8>],
    ) -> Option<Vec<u8>> {
        let step = format!("{} commits {op:?}", self.members[committer].name());
        let out = self.members[committer].commit(&op);
        self.check_commit(&step, &op, &out.commit, refs);
        let results = self.deliver(committer, &out.commit);
        self.members[committer].merge();
        let mut gone = Vec::new();
        for (i, r) in results {
            match r {
                Received::Commit { removed: true } => gone.push(i),
                Received::Commit { removed: false } => {}
                other => panic!("{step}: {} got {other:?}", self.members[i].name()),
            }
        }
        let mut gone_names: Vec<Vec<u8>> = gone
            .iter()
            .map(|&i| self.members[i].name().as_bytes().to_vec())
            .collect();
        gone_names.sort();
        let mut expected = removed.to_vec();
        expected.sort();
        assert_eq!(gone_names, expected, "{step}: removed members");
        for &i in gone.iter().rev() {
            self.members.remove(i);
        }
        if !matches!(op, CommitOp::Add(_)) {
            // (after an Add, agreement is checked once the new members joined)
            self.assert_agree(&step);
        }
        eprintln!("{step}");
        out.welcome
    }

    /// [`Mixed::commit_checked`] of a commit with no proposal by reference.
    fn commit(&mut self, committer: usize, op: CommitOp) -> Option<Vec<u8>> {
        let removed = match &op {
            CommitOp::Remove(ids) => ids.clone(),
            _ => Vec::new(),
        };
        self.commit_checked(committer, op, 0, &removed)
    }

    /// Member `from` sends a proposal by reference to everyone.
    fn propose(&mut self, from: usize, op: ProposalOp) {
        let step = format!("{} proposes {op:?}", self.members[from].name());
        let message = self.members[from].propose(&op);
        assert_eq!(
            inspect::wire_format(&message),
            self.handshake_wire_format(),
            "{step}: wire format"
        );
        for (i, r) in self.deliver(from, &message) {
            assert_eq!(r, Received::Proposal, "{step}: {}", self.members[i].name());
        }
        eprintln!("{step}");
    }

    /// Every member sends an application message that every other member decrypts.
    fn exchange(&mut self, tag: &str) {
        for sender in 0..self.members.len() {
            let text = format!("{tag}: hello from {}", self.members[sender].name());
            let aad = format!("aad of {}", self.members[sender].name());
            let message = self.members[sender].protect(text.as_bytes(), aad.as_bytes());
            assert_eq!(
                inspect::wire_format(&message),
                2,
                "{tag}: application message"
            );
            for (i, r) in self.deliver(sender, &message) {
                assert_eq!(
                    r,
                    Received::Application {
                        data: text.clone().into_bytes(),
                        aad: aad.clone().into_bytes(),
                    },
                    "{tag}: {} decrypting {}",
                    self.members[i].name(),
                    self.members[sender].name()
                );
            }
        }
    }

    /// Adds new members of `kinds` (named `<kind>-<suffix>`) through one commit by
    /// `committer`; they join from the Welcome (ratchet tree in its GroupInfo).
    fn add(&mut self, committer: usize, kinds: &[Kind], suffix: &str) {
        let mut joiners: Vec<Box<dyn Peer>> = kinds
            .iter()
            .map(|&k| {
                self.seed += 1;
                let name = format!("{}-{suffix}", k.label());
                make(k, &name, self.suite, self.handshake, self.seed)
            })
            .collect();
        let kps = joiners.iter_mut().map(|j| j.key_package()).collect();
        let welcome = self
            .commit(committer, CommitOp::Add(kps))
            .expect("a Welcome");
        assert_eq!(inspect::wire_format(&welcome), 3);
        for mut j in joiners {
            j.join(&welcome);
            self.members.push(j);
        }
        self.assert_agree(&format!("join by Welcome of {kinds:?}"));
    }

    /// A new member of `kind` joins by external commit from a GroupInfo exported by
    /// `exporter`, with an external PSK if `with_psk`.
    fn external_join(&mut self, kind: Kind, exporter: usize, suffix: &str, with_psk: bool) {
        self.seed += 1;
        let name = format!("{}-{suffix}", kind.label());
        let mut joiner = make(kind, &name, self.suite, self.handshake, self.seed);
        let group_info = self.members[exporter].group_info();
        assert_eq!(inspect::wire_format(&group_info), 4);
        let commit = joiner.join_external(&group_info, with_psk);
        let step = format!(
            "{name} joins externally from {}'s GroupInfo (PSK: {with_psk})",
            self.members[exporter].name()
        );
        let proposals = if with_psk { vec![4, 6] } else { vec![6] };
        self.check_external_commit(&step, &commit, &proposals);
        for (i, r) in self.deliver(usize::MAX, &commit) {
            assert_eq!(
                r,
                Received::Commit { removed: false },
                "{step}: {}",
                self.members[i].name()
            );
        }
        self.members.push(joiner);
        self.assert_agree(&step);
        eprintln!("{step}");
    }

    /// Member `who` re-joins by external commit from `exporter`'s GroupInfo, removing its
    /// old leaf (resync, §12.4.3.2).
    fn external_rejoin(&mut self, who: usize, exporter: usize) {
        let step = format!(
            "{} re-joins externally from {}'s GroupInfo",
            self.members[who].name(),
            self.members[exporter].name()
        );
        let group_info = self.members[exporter].group_info();
        let commit = self.members[who].rejoin_external(&group_info);
        self.check_external_commit(&step, &commit, &[3, 6]);
        for (i, r) in self.deliver(who, &commit) {
            assert_eq!(
                r,
                Received::Commit { removed: false },
                "{step}: {}",
                self.members[i].name()
            );
        }
        // The member's leaf moved (the leftmost blank leaf, or its old one).
        let member = self.members.remove(who);
        self.members.push(member);
        self.assert_agree(&step);
        eprintln!("{step}");
    }

    /// §12.4.3.2: an external commit is a PublicMessage from `new_member_commit` with an
    /// ExternalInit (and optionally Remove and PreSharedKey proposals) by value and a path.
    /// `proposals`: the expected proposal types, sorted.
    fn check_external_commit(&self, step: &str, commit: &[u8], proposals: &[u16]) {
        let shape = inspect::commit_shape(commit).expect("external commits are public");
        assert!(shape.external && shape.path, "{step}: {shape:?}");
        assert_eq!(shape.by_reference, 0, "{step}: by reference");
        let mut types = shape.by_value.clone();
        types.sort_unstable();
        assert_eq!(types, proposals, "{step}: proposal types");
    }
}

const GROUP_ID: &[u8] = b"mixed group";

fn run(creator: Kind, suite: u16, handshake: Handshake) {
    let supported: Vec<Kind> = KINDS.into_iter().filter(|k| k.supports(suite)).collect();
    let others: Vec<Kind> = supported
        .iter()
        .copied()
        .filter(|&k| k != creator)
        .collect();
    assert!(creator.supports(suite));
    let mut g = Mixed {
        members: Vec::new(),
        suite,
        handshake,
        seed: u64::from(suite) * 1000
            + if handshake == Handshake::Public {
                0
            } else {
                500
            },
    };
    let mut first = make(
        creator,
        &format!("{}-a", creator.label()),
        suite,
        handshake,
        1,
    );
    first.create(GROUP_ID);
    g.members.push(first);
    g.assert_agree("create");

    // The creator adds one member of each other implementation in one commit.
    g.add(0, &others, "a");
    g.exchange("after Welcome");
    let n = g.members.len();

    // Each member commits with a fresh UpdatePath (§12.4).
    for i in 0..n {
        g.commit(i, CommitOp::Update);
        g.exchange("after update commit");
    }
    // Update proposals by reference (§12.1.2), committed by the next member.
    for i in 0..n {
        g.propose(i, ProposalOp::Update);
        g.commit_checked((i + 1) % n, CommitOp::Pending, 1, &[]);
    }
    g.exchange("after update proposals");
    // External PSK by value, and by reference from another member (§8.4, §12.1.4).
    for i in 0..n {
        g.commit(i, CommitOp::ExternalPsk);
        g.propose(i, ProposalOp::ExternalPsk);
        g.commit_checked((i + 1) % n, CommitOp::Pending, 1, &[]);
    }
    g.exchange("after external PSKs");
    // Resumption PSKs of this epoch and of the one before (§8.6).
    for i in 0..n {
        let epoch = g.members[i].epoch();
        g.commit(i, CommitOp::ResumptionPsk(epoch));
        g.commit(i, CommitOp::ResumptionPsk(epoch));
    }
    g.exchange("after resumption PSKs");

    // One new member of each implementation joins by external commit, from the GroupInfo of
    // a member of another implementation (§12.4.3.2).
    for (j, &kind) in supported.iter().enumerate() {
        let exporter = (0..g.members.len())
            .map(|x| (x + j) % g.members.len())
            .find(|&x| g.members[x].kind() != kind)
            .unwrap();
        g.external_join(kind, exporter, "ext", true);
        g.exchange("after external join");
    }
    // The externally joined members commit too.
    for i in n..g.members.len() {
        g.commit(i, CommitOp::Update);
    }
    // Several proposals by reference from members of different implementations in one
    // commit (§12.2, §12.3): an Update, an external PSK and a Remove.
    let victim = g.members[n].name().as_bytes().to_vec();
    g.propose(n + 1, ProposalOp::Update);
    g.propose(0, ProposalOp::ExternalPsk);
    g.propose(n - 1, ProposalOp::Remove(victim.clone()));
    g.commit_checked(1, CommitOp::Pending, 3, &[victim]);
    g.exchange("after a commit of several proposals");

    // The remaining externally joined members are removed by value (§12.1.3), each by a
    // member of another implementation.
    for r in 0..g.members.len() - n {
        let target = g.members[n].name().as_bytes().to_vec();
        let kind = g.members[n].kind();
        let committer = (0..n)
            .map(|x| (x + r) % n)
            .find(|&x| g.members[x].kind() != kind)
            .unwrap();
        g.commit(committer, CommitOp::Remove(vec![target]));
        g.exchange("after remove");
    }
    // A removal by reference of the creator: the last member proposes it, the second commits
    // it. Leaf 0 is blank afterwards.
    let last = g.members.len() - 1;
    let victim = g.members[0].name().as_bytes().to_vec();
    g.propose(last, ProposalOp::Remove(victim.clone()));
    g.commit_checked(1, CommitOp::Pending, 1, &[victim]);
    g.exchange("after remove by reference");
    // A new member of the creator's implementation fills the blank leaf (§12.1.1), added by
    // a member of another implementation, and then one joins externally.
    let adder = g.members.iter().position(|m| m.kind() != creator).unwrap();
    g.add(adder, &[creator], "b");
    let exporter = g.members.len() - 1;
    let ext = others[0];
    g.external_join(ext, exporter, "late", false);
    // Every member re-joins by an external commit that removes its old leaf (resync),
    // from the GroupInfo of a member of another implementation.
    for _ in 0..g.members.len() {
        let who = 0;
        let kind = g.members[who].kind();
        let exporter = g.members.iter().position(|m| m.kind() != kind).unwrap();
        g.external_rejoin(who, exporter);
    }
    // The group goes on: a last round of updates and messages.
    for i in 0..g.members.len() {
        g.commit(i, CommitOp::Update);
    }
    g.exchange("end");
}
/// RFC 9420 §8.6 identifies a resumption PSK by `psk_group_id` and `psk_epoch`, and §8.4
/// needs the PSK itself: a commit naming the resumption PSK of a group the members do not
/// hold cannot be processed. OpenMLS 0.9.2 resolves resumption PSKs by epoch alone in the
/// current group's store (`schedule/psk.rs`, `load_psks`), ignoring `psk_group_id`, so it
/// creates such a commit with its own group's secret of that epoch, and its members accept
/// it. Conclave and mls-rs refuse the commit.
#[test]
fn foreign_resumption_psk_is_refused() {
    let (suite, handshake) = (1, Handshake::Public);
    let mut g = Mixed {
        members: Vec::new(),
        suite,
        handshake,
        seed: 77,
    };
    let mut creator = make(Kind::OpenMls, "openmls-a", suite, handshake, 1);
    creator.create(GROUP_ID);
    g.members.push(creator);
    g.add(0, &[Kind::Conclave, Kind::MlsRs, Kind::OpenMls], "b");
    let epoch = g.members[0].epoch();
    let op = CommitOp::ForeignResumptionPsk {
        group_id: b"another group".to_vec(),
        epoch,
    };
    // The OpenMLS deviation: it builds the commit although it holds no PSK of that group.
    let out = g.members[0].commit(&op);
    let shape = inspect::commit_shape(&out.commit).unwrap();
    assert!(matches!(
        &shape.psks[..],
        [(Psk::Resumption { psk_group_id, .. }, _)] if psk_group_id == b"another group"
    ));
    let conclave = g.members[1].try_process(&out.commit).unwrap_err();
    assert!(conclave.contains("PskNotFound"), "{conclave}");
    let mlsrs = g.members[2].try_process(&out.commit);
    assert!(mlsrs.is_err(), "mls-rs accepted: {mlsrs:?}");
    eprintln!("conclave: {conclave}\nmls-rs: {}", mlsrs.unwrap_err());
    // The deviation on the receiving side: another OpenMLS member accepts the commit.
    assert_eq!(
        g.members[3].try_process(&out.commit),
        Ok(Received::Commit { removed: false })
    );
}

macro_rules! mixed_tests {
    ($($name:ident: $creator:expr, $suite:expr, $hs:expr;)*) => {
        $(
            #[test]
            fn $name() {
                run($creator, $suite, $hs);
            }
        )*
    };
}

mixed_tests! {
    conclave_creates_suite1_public: Kind::Conclave, 1, Handshake::Public;
    conclave_creates_suite1_private: Kind::Conclave, 1, Handshake::Private;
    conclave_creates_suite2_public: Kind::Conclave, 2, Handshake::Public;
    conclave_creates_suite2_private: Kind::Conclave, 2, Handshake::Private;
    conclave_creates_suite3_public: Kind::Conclave, 3, Handshake::Public;
    conclave_creates_suite3_private: Kind::Conclave, 3, Handshake::Private;
    conclave_creates_suite7_public: Kind::Conclave, 7, Handshake::Public;
    conclave_creates_suite7_private: Kind::Conclave, 7, Handshake::Private;
    mlsrs_creates_suite1_public: Kind::MlsRs, 1, Handshake::Public;
    mlsrs_creates_suite1_private: Kind::MlsRs, 1, Handshake::Private;
    mlsrs_creates_suite2_public: Kind::MlsRs, 2, Handshake::Public;
    mlsrs_creates_suite2_private: Kind::MlsRs, 2, Handshake::Private;
    mlsrs_creates_suite3_public: Kind::MlsRs, 3, Handshake::Public;
    mlsrs_creates_suite3_private: Kind::MlsRs, 3, Handshake::Private;
    mlsrs_creates_suite7_public: Kind::MlsRs, 7, Handshake::Public;
    mlsrs_creates_suite7_private: Kind::MlsRs, 7, Handshake::Private;
    openmls_creates_suite1_public: Kind::OpenMls, 1, Handshake::Public;
    openmls_creates_suite1_private: Kind::OpenMls, 1, Handshake::Private;
    openmls_creates_suite2_public: Kind::OpenMls, 2, Handshake::Public;
    openmls_creates_suite2_private: Kind::OpenMls, 2, Handshake::Private;
    openmls_creates_suite3_public: Kind::OpenMls, 3, Handshake::Public;
    openmls_creates_suite3_private: Kind::OpenMls, 3, Handshake::Private;
}
