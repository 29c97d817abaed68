//! Groups mixing Conclave and OpenMLS 0.9.2 members that use draft-ietf-mls-extensions-10:
//! AppDataUpdate (update and remove, by value and by reference, several per commit, §4.7),
//! AppEphemeral (§4.8), Safe AAD on application and handshake messages (§4.9), SelfRemove
//! committed by the other implementation (§6.3), last-resort KeyPackages (§6.4) and the
//! exporter tree (§4.4).
//!
//! Conclave members run the `openmls-0.9` codepoint profile: every way OpenMLS deviates from
//! -10 is a rule of that profile ([`conclave_core::codepoints`]), never a special case here.
//! The expected group context is computed here from the commit's proposal list (read with
//! Conclave's codec) and the profile's rules, and after every commit all members must agree
//! on it byte for byte (extension order included), on the epoch authenticator and on the
//! exporter-tree secrets of two components.
//!
//! Each implementation creates the group in turn.

use std::collections::HashMap;

use conclave_codec::{Decode, Encode};
use conclave_core::codepoints::{
    APP_DATA_DICTIONARY_EXTENSION, AppDataUpdateBase, DictionaryPlacement,
    LAST_RESORT_KEY_PACKAGE_EXTENSION, LastResortMarker,
};
use conclave_core::messages::{
    AppDataDictionary, AppDataUpdateOperation, ComponentId, CredentialType, Extension,
    ExtensionPayload, ExtensionProposalBody, ExtensionProposalKind, ExtensionType, Proposal,
    RequiredCapabilities, SafeAad, SafeAadItem, Sender, find_payload,
};

use crate::ext_peer::{
    APP_COMPONENTS, APP_COMPONENTS_ID, DRAFT_PROPOSALS, EXPORT_HIGH, EXPORT_LOW, ExtPeer,
    ExtProposal, ExtReceived, PRESENCE, RECEIPTS, SAFE_AAD_ID, TOPIC, apply_update, body_of,
    components_list,
};
use crate::inspect::{self, Committed};
use crate::peer::Kind;

use crate::conclave_ext::PROFILE;

fn make(kind: Kind, name: &str, suite: u16, seed: u64) -> Box<dyn ExtPeer> {
    match kind {
        Kind::OpenMls => Box::new(crate::openmls_ext::OpenMlsExt::new(name, suite)),
        Kind::Conclave => Box::new(crate::conclave_ext::ConclaveExt::new(name, suite, seed)),
        Kind::MlsRs => unreachable!("mls-rs does not implement these drafts"),
    }
}

/// What the test sent by reference, by `ProposalRef`.
#[derive(Debug, Clone)]
enum Sent {
    Draft(ExtProposal),
    SelfRemove,
}

struct World {
    members: Vec<Box<dyn ExtPeer>>,
    suite: u16,
    /// Proposals sent by reference in this epoch, with their senders' names and messages.
    sent: HashMap<Vec<u8>, (Sent, String, Vec<u8>)>,
    /// The GroupContext extensions every member must have.
    context: Vec<Extension>,
}

/// The group context extensions the creator starts with: the dictionary *first* (so that
/// where AppDataUpdates leave it shows), then required_capabilities naming the dictionary
/// and the three draft proposal types under the profile's codepoints.
fn initial_context() -> Vec<Extension> {
    let mut dictionary = AppDataDictionary::default();
    dictionary.insert(
        ComponentId(APP_COMPONENTS_ID),
        components_list(&APP_COMPONENTS),
    );
    dictionary.insert(ComponentId(TOPIC), b"v0:".to_vec());
    let required = RequiredCapabilities {
        extension_types: vec![APP_DATA_DICTIONARY_EXTENSION],
        proposal_types: DRAFT_PROPOSALS
            .into_iter()
            .map(|kind| PROFILE.proposal_type(kind))
            .collect(),
        credential_types: vec![],
    };
    vec![
        Extension {
            extension_type: APP_DATA_DICTIONARY_EXTENSION,
            extension_data: dictionary.to_bytes().unwrap(),
        },
        required.to_extension().unwrap(),
    ]
}

fn dictionary_of(extensions: &[Extension]) -> AppDataDictionary {
    let extension = extensions
        .iter()
        .find(|e| e.extension_type == APP_DATA_DICTIONARY_EXTENSION)
        .expect("no app_data_dictionary in the group context");
    AppDataDictionary::from_bytes(&extension.extension_data).unwrap()
}

impl World {
    fn index(&self, name: &str) -> usize {
        self.members
            .iter()
            .position(|m| m.name() == name)
            .unwrap_or_else(|| panic!("no member {name}"))
    }

    /// The first member of `kind`.
    fn kind_index(&self, kind: Kind) -> usize {
        self.members
            .iter()
            .position(|m| m.kind() == kind)
            .unwrap_or_else(|| panic!("no {} member", kind.label()))
    }

    fn name(&self, i: usize) -> String {
        self.members[i].name().to_string()
    }

    fn roster_names(&self) -> Vec<String> {
        self.members[0]
            .roster()
            .into_iter()
            .map(|id| String::from_utf8(id).unwrap())
            .collect()
    }

    /// Every member is in the same epoch with the same authenticator, roster, group context
    /// extensions (equal to the expected ones, byte for byte) and exporter-tree secrets.
    fn assert_agree(&mut self, step: &str) {
        let expected = self.context.to_bytes().unwrap();
        let epoch = self.members[0].epoch();
        let auth = self.members[0].authenticator();
        let roster = self.members[0].roster();
        let low = self.members[0].safe_export(EXPORT_LOW);
        let high = self.members[0].safe_export(EXPORT_HIGH);
        assert_ne!(low, high, "{step}: two components, one secret");
        for m in &mut self.members {
            let who = format!("{step}: {}", m.name());
            assert_eq!(m.epoch(), epoch, "{who}: epoch");
            assert_eq!(m.authenticator(), auth, "{who}: epoch authenticator");
            assert_eq!(m.roster(), roster, "{who}: roster");
            assert_eq!(
                Vec::<Extension>::from_bytes(&m.context_extensions()).unwrap(),
                self.context,
                "{who}: group context extensions"
            );
            assert_eq!(m.context_extensions(), expected, "{who}: encoding");
        }
        for m in self.members.iter_mut().skip(1) {
            let who = format!("{step}: {}", m.name());
            assert_eq!(
                m.safe_export(EXPORT_LOW),
                low,
                "{who}: SafeExportSecret(low)"
            );
            assert_eq!(
                m.safe_export(EXPORT_HIGH),
                high,
                "{who}: SafeExportSecret(high)"
            );
        }
        eprintln!("{step}: agreed at epoch {epoch}");
    }

    /// Member `from` sends a proposal by reference; everyone else caches it.
    fn propose(&mut self, from: usize, proposal: ExtProposal) {
        let message = self.members[from].propose(&proposal);
        self.cache(from, message, Sent::Draft(proposal));
    }

    /// Member `from` sends a SelfRemove (§6.3); everyone else caches it.
    fn self_remove(&mut self, from: usize) {
        let message = self.members[from].self_remove();
        // §6.3: a SelfRemove is a PublicMessage.
        assert_eq!(inspect::wire_format(&message), 1, "SelfRemove wire format");
        self.cache(from, message, Sent::SelfRemove);
    }

    fn cache(&mut self, from: usize, message: Vec<u8>, sent: Sent) {
        let (proposal, sender) = inspect::proposal_of(&message);
        assert!(
            matches!(sender, Sender::Member(_)),
            "{}: proposal sender",
            self.name(from)
        );
        let kind = match &sent {
            Sent::Draft(ExtProposal::Ephemeral { .. }) => ExtensionProposalKind::AppEphemeral,
            Sent::Draft(_) => ExtensionProposalKind::AppDataUpdate,
            Sent::SelfRemove => ExtensionProposalKind::SelfRemove,
        };
        // The draft codepoints of the profile (§7.2).
        assert_eq!(
            proposal.proposal_type(),
            PROFILE.proposal_type(kind),
            "proposal type"
        );
        let reference = inspect::proposal_ref(self.suite, &message);
        let name = self.name(from);
        self.sent
            .insert(reference, (sent, name.clone(), message.clone()));
        for (i, m) in self.members.iter_mut().enumerate() {
            if i != from {
                let got = m.process(&message);
                assert_eq!(
                    got,
                    ExtReceived::Proposal,
                    "{} got {name}'s proposal",
                    m.name()
                );
            }
        }
    }

    /// Member `committer` commits the pending proposals, `adds` and `inline`; see
    /// [`World::settle`]. Returns the Welcome.
    fn commit(
        &mut self,
        committer: usize,
        adds: &[Vec<u8>],
        inline: &[ExtProposal],
        path: bool,
    ) -> Option<Vec<u8>> {
        let step = format!(
            "{} commits {} adds, {inline:?}, {} pending",
            self.name(committer),
            adds.len(),
            self.sent.len()
        );
        let out = self.members[committer].commit(adds, inline, path);
        self.settle(&step, Some(committer), &out.commit, path);
        if adds.is_empty() {
            self.assert_agree(&step);
        }
        out.welcome
    }

    /// `joiner` joins by external commit from member `from`'s GroupInfo, including every
    /// pending SelfRemove by reference (§6.3) and `inline` by value; see [`World::settle`].
    fn external_join(&mut self, mut joiner: Box<dyn ExtPeer>, from: usize, inline: &[ExtProposal]) {
        let step = format!(
            "{} joins from {}'s GroupInfo with {} pending and {inline:?}",
            joiner.name(),
            self.name(from),
            self.sent.len()
        );
        let group_info = self.members[from].group_info();
        let self_removes: Vec<Vec<u8>> = self
            .sent
            .values()
            .filter(|(sent, _, _)| matches!(sent, Sent::SelfRemove))
            .map(|(_, _, message)| message.clone())
            .collect();
        let commit = joiner.join_external(&group_info, &self_removes, inline);
        self.settle(&step, None, &commit, true);
        self.members.push(joiner);
        self.assert_agree(&step);
    }

    /// Everyone but the committer (`None`: an external joiner) processes `commit`, and the
    /// committer merges it. Checks each member's view of the commit against its proposal
    /// list, applies the list to the expected group context under the profile's rules and
    /// drops the members it removed.
    fn settle(&mut self, step: &str, committer: Option<usize>, commit: &[u8], path: bool) {
        let (list, has_path) = inspect::committed(commit).expect("a PublicMessage commit");

        // What the commit does, in commit order.
        let mut updates: Vec<(u16, Option<Vec<u8>>)> = Vec::new();
        let mut new_context = None;
        let mut ephemeral = Vec::new();
        let mut self_removed = Vec::new();
        let mut needs_path = false;
        for entry in &list {
            let body = match entry {
                Committed::Value(proposal) => match proposal.as_ref() {
                    Proposal::Extension(p) => Some(p.body.clone()),
                    Proposal::Add(_) => None,
                    Proposal::GroupContextExtensions(gce) => {
                        // RFC 9420 §12.4: a GroupContextExtensions proposal requires a path.
                        needs_path = true;
                        new_context = Some(gce.extensions.clone());
                        None
                    }
                    Proposal::ExternalInit(_) if committer.is_none() => None,
                    other => panic!("{step}: unexpected {other:?}"),
                },
                Committed::Reference(r) => {
                    let (sent, sender, _) = self
                        .sent
                        .get(r)
                        .unwrap_or_else(|| panic!("{step}: unknown reference"))
                        .clone();
                    match sent {
                        Sent::SelfRemove => {
                            self_removed.push(sender);
                            needs_path = true;
                            None
                        }
                        Sent::Draft(p) => Some(body_of(&p)),
                    }
                }
            };
            match body {
                Some(ExtensionProposalBody::AppDataUpdate(u)) => updates.push((
                    u.component_id.0,
                    match u.op {
                        AppDataUpdateOperation::Update(bytes) => Some(bytes),
                        AppDataUpdateOperation::Remove => None,
                    },
                )),
                Some(ExtensionProposalBody::AppEphemeral(e)) => {
                    ephemeral.push((e.component_id.0, e.data))
                }
                Some(ExtensionProposalBody::SelfRemove(_)) => {
                    // §6.3: only by reference.
                    panic!("{step}: SelfRemove by value")
                }
                Some(_) | None => {}
            }
        }
        // The list order the profile needs (§4.7).
        if PROFILE.group_context_extensions_before_app_data_updates() {
            let first_update = list.iter().position(|e| self.is_app_data_update(e));
            let last_gce = list.iter().rposition(|e| {
                matches!(e, Committed::Value(p) if matches!(p.as_ref(), Proposal::GroupContextExtensions(_)))
            });
            if let (Some(update), Some(gce)) = (first_update, last_gce) {
                assert!(
                    gce < update,
                    "{step}: an AppDataUpdate before the GroupContextExtensions"
                );
            }
        }
        // Everything pending was committed.
        let references = list
            .iter()
            .filter(|e| matches!(e, Committed::Reference(_)))
            .count();
        assert_eq!(
            references,
            self.sent.len(),
            "{step}: proposals by reference"
        );
        // §4.7, §4.8: AppDataUpdate and AppEphemeral need no UpdatePath; §6.3: SelfRemove
        // does.
        assert_eq!(has_path, path || needs_path, "{step}: UpdatePath");

        let results: Vec<(usize, ExtReceived)> = (0..self.members.len())
            .filter(|&i| Some(i) != committer)
            .map(|i| (i, self.members[i].process(commit)))
            .collect();
        if let Some(committer) = committer {
            self.members[committer].merge();
        }
        let mut gone = Vec::new();
        for (i, got) in results {
            let name = self.name(i);
            let ExtReceived::Commit {
                removed,
                ephemeral: seen,
            } = got
            else {
                panic!("{step}: {name} got {got:?}")
            };
            assert_eq!(
                removed,
                self_removed.contains(&name),
                "{step}: {name} removed"
            );
            assert_eq!(seen, ephemeral, "{step}: {name}'s AppEphemeral data");
            if removed {
                gone.push(i);
            }
        }
        assert_eq!(gone.len(), self_removed.len(), "{step}: removed members");
        for &i in gone.iter().rev() {
            self.members.remove(i);
        }
        self.sent.clear();
        let prior = self.context.clone();
        if let Some(context) = new_context {
            self.context = context;
        }
        self.apply_updates(step, &prior, &updates);
    }

    /// Whether a commit's list entry is an AppDataUpdate.
    fn is_app_data_update(&self, entry: &Committed) -> bool {
        match entry {
            Committed::Value(p) => matches!(
                p.as_ref(),
                Proposal::Extension(e) if matches!(e.body, ExtensionProposalBody::AppDataUpdate(_))
            ),
            Committed::Reference(r) => matches!(
                self.sent.get(r),
                Some((
                    Sent::Draft(ExtProposal::Update { .. } | ExtProposal::Remove { .. }),
                    _,
                    _
                ))
            ),
        }
    }

    /// The expected group context after AppDataUpdates (§4.7): per component in order of
    /// first appearance, a single remove or updates through the component logic in commit
    /// order, starting from the dictionary the profile says (`prior`: the group context
    /// before the commit); the dictionary placed as the profile says.
    fn apply_updates(
        &mut self,
        step: &str,
        prior: &[Extension],
        updates: &[(u16, Option<Vec<u8>>)],
    ) {
        if updates.is_empty() {
            return;
        }
        let mut dictionary = match PROFILE.app_data_update_base() {
            AppDataUpdateBase::AfterGroupContextExtensions => dictionary_of(&self.context),
            AppDataUpdateBase::PriorGroupContext => dictionary_of(prior),
        };
        let mut order: Vec<u16> = Vec::new();
        for (id, _) in updates {
            if !order.contains(id) {
                order.push(*id);
            }
        }
        for id in order {
            let component = ComponentId(id);
            for (_, op) in updates.iter().filter(|(c, _)| *c == id) {
                match op {
                    None => assert!(dictionary.remove(component), "{step}: remove of {id:#x}"),
                    Some(update) => {
                        let new = apply_update(id, dictionary.get(component), update).unwrap();
                        dictionary.insert(component, new);
                    }
                }
            }
        }
        let extension = Extension {
            extension_type: APP_DATA_DICTIONARY_EXTENSION,
            extension_data: dictionary.to_bytes().unwrap(),
        };
        let position = self
            .context
            .iter()
            .position(|e| e.extension_type == APP_DATA_DICTIONARY_EXTENSION);
        match (PROFILE.app_data_dictionary_placement(), position) {
            (DictionaryPlacement::InPlace, Some(i)) => self.context[i] = extension,
            (DictionaryPlacement::MovedToEnd, Some(i)) => {
                self.context.remove(i);
                self.context.push(extension);
            }
            (_, None) => self.context.push(extension),
        }
    }

    /// Every member sends an application message tagged with Safe AAD items if `safe`, and
    /// every other member reads it with the same items (§4.9).
    fn exchange(&mut self, tag: &str, safe: bool) {
        for from in 0..self.members.len() {
            let data = format!("{tag} from {}", self.name(from)).into_bytes();
            let items = if safe {
                vec![(RECEIPTS, format!("{tag}/{from}").into_bytes())]
            } else {
                Vec::new()
            };
            let message = self.members[from].protect(&data, &items);
            // §4.9: the whole authenticated_data is the SafeAAD, or empty without Safe AAD.
            let aad = if safe {
                safe_aad_bytes(&items)
            } else {
                Vec::new()
            };
            for (i, m) in self.members.iter_mut().enumerate() {
                if i == from {
                    continue;
                }
                let got = m.process(&message);
                assert_eq!(
                    got,
                    ExtReceived::Application {
                        data: data.clone(),
                        aad: aad.clone(),
                        safe_aad: safe.then(|| items.clone()),
                    },
                    "{tag}: {} reading {}",
                    m.name(),
                    from
                );
            }
        }
    }
}

impl World {
    /// The current group context extensions as a GroupContextExtensions proposal would list
    /// them: the dictionary (unchanged) first, then required_capabilities requiring these
    /// credential types.
    fn context_with_required_credentials(&self, credentials: &[u16]) -> Vec<u8> {
        let dictionary = self
            .context
            .iter()
            .find(|e| e.extension_type == APP_DATA_DICTIONARY_EXTENSION)
            .unwrap()
            .clone();
        let mut required = find_payload::<RequiredCapabilities>(&self.context)
            .unwrap()
            .unwrap();
        required.credential_types = credentials.iter().copied().map(CredentialType).collect();
        vec![dictionary, required.to_extension().unwrap()]
            .to_bytes()
            .unwrap()
    }

    /// A member whose implementation puts bytes after the SafeAAD (OpenMLS 0.9) sends an
    /// application message with such a tail; the profile accepts a tail, so every other
    /// member reads the message and its Safe AAD items (-10 §4.9 would refuse it).
    fn exchange_with_tail(&mut self) {
        assert!(PROFILE.safe_aad_allows_trailing_data());
        let items = vec![(RECEIPTS, b"tail".to_vec())];
        let tail = b"plain aad after the SafeAAD".to_vec();
        for from in 0..self.members.len() {
            let data = format!("tail from {}", self.name(from)).into_bytes();
            let Some(message) = self.members[from].protect_with_tail(&data, &items, &tail) else {
                continue;
            };
            let mut aad = safe_aad_bytes(&items);
            aad.extend_from_slice(&tail);
            for (i, m) in self.members.iter_mut().enumerate() {
                if i != from {
                    assert_eq!(
                        m.process(&message),
                        ExtReceived::Application {
                            data: data.clone(),
                            aad: aad.clone(),
                            safe_aad: Some(items.clone()),
                        },
                        "{} reading a SafeAAD with a tail",
                        m.name()
                    );
                }
            }
        }
    }
}

/// The SafeAAD with these items, encoded (§4.9).
fn safe_aad_bytes(items: &[(u16, Vec<u8>)]) -> Vec<u8> {
    SafeAad {
        aad_items: items
            .iter()
            .map(|(id, d)| SafeAadItem {
                component_id: ComponentId(*id),
                aad_item_data: d.clone(),
            })
            .collect(),
    }
    .to_bytes()
    .unwrap()
}

fn update(component: u16, bytes: &[u8]) -> ExtProposal {
    ExtProposal::Update {
        component,
        update: bytes.to_vec(),
    }
}

impl World {
    /// A last-resort KeyPackage carries the profile's marker (§6.4; 0x000A as a KeyPackage
    /// extension under `openmls-0.9`), a normal one does not, and every member reads it so.
    fn check_last_resort(&self, kp: &[u8], last_resort: bool) {
        let LastResortMarker::Extension(marker) = PROFILE.last_resort_marker() else {
            panic!("the openmls-0.9 profile marks last resort with an extension")
        };
        assert_eq!(marker, LAST_RESORT_KEY_PACKAGE_EXTENSION);
        assert_eq!(
            inspect::key_package_extensions(kp).contains(&marker.0),
            last_resort,
            "last-resort marker"
        );
        for m in &self.members {
            assert_eq!(m.is_last_resort(kp), last_resort, "{} reads", m.name());
        }
    }
}

/// The scenario: `creator` creates the group with alice and carol of its kind, bob and dave
/// of `other`.
fn run(creator: Kind, other: Kind, suite: u16) {
    let group_id = format!("ext-{}-{suite}", creator.label()).into_bytes();
    let mut alice = make(creator, "alice", suite, 1);
    let mut bob = make(other, "bob", suite, 2);
    let mut carol = make(creator, "carol", suite, 3);
    let mut dave = make(other, "dave", suite, 4);
    let context = initial_context();
    alice.create(&group_id, &context.to_bytes().unwrap());
    let mut w = World {
        members: vec![alice],
        suite,
        sent: HashMap::new(),
        context,
    };

    // Welcome joins; dave's KeyPackage is a last-resort one (§6.4).
    let kp_bob = bob.key_package(false);
    let kp_dave = dave.key_package(true);
    w.check_last_resort(&kp_bob, false);
    w.check_last_resort(&kp_dave, true);
    let welcome = w.commit(0, &[kp_bob, kp_dave], &[], false).unwrap();
    bob.join(&welcome);
    dave.join(&welcome);
    w.members.push(bob);
    w.members.push(dave);
    w.assert_agree("alice added bob and dave");

    // The other implementation adds carol with a last-resort KeyPackage.
    let kp_carol = carol.key_package(true);
    w.check_last_resort(&kp_carol, true);
    let bob = w.index("bob");
    let welcome = w.commit(bob, &[kp_carol], &[], false).unwrap();
    carol.join(&welcome);
    w.members.push(carol);
    w.assert_agree("bob added carol");
    let (alice, bob, carol, dave) = (
        w.index("alice"),
        w.index("bob"),
        w.index("carol"),
        w.index("dave"),
    );

    // §4.7: one AppDataUpdate by value, no UpdatePath. Under openmls-0.9 the dictionary,
    // first in the group context, moves to the end.
    w.commit(alice, &[], &[update(TOPIC, b"a1")], false);
    assert_eq!(
        w.context.last().map(|e| e.extension_type),
        Some(match PROFILE.app_data_dictionary_placement() {
            DictionaryPlacement::MovedToEnd => APP_DATA_DICTIONARY_EXTENSION,
            DictionaryPlacement::InPlace => ExtensionType::REQUIRED_CAPABILITIES,
        })
    );

    // §4.7: updates of one component by reference from both implementations and by value,
    // applied in commit order.
    w.propose(bob, update(TOPIC, b"b1"));
    w.propose(carol, update(TOPIC, b"c1"));
    w.commit(
        dave,
        &[],
        &[update(TOPIC, b"d1"), update(TOPIC, b"d2")],
        false,
    );
    w.exchange("plain", false);

    // §4.9: an AppDataUpdate of `safe_aad` turns Safe AAD on for every later message.
    w.propose(carol, update(SAFE_AAD_ID, &components_list(&[RECEIPTS])));
    w.commit(bob, &[], &[], false);
    w.exchange("safe", true);
    w.exchange_with_tail();

    // §4.7: a GroupContextExtensions proposal (RFC 9420 §12.1.7) that keeps the dictionary
    // (AppDataUpdate is required, so it must) and changes required_capabilities (the basic
    // credential, which every member has, becomes required and then not), with an
    // AppDataUpdate in the same commit, from each implementation. The committer is handed
    // the update first; in which order the commit lists them, and where the update leaves
    // the dictionary (which the proposal lists first), are the profile's rules.
    for (committer, required) in [(bob, vec![CredentialType::BASIC.0]), (alice, vec![])] {
        let context = w.context_with_required_credentials(&required);
        w.commit(
            committer,
            &[],
            &[update(TOPIC, b"+gce"), ExtProposal::Context(context)],
            false,
        );
    }

    // §4.8: AppEphemeral and AppDataUpdate in one commit, from each implementation.
    w.commit(
        bob,
        &[],
        &[
            ExtProposal::Ephemeral {
                component: PRESENCE,
                data: b"bob is here".to_vec(),
            },
            update(TOPIC, b"b2"),
        ],
        false,
    );
    w.commit(
        alice,
        &[],
        &[ExtProposal::Ephemeral {
            component: PRESENCE,
            data: b"alice is here".to_vec(),
        }],
        true,
    );

    // §4.8: an AppEphemeral by reference from a Conclave member (OpenMLS 0.9 has no API to
    // send one), committed by an OpenMLS member with one by value.
    let sender = w.kind_index(Kind::Conclave);
    w.propose(
        sender,
        ExtProposal::Ephemeral {
            component: PRESENCE,
            data: b"by reference".to_vec(),
        },
    );
    w.commit(
        w.kind_index(Kind::OpenMls),
        &[],
        &[ExtProposal::Ephemeral {
            component: PRESENCE,
            data: b"by value".to_vec(),
        }],
        false,
    );

    // §4.7: remove, by reference, committed by the other implementation.
    w.propose(dave, ExtProposal::Remove { component: TOPIC });
    w.commit(alice, &[], &[], false);
    w.exchange("after remove", true);

    // §6.3: members of each implementation leave with SelfRemove, committed by reference by
    // a member of the other one, or by a joiner of the other one in its external commit.
    w.self_remove(w.index("dave"));
    w.commit(w.index("carol"), &[], &[], false);
    w.self_remove(w.index("carol"));
    // §4.7: an AppDataUpdate by value in the external commit too, where the joiner's
    // implementation can add one.
    let erin = make(other, "erin", suite, 5);
    let inline = if erin.adds_to_external_commits() {
        vec![update(TOPIC, b"erin")]
    } else {
        Vec::new()
    };
    w.external_join(erin, w.index("alice"), &inline);
    w.exchange("after the external join", true);
    w.self_remove(w.index("alice"));
    w.commit(w.index("bob"), &[], &[], false);
    assert_eq!(w.roster_names(), ["bob", "erin"]);
}

#[test]
fn conclave_creates_the_group_and_adds_openmls_members() {
    run(Kind::Conclave, Kind::OpenMls, 1);
}

#[test]
fn openmls_creates_the_group_and_adds_conclave_members() {
    run(Kind::OpenMls, Kind::Conclave, 1);
}

#[test]
fn conclave_and_openmls_agree_in_suite_3() {
    run(Kind::Conclave, Kind::OpenMls, 3);
    run(Kind::OpenMls, Kind::Conclave, 3);
}
