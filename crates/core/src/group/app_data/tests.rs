//! Tests of application data in the group state (draft-ietf-mls-extensions-10 §4.6–§4.8,
//! §5, §5.1, §6.1, §6.2): dictionaries, AppDataUpdate and AppEphemeral through commits,
//! negotiation of components, wire formats and media types, GREASE, AppAck and framing.
//! Every refusal is checked to leave the group byte for byte as it was.

use std::sync::{Arc, Mutex, RwLock};

use conclave_codec::{Decode, Encode};
use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng, labels};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::*;
use crate::codepoints::{
    APP_DATA_DICTIONARY_EXTENSION, DictionaryPlacement, GREASE_COMPONENTS,
    REQUIRED_WIRE_FORMATS_EXTENSION, SUPPORTED_WIRE_FORMATS_EXTENSION,
};
use crate::credential::BasicIdentityProvider;
use crate::group::{
    CommitOptions, CommitOutput, CommitSummary, GroupEnv, GroupStatus, JoinOptions,
    KeyPackageBundle, MemberParams, NewGroup, ProcessedMessage, SigningIdentity,
};
use crate::messages::{
    AppAck, Capabilities, ComponentData, Credential, ExtensionType, ExternalSender,
    ExternalSenders, GroupInfo, KeyPackage, LeafIndex, LeafNode, MediaType, MediaTypeParameter,
    MessageRange, MlsMessageBody, Remove, WireFormat, WireFormats,
};
use crate::validation::negotiation::{
    ComponentListKind, MediaTypePolicy, NegotiationError, Supporter,
};
use crate::validation::{KEY_PACKAGE_TBS_LABEL, LEAF_NODE_TBS_LABEL};

const NOW: u64 = 1_700_000_000;
const SUITE: CipherSuite = CipherSuite(1);

/// A component whose data is the last update; an update starting with `!` is invalid.
const TOPIC: ComponentId = ComponentId(0x8001);
/// A component whose data is the concatenation of its updates (to see their order).
const LOG: ComponentId = ComponentId(0x8002);
/// An AppEphemeral component; empty data is invalid.
const REACTION: ComponentId = ComponentId(0x8003);

/// The application's components of these tests; records every call.
#[derive(Default)]
struct TestComponents {
    calls: Mutex<Vec<String>>,
    /// Accept every update (a committer whose logic differs from the receivers').
    lenient: bool,
}

impl TestComponents {
    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl ComponentHandler for TestComponents {
    fn supported_components(&self) -> Vec<ComponentId> {
        vec![TOPIC, LOG, REACTION]
    }

    fn validate_ephemeral(
        &self,
        call: &ComponentCall<'_>,
        data: &[u8],
    ) -> Result<(), ComponentRejection> {
        self.record(format!("ephemeral {:x}", call.component_id.0));
        match call.component_id {
            REACTION if data.is_empty() && !self.lenient => {
                Err(ComponentRejection::Invalid("empty reaction".into()))
            }
            REACTION => Ok(()),
            _ => Err(ComponentRejection::Unknown),
        }
    }

    fn apply_update(
        &self,
        call: &ComponentCall<'_>,
        current: Option<&[u8]>,
        update: &[u8],
    ) -> Result<Vec<u8>, ComponentRejection> {
        self.record(format!("update {:x}", call.component_id.0));
        match call.component_id {
            TOPIC if update.starts_with(b"!") && !self.lenient => Err(ComponentRejection::Invalid(
                "topics do not start with !".into(),
            )),
            TOPIC => Ok(update.to_vec()),
            LOG => Ok([current.unwrap_or_default(), update].concat()),
            _ => Err(ComponentRejection::Unknown),
        }
    }
}

fn env() -> GroupEnv {
    GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(RwLock::new(std::collections::HashMap::new())),
    }
}

fn signer(name: &str, rng: &mut SeededRng) -> SigningIdentity {
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    SigningIdentity::generate(
        cs.as_ref(),
        Credential::Basic {
            identity: name.as_bytes().to_vec(),
        },
        rng,
    )
    .unwrap()
}

/// A member with the test components.
fn with_components(name: &str, rng: &mut SeededRng) -> MemberParams {
    MemberParams {
        components: Components::new(TestComponents::default()),
        ..MemberParams::new(env(), signer(name, rng))
    }
}

/// A member that knows no application component.
fn plain(name: &str, rng: &mut SeededRng) -> MemberParams {
    MemberParams::new(env(), signer(name, rng))
}

fn text_plain() -> MediaType {
    MediaType {
        media_type: b"text/plain".to_vec(),
        parameters: vec![MediaTypeParameter {
            parameter_name: b"charset".to_vec(),
            parameter_value: b"UTF-8".to_vec(),
        }],
    }
}

fn media(name: &str) -> MediaType {
    MediaType {
        media_type: name.as_bytes().to_vec(),
        parameters: Vec::new(),
    }
}

fn accepting(mut params: MemberParams, types: Vec<MediaType>) -> MemberParams {
    params.leaf.content_media_types = Some(MediaTypeList {
        media_type_list: types,
    });
    params
}

fn create(params: MemberParams, group: NewGroup, rng: &mut SeededRng) -> Group {
    Group::create(params, group, NOW, rng).unwrap()
}

fn new_group() -> NewGroup {
    NewGroup::new(SUITE, b"app data group".to_vec())
}

fn welcome_of(message: &MlsMessage) -> crate::messages::Welcome {
    match &message.body {
        MlsMessageBody::Welcome(welcome) => welcome.clone(),
        other => panic!("not a Welcome: {other:?}"),
    }
}

fn group_info_of(message: &MlsMessage) -> GroupInfo {
    match &message.body {
        MlsMessageBody::GroupInfo(info) => info.clone(),
        other => panic!("not a GroupInfo: {other:?}"),
    }
}

fn add_proposal(bundle: &KeyPackageBundle) -> Proposal {
    Proposal::Add(crate::messages::Add {
        key_package: bundle.key_package.clone(),
    })
}

/// `committer` commits `proposals` by value (and the pending ones by reference); every
/// other active member processes the commit and reports what the committer's merge reports.
fn commit(
    groups: &mut [Group],
    committer: usize,
    proposals: Vec<Proposal>,
    rng: &mut SeededRng,
) -> Result<(CommitSummary, CommitOutput), GroupError> {
    let options = CommitOptions {
        proposals,
        ..CommitOptions::default()
    };
    let output = groups[committer].commit(&options, NOW, rng)?;
    let summary = groups[committer].merge_pending_commit().unwrap();
    for (i, group) in groups.iter_mut().enumerate() {
        if i == committer || *group.status() != GroupStatus::Active {
            continue;
        }
        match group.process_message(&output.commit, NOW).unwrap() {
            ProcessedMessage::Commit(theirs) => assert_eq!(theirs.app_data, summary.app_data),
            other => panic!("unexpected {other:?}"),
        }
    }
    Ok((summary, output))
}

/// Adds `joiner` through a commit by `committer`; the joiner joins from the Welcome.
fn add(groups: &mut Vec<Group>, committer: usize, joiner: MemberParams, rng: &mut SeededRng) {
    let bundle = KeyPackageBundle::generate(&joiner, SUITE, NOW, rng).unwrap();
    let (_, output) = commit(groups, committer, vec![add_proposal(&bundle)], rng).unwrap();
    let welcome = welcome_of(output.welcome.as_ref().unwrap());
    let joined = Group::join(joiner, &welcome, &bundle, &JoinOptions::default(), NOW).unwrap();
    groups.push(joined);
    assert_agree(groups);
}

fn assert_agree(groups: &[Group]) {
    let first = &groups[0];
    for group in groups {
        assert_eq!(group.epoch(), first.epoch());
        assert_eq!(group.epoch_authenticator(), first.epoch_authenticator());
        assert_eq!(group.context(), first.context());
        assert_eq!(
            group.app_data_dictionary().unwrap(),
            first.app_data_dictionary().unwrap()
        );
    }
}

/// Runs `op`, which must fail, and checks that the group is byte for byte as before.
fn refused<T: core::fmt::Debug>(
    group: &mut Group,
    op: impl FnOnce(&mut Group) -> Result<T, GroupError>,
) -> GroupError {
    let before = group.to_bytes().unwrap();
    let error = op(group).expect_err("the operation must be refused");
    assert_eq!(
        group.to_bytes().unwrap(),
        before,
        "a refusal changed the group"
    );
    error
}

fn update(component: ComponentId, data: &[u8]) -> AppDataUpdate {
    AppDataUpdate {
        component_id: component,
        op: AppDataUpdateOperation::Update(data.to_vec()),
    }
}

fn remove(component: ComponentId) -> AppDataUpdate {
    AppDataUpdate {
        component_id: component,
        op: AppDataUpdateOperation::Remove,
    }
}

fn ephemeral(component: ComponentId, data: &[u8]) -> AppEphemeral {
    AppEphemeral {
        component_id: component,
        data: data.to_vec(),
    }
}

/// Three members that all know the test components.
fn three_members(rng: &mut SeededRng) -> Vec<Group> {
    let mut groups = vec![create(with_components("alice", rng), new_group(), rng)];
    add(&mut groups, 0, with_components("bob", rng), rng);
    add(&mut groups, 0, with_components("carol", rng), rng);
    groups
}

fn dictionary_of(extensions: &[Extension]) -> Option<AppDataDictionary> {
    crate::messages::find_payload::<AppDataDictionary>(extensions).unwrap()
}

fn components_of(dictionary: &AppDataDictionary) -> Vec<ComponentId> {
    ComponentsList::from_bytes(dictionary.get(APP_COMPONENTS_COMPONENT).unwrap())
        .unwrap()
        .component_ids
}

/// Re-signs a KeyPackage (and its leaf) after a test changed it, so that only the change
/// is wrong.
fn resign(key_package: &mut KeyPackage, signer: &SigningIdentity) {
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    let tbs = key_package.leaf_node.to_be_signed(None).unwrap();
    key_package.leaf_node.signature = labels::sign_with_label(
        cs.as_ref(),
        signer.secret_key.as_bytes(),
        LEAF_NODE_TBS_LABEL,
        &tbs,
    )
    .unwrap();
    let tbs = key_package.to_be_signed().unwrap();
    key_package.signature = labels::sign_with_label(
        cs.as_ref(),
        signer.secret_key.as_bytes(),
        KEY_PACKAGE_TBS_LABEL,
        &tbs,
    )
    .unwrap();
}

fn negotiation(error: GroupError) -> NegotiationError {
    match error {
        GroupError::Validation(ValidationError::Negotiation(error)) => error,
        GroupError::TreeValidation(crate::tree::TreeValidationError::Leaf {
            error: ValidationError::Negotiation(error),
            ..
        }) => error,
        other => panic!("not a negotiation error: {other:?}"),
    }
}

fn app_data_error(error: GroupError) -> AppDataError {
    match error {
        GroupError::AppData(error) => error,
        other => panic!("not an application-data error: {other:?}"),
    }
}

// ---- dictionaries we create (§4.6, §5, §5.1) ---------------------------------------------

#[test]
fn a_new_group_carries_its_app_data_in_the_group_context() {
    let mut rng = SeededRng::new(1);
    let group = create(
        with_components("alice", &mut rng),
        new_group().with_app_data(TOPIC, b"lunch".to_vec()),
        &mut rng,
    );
    assert_eq!(group.app_data(TOPIC).unwrap(), Some(b"lunch".to_vec()));
    let dictionary = dictionary_of(&group.context().extensions).unwrap();
    assert_eq!(
        dictionary.component_data,
        vec![ComponentData {
            component_id: TOPIC,
            data: b"lunch".to_vec()
        }]
    );
}

#[test]
fn our_key_packages_and_leaves_advertise_app_components_wire_formats_and_grease() {
    let mut rng = SeededRng::new(2);
    let params = with_components("alice", &mut rng);
    let bundle = KeyPackageBundle::generate(&params, SUITE, NOW, &mut rng).unwrap();
    let leaf = &bundle.key_package.leaf_node;
    let capabilities = &leaf.capabilities;
    for extension in [
        APP_DATA_DICTIONARY_EXTENSION,
        SUPPORTED_WIRE_FORMATS_EXTENSION,
        REQUIRED_WIRE_FORMATS_EXTENSION,
    ] {
        assert!(
            capabilities.extensions.contains(&extension),
            "{extension:?}"
        );
    }
    for kind in [
        ExtensionProposalKind::AppDataUpdate,
        ExtensionProposalKind::AppEphemeral,
    ] {
        assert!(
            capabilities
                .proposals
                .contains(&CodepointProfile::Draft.proposal_type(kind))
        );
    }
    let dictionary = dictionary_of(&leaf.extensions).unwrap();
    assert!(dictionary.check_sorted());
    // One GREASE value per leaf (§5.1), in the `app_components` list, not a second one as a
    // dictionary entry.
    assert!(!dictionary.component_ids().any(ComponentId::is_grease));
    let advertised = components_of(&dictionary);
    for component in [
        APP_COMPONENTS_COMPONENT,
        SAFE_AAD_COMPONENT,
        CONTENT_MEDIA_TYPES_COMPONENT,
        APP_ACK_COMPONENT,
        TOPIC,
        LOG,
        REACTION,
    ] {
        assert!(advertised.contains(&component), "{component:?}");
    }
    assert_eq!(advertised.iter().filter(|c| c.is_grease()).count(), 1);
    let formats = leaf
        .extensions
        .iter()
        .find(|e| e.extension_type == SUPPORTED_WIRE_FORMATS_EXTENSION)
        .map(|e| WireFormats::from_bytes(&e.extension_data).unwrap())
        .unwrap();
    // Only the non-default formats (§7.1): semi-private messages and split commits.
    assert_eq!(
        formats.wire_formats,
        vec![
            crate::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT,
            crate::codepoints::SCOMMIT_WIRE_FORMAT,
            crate::codepoints::PER_MEMBER_COMMIT_WIRE_FORMAT,
        ]
    );
    let kp_dictionary = dictionary_of(&bundle.key_package.extensions).unwrap();
    assert!(kp_dictionary.component_ids().any(ComponentId::is_grease));
}

#[test]
fn grease_is_drawn_from_the_injected_randomness() {
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..24 {
        let mut rng = SeededRng::new(seed);
        let params = plain("alice", &mut rng);
        let bundle = KeyPackageBundle::generate(&params, SUITE, NOW, &mut rng).unwrap();
        let dictionary = dictionary_of(&bundle.key_package.leaf_node.extensions).unwrap();
        seen.extend(
            components_of(&dictionary)
                .into_iter()
                .filter(|c| c.is_grease()),
        );
        // The same seed gives the same KeyPackage.
        let mut again = SeededRng::new(seed);
        let params = plain("alice", &mut again);
        let twin = KeyPackageBundle::generate(&params, SUITE, NOW, &mut again).unwrap();
        assert_eq!(twin.key_package, bundle.key_package);
    }
    assert!(seen.len() > 1, "GREASE never varies: {seen:?}");
    assert!(seen.iter().all(|c| GREASE_COMPONENTS.contains(c)));
}

#[test]
fn grease_can_be_turned_off() {
    let mut rng = SeededRng::new(3);
    let mut params = plain("alice", &mut rng);
    params.config.grease = false;
    let bundle = KeyPackageBundle::generate(&params, SUITE, NOW, &mut rng).unwrap();
    let dictionary = dictionary_of(&bundle.key_package.leaf_node.extensions).unwrap();
    assert!(!dictionary.component_ids().any(ComponentId::is_grease));
    assert!(!components_of(&dictionary).iter().any(|c| c.is_grease()));
    assert_eq!(dictionary_of(&bundle.key_package.extensions), None);
    let group = create(params, new_group(), &mut rng);
    let info = group_info_of(&group.group_info(true).unwrap());
    assert_eq!(dictionary_of(&info.extensions), None);
}

#[test]
fn a_leaf_whose_app_components_the_application_gave_is_greased_by_an_entry() {
    let mut rng = SeededRng::new(5);
    let mut params = plain("alice", &mut rng);
    let list = ComponentsList {
        component_ids: vec![APP_COMPONENTS_COMPONENT, SAFE_AAD_COMPONENT],
    };
    params
        .leaf
        .leaf_app_data
        .insert(APP_COMPONENTS_COMPONENT, list.to_bytes().unwrap());
    let bundle = KeyPackageBundle::generate(&params, SUITE, NOW, &mut rng).unwrap();
    let dictionary = dictionary_of(&bundle.key_package.leaf_node.extensions).unwrap();
    // The application's list is kept as given; the one GREASE value is an entry (§5.1).
    assert_eq!(components_of(&dictionary), list.component_ids);
    assert_eq!(
        dictionary.component_ids().filter(|c| c.is_grease()).count(),
        1
    );
}

#[test]
fn group_infos_carry_a_grease_dictionary() {
    let mut rng = SeededRng::new(4);
    let group = create(plain("alice", &mut rng), new_group(), &mut rng);
    let info = group_info_of(&group.group_info(true).unwrap());
    let dictionary = dictionary_of(&info.extensions).unwrap();
    assert_eq!(dictionary.component_data.len(), 1);
    assert!(dictionary.component_ids().all(ComponentId::is_grease));
}

#[test]
fn leaf_app_data_is_merged_into_our_leaves() {
    let mut rng = SeededRng::new(5);
    let mut params = with_components("alice", &mut rng);
    params.leaf.leaf_app_data.insert(TOPIC, b"mine".to_vec());
    params.leaf.key_package_app_data.insert(LOG, b"kp".to_vec());
    let bundle = KeyPackageBundle::generate(&params, SUITE, NOW, &mut rng).unwrap();
    let leaf = dictionary_of(&bundle.key_package.leaf_node.extensions).unwrap();
    assert_eq!(leaf.get(TOPIC), Some(&b"mine"[..]));
    let key_package = dictionary_of(&bundle.key_package.extensions).unwrap();
    assert_eq!(key_package.get(LOG), Some(&b"kp"[..]));
}

#[test]
fn app_data_for_a_leaf_whose_capabilities_omit_the_dictionary_is_refused() {
    let mut rng = SeededRng::new(6);
    let mut params = plain("alice", &mut rng);
    params.leaf.capabilities = Some(Capabilities {
        extensions: Vec::new(),
        ..default_capabilities_of(&params)
    });
    params.leaf.leaf_app_data.insert(TOPIC, b"x".to_vec());
    let error = KeyPackageBundle::generate(&params, SUITE, NOW, &mut rng).unwrap_err();
    assert_eq!(
        app_data_error(error),
        AppDataError::DictionaryNotInCapabilities
    );
    // Without app data, such a leaf simply has no dictionary.
    params.leaf.leaf_app_data = AppDataDictionary::default();
    let bundle = KeyPackageBundle::generate(&params, SUITE, NOW, &mut rng).unwrap();
    assert_eq!(
        dictionary_of(&bundle.key_package.leaf_node.extensions),
        None
    );
}

fn default_capabilities_of(params: &MemberParams) -> Capabilities {
    crate::group::default_capabilities(
        SUITE,
        params.env.identity.as_ref(),
        params.config.codepoint_profile,
    )
}

#[test]
fn unsorted_leaf_app_data_is_refused_when_creating_a_leaf() {
    let mut rng = SeededRng::new(7);
    let mut params = plain("alice", &mut rng);
    params.leaf.leaf_app_data = AppDataDictionary {
        component_data: vec![
            ComponentData {
                component_id: LOG,
                data: Vec::new(),
            },
            ComponentData {
                component_id: TOPIC,
                data: Vec::new(),
            },
        ],
    };
    let error = KeyPackageBundle::generate(&params, SUITE, NOW, &mut rng).unwrap_err();
    assert_eq!(
        negotiation(error),
        NegotiationError::UnsortedDictionary(DictionaryLocation::LeafNode)
    );
}

/// A KeyPackage of `name` whose extensions (of the leaf or of the KeyPackage) `change`
/// alters before it is signed again.
fn tampered_key_package(
    name: &str,
    rng: &mut SeededRng,
    change: impl FnOnce(&mut KeyPackage),
) -> KeyPackageBundle {
    let params = plain(name, rng);
    let mut bundle = KeyPackageBundle::generate(&params, SUITE, NOW, rng).unwrap();
    change(&mut bundle.key_package);
    resign(&mut bundle.key_package, &params.signer);
    bundle
}

fn unsorted_dictionary() -> Extension {
    Extension {
        extension_type: APP_DATA_DICTIONARY_EXTENSION,
        extension_data: AppDataDictionary {
            component_data: vec![
                ComponentData {
                    component_id: TOPIC,
                    data: Vec::new(),
                },
                ComponentData {
                    component_id: TOPIC,
                    data: Vec::new(),
                },
            ],
        }
        .to_bytes()
        .unwrap(),
    }
}

fn replace_dictionary(extensions: &mut Vec<Extension>, with: Extension) {
    extensions.retain(|e| e.extension_type != APP_DATA_DICTIONARY_EXTENSION);
    extensions.push(with);
}

#[test]
fn an_add_of_a_key_package_with_an_unsorted_dictionary_is_refused() {
    let mut rng = SeededRng::new(8);
    let mut alice = create(plain("alice", &mut rng), new_group(), &mut rng);
    let leaf = tampered_key_package("bob", &mut rng, |kp| {
        replace_dictionary(&mut kp.leaf_node.extensions, unsorted_dictionary());
    });
    let error = refused(&mut alice, |g| {
        g.commit(
            &CommitOptions {
                proposals: vec![add_proposal(&leaf)],
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
    });
    assert_eq!(
        negotiation(error),
        NegotiationError::UnsortedDictionary(DictionaryLocation::LeafNode)
    );
    let package = tampered_key_package("carol", &mut rng, |kp| {
        replace_dictionary(&mut kp.extensions, unsorted_dictionary());
    });
    let error = refused(&mut alice, |g| {
        g.commit(
            &CommitOptions {
                proposals: vec![add_proposal(&package)],
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
    });
    assert_eq!(
        negotiation(error),
        NegotiationError::UnsortedDictionary(DictionaryLocation::KeyPackage)
    );
}

#[test]
fn unknown_and_grease_components_of_a_joiner_are_ignored() {
    let mut rng = SeededRng::new(9);
    let mut groups = vec![create(plain("alice", &mut rng), new_group(), &mut rng)];
    let bundle = tampered_key_package("bob", &mut rng, |kp| {
        let mut dictionary = dictionary_of(&kp.leaf_node.extensions).unwrap();
        // Garbage under an unknown component and under every GREASE value.
        dictionary.insert(ComponentId(0x7777), vec![0xff; 3]);
        for grease in GREASE_COMPONENTS {
            dictionary.insert(grease, vec![0xfe]);
        }
        replace_dictionary(
            &mut kp.leaf_node.extensions,
            dictionary.to_extension().unwrap(),
        );
    });
    commit(&mut groups, 0, vec![add_proposal(&bundle)], &mut rng).unwrap();
    assert_eq!(groups[0].members().count(), 2);
}

// ---- AppDataUpdate (§4.7) ----------------------------------------------------------------

#[test]
fn an_app_data_update_needs_no_update_path_and_appends_the_dictionary() {
    let mut rng = SeededRng::new(10);
    let mut groups = three_members(&mut rng);
    assert_eq!(groups[0].app_data_dictionary().unwrap(), None);
    let extensions_before = groups[0].context().extensions.clone();
    let output = groups[1]
        .commit_builder()
        .force_path(false)
        .update_app_data(TOPIC, b"lunch at noon".to_vec())
        .unwrap()
        .build(NOW, &mut rng)
        .unwrap();
    let MlsMessageBody::PublicMessage(public) = &output.commit.body else {
        panic!("handshakes are PublicMessages by default");
    };
    let crate::messages::Content::Commit(body) = &public.content.content else {
        panic!("not a commit");
    };
    assert!(body.path.is_none(), "an AppDataUpdate requires no path");
    let ours = groups[1].merge_pending_commit().unwrap();
    for i in [0, 2] {
        let ProcessedMessage::Commit(summary) =
            groups[i].process_message(&output.commit, NOW).unwrap()
        else {
            panic!("not a commit");
        };
        assert_eq!(
            summary.app_data.changes,
            vec![AppDataChange {
                component_id: TOPIC,
                senders: vec![Sender::Member(LeafIndex(1))],
                data: Some(b"lunch at noon".to_vec()),
            }]
        );
        assert_eq!(summary.app_data, ours.app_data);
    }
    assert_agree(&groups);
    // The dictionary went to the end of the extensions; the others are untouched.
    let extensions = &groups[0].context().extensions;
    assert_eq!(extensions[..extensions.len() - 1], extensions_before[..]);
    assert_eq!(
        extensions.last().unwrap().extension_type,
        APP_DATA_DICTIONARY_EXTENSION
    );
}

#[test]
fn three_members_agree_on_app_data_through_updates_and_removes() {
    let mut rng = SeededRng::new(11);
    let mut groups = three_members(&mut rng);

    // By reference: bob proposes, carol commits.
    let proposal = groups[1]
        .propose_app_data_update(update(TOPIC, b"first"), &mut rng)
        .unwrap();
    for i in [0, 2] {
        assert!(matches!(
            groups[i].process_message(&proposal, NOW).unwrap(),
            ProcessedMessage::Proposal { .. }
        ));
    }
    let (summary, _) = commit(&mut groups, 2, Vec::new(), &mut rng).unwrap();
    assert_eq!(
        summary.app_data.changes,
        vec![AppDataChange {
            component_id: TOPIC,
            senders: vec![Sender::Member(LeafIndex(1))],
            data: Some(b"first".to_vec()),
        }]
    );
    assert_agree(&groups);

    // By value: alice updates two components at once.
    let by_value = vec![
        groups[0].app_data_update_proposal(update(LOG, b"a")),
        groups[0].app_data_update_proposal(update(TOPIC, b"second")),
    ];
    commit(&mut groups, 0, by_value, &mut rng).unwrap();
    assert_agree(&groups);
    assert_eq!(groups[2].app_data(TOPIC).unwrap(), Some(b"second".to_vec()));
    assert_eq!(groups[2].app_data(LOG).unwrap(), Some(b"a".to_vec()));

    // A remove by carol, committed by bob.
    let proposal = groups[2]
        .propose_app_data_update(remove(TOPIC), &mut rng)
        .unwrap();
    for i in [0, 1] {
        groups[i].process_message(&proposal, NOW).unwrap();
    }
    let (summary, _) = commit(&mut groups, 1, Vec::new(), &mut rng).unwrap();
    assert_eq!(summary.app_data.changes[0].data, None);
    assert_agree(&groups);
    assert_eq!(groups[0].app_data(TOPIC).unwrap(), None);
    assert_eq!(groups[0].app_data(LOG).unwrap(), Some(b"a".to_vec()));

    // Stored and reloaded, the members still agree and go on.
    for group in &mut groups {
        let bytes = group.to_bytes().unwrap();
        let mut restored = Group::from_bytes(env(), &bytes).unwrap();
        restored.set_component_handler(Components::new(TestComponents::default()));
        assert_eq!(restored.to_bytes().unwrap(), bytes);
        *group = restored;
    }
    commit(
        &mut groups,
        2,
        vec![draft_update(update(LOG, b"b"))],
        &mut rng,
    )
    .unwrap();
    assert_agree(&groups);
    assert_eq!(groups[1].app_data(LOG).unwrap(), Some(b"ab".to_vec()));
}

#[test]
fn several_updates_of_one_component_are_applied_in_commit_order() {
    let mut rng = SeededRng::new(12);
    let mut groups = three_members(&mut rng);
    for (i, piece) in [(1, b"x"), (2, b"y")] {
        let message = groups[i]
            .propose_app_data_update(update(LOG, piece), &mut rng)
            .unwrap();
        for (j, group) in groups.iter_mut().enumerate() {
            if j != i {
                group.process_message(&message, NOW).unwrap();
            }
        }
    }
    let by_value = vec![groups[0].app_data_update_proposal(update(LOG, b"z"))];
    let (summary, _) = commit(&mut groups, 0, by_value, &mut rng).unwrap();
    // References first (in the order received), then by value.
    assert_eq!(groups[0].app_data(LOG).unwrap(), Some(b"xyz".to_vec()));
    assert_eq!(
        summary.app_data.changes[0].senders,
        vec![
            Sender::Member(LeafIndex(1)),
            Sender::Member(LeafIndex(2)),
            Sender::Member(LeafIndex(0))
        ]
    );
    assert_agree(&groups);
}

#[test]
fn an_update_for_an_unknown_component_is_refused() {
    let mut rng = SeededRng::new(13);
    let mut groups = three_members(&mut rng);
    let unknown = ComponentId(0x9999);
    let error = refused(&mut groups[0], |g| {
        g.propose_app_data_update(update(unknown, b"x"), &mut rng)
    });
    assert_eq!(
        app_data_error(error),
        AppDataError::UnknownUpdateComponent(unknown)
    );
    let proposal = groups[0].app_data_update_proposal(update(unknown, b"x"));
    let error = refused(&mut groups[0], |g| {
        g.commit(
            &CommitOptions {
                proposals: vec![proposal],
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
    });
    assert_eq!(
        app_data_error(error),
        AppDataError::UnknownUpdateComponent(unknown)
    );
    // A remove of an unknown component is just as invalid.
    let error = refused(&mut groups[0], |g| {
        g.check_app_data_update(&remove(unknown))
    });
    assert_eq!(
        app_data_error(error),
        AppDataError::UnknownUpdateComponent(unknown)
    );
}

#[test]
fn a_receiver_that_does_not_know_the_component_refuses_the_commit() {
    let mut rng = SeededRng::new(14);
    let mut groups = vec![create(
        with_components("alice", &mut rng),
        new_group(),
        &mut rng,
    )];
    add(&mut groups, 0, plain("bob", &mut rng), &mut rng);
    let output = groups[0]
        .commit_builder()
        .update_app_data(TOPIC, b"hello".to_vec())
        .unwrap()
        .build(NOW, &mut rng)
        .unwrap();
    let error = refused(&mut groups[1], |g| g.process_message(&output.commit, NOW));
    assert_eq!(
        app_data_error(error),
        AppDataError::UnknownUpdateComponent(TOPIC)
    );
}

#[test]
fn a_rejected_update_invalidates_the_whole_commit() {
    let mut rng = SeededRng::new(15);
    let mut groups = three_members(&mut rng);
    // The committer's component logic accepts what the receivers' rejects.
    groups[0].set_component_handler(Components::new(TestComponents {
        lenient: true,
        ..TestComponents::default()
    }));
    let proposals = vec![
        groups[0].app_data_update_proposal(update(LOG, b"fine")),
        groups[0].app_data_update_proposal(update(TOPIC, b"!bad")),
    ];
    let options = CommitOptions {
        proposals,
        ..CommitOptions::default()
    };
    let output = groups[0].commit(&options, NOW, &mut rng).unwrap();
    for i in [1, 2] {
        let error = refused(&mut groups[i], |g| g.process_message(&output.commit, NOW));
        assert!(matches!(
            app_data_error(error),
            AppDataError::UpdateRejected {
                component: TOPIC,
                ..
            }
        ));
    }
    // A strict committer refuses to build it in the first place.
    let error = refused(&mut groups[1], |g| {
        g.commit_builder()
            .update_app_data(TOPIC, b"!bad".to_vec())
            .map(|_| ())
    });
    assert!(matches!(
        app_data_error(error),
        AppDataError::UpdateRejected {
            component: TOPIC,
            ..
        }
    ));
}

#[test]
fn a_remove_of_an_absent_entry_is_refused() {
    let mut rng = SeededRng::new(16);
    let mut groups = three_members(&mut rng);
    let error = refused(&mut groups[0], |g| {
        g.propose_app_data_update(remove(TOPIC), &mut rng)
    });
    assert_eq!(
        app_data_error(error),
        AppDataError::RemoveOfAbsentEntry(TOPIC)
    );
    // Bob's commit of it (checks skipped by proposing the raw proposal) is refused by all.
    let proposal = groups[1].app_data_update_proposal(remove(TOPIC));
    let message = groups[1].propose(proposal, &[], &mut rng).unwrap();
    groups[0].process_message(&message, NOW).unwrap();
    let error = refused(&mut groups[0], |g| {
        g.commit(&CommitOptions::default(), NOW, &mut rng)
    });
    assert_eq!(
        app_data_error(error),
        AppDataError::RemoveOfAbsentEntry(TOPIC)
    );
}

#[test]
fn a_remove_with_any_other_update_of_the_component_is_refused() {
    let mut rng = SeededRng::new(17);
    let mut groups = three_members(&mut rng);
    commit(
        &mut groups,
        0,
        vec![draft_update(update(TOPIC, b"t"))],
        &mut rng,
    )
    .unwrap();
    for second in [update(TOPIC, b"u"), remove(TOPIC)] {
        let proposals = vec![
            groups[0].app_data_update_proposal(remove(TOPIC)),
            groups[0].app_data_update_proposal(second),
        ];
        let error = refused(&mut groups[0], |g| {
            g.commit(
                &CommitOptions {
                    proposals,
                    ..CommitOptions::default()
                },
                NOW,
                &mut rng,
            )
        });
        assert_eq!(app_data_error(error), AppDataError::RemoveNotAlone(TOPIC));
    }
    // A remove of one component and an update of another are fine.
    commit(
        &mut groups,
        0,
        vec![draft_update(remove(TOPIC)), draft_update(update(LOG, b"l"))],
        &mut rng,
    )
    .unwrap();
    assert_agree(&groups);
}

#[test]
fn a_proposal_under_a_codepoint_of_another_kind_is_refused() {
    let mut rng = SeededRng::new(18);
    let mut groups = three_members(&mut rng);
    // AppEphemeral's codepoint carrying an AppDataUpdate body.
    let mislabelled = Proposal::Extension(crate::messages::ExtensionProposal {
        proposal_type: crate::codepoints::APP_EPHEMERAL_PROPOSAL,
        body: ExtensionProposalBody::AppDataUpdate(update(TOPIC, b"x")),
    });
    let error = refused(&mut groups[0], |g| {
        g.propose(mislabelled.clone(), &[], &mut rng)
    });
    assert!(matches!(
        app_data_error(error),
        AppDataError::ProposalCodepoint { .. }
    ));
    let error = refused(&mut groups[0], |g| {
        g.commit(
            &CommitOptions {
                proposals: vec![mislabelled],
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
    });
    assert!(matches!(
        app_data_error(error),
        AppDataError::ProposalCodepoint { .. }
    ));
}

#[test]
fn a_member_that_does_not_support_the_proposal_type_blocks_the_commit() {
    let mut rng = SeededRng::new(19);
    let mut groups = vec![create(
        with_components("alice", &mut rng),
        new_group(),
        &mut rng,
    )];
    let mut bob = with_components("bob", &mut rng);
    bob.leaf.capabilities = Some(Capabilities {
        proposals: Vec::new(),
        ..default_capabilities_of(&bob)
    });
    add(&mut groups, 0, bob, &mut rng);
    let proposal = groups[0].app_data_update_proposal(update(TOPIC, b"x"));
    let error = refused(&mut groups[0], |g| {
        g.commit(
            &CommitOptions {
                proposals: vec![proposal.clone()],
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
    });
    assert!(matches!(
        error,
        GroupError::ProposalTypeUnsupported {
            member: LeafIndex(1),
            ..
        }
    ));
    // A member removed by the same commit need not support it (RFC 9420 §12.2).
    commit(
        &mut groups,
        0,
        vec![
            proposal,
            Proposal::Remove(Remove {
                removed: LeafIndex(1),
            }),
        ],
        &mut rng,
    )
    .unwrap();
    assert_eq!(groups[0].app_data(TOPIC).unwrap(), Some(b"x".to_vec()));
}

#[test]
fn a_group_context_extensions_proposal_must_keep_the_dictionary_when_app_data_update_is_required() {
    let mut rng = SeededRng::new(20);
    let required = crate::messages::RequiredCapabilities {
        extension_types: Vec::new(),
        proposal_types: vec![crate::codepoints::APP_DATA_UPDATE_PROPOSAL],
        credential_types: Vec::new(),
    }
    .to_extension()
    .unwrap();
    let mut group = new_group().with_app_data(TOPIC, b"kept".to_vec());
    group.extensions.push(required.clone());
    let mut groups = vec![create(with_components("alice", &mut rng), group, &mut rng)];
    add(&mut groups, 0, with_components("bob", &mut rng), &mut rng);
    let dictionary = groups[0]
        .context()
        .extensions
        .iter()
        .find(|e| e.extension_type == APP_DATA_DICTIONARY_EXTENSION)
        .unwrap()
        .clone();
    let mut changed = AppDataDictionary::default();
    changed.insert(TOPIC, b"rewritten".to_vec());
    for extensions in [
        vec![required.clone()],
        vec![required.clone(), changed.to_extension().unwrap()],
    ] {
        let gce = Proposal::GroupContextExtensions(GroupContextExtensions { extensions });
        let error = refused(&mut groups[0], |g| {
            g.commit(
                &CommitOptions {
                    proposals: vec![gce],
                    ..CommitOptions::default()
                },
                NOW,
                &mut rng,
            )
        });
        assert_eq!(
            app_data_error(error),
            AppDataError::GroupContextExtensionsTouchesDictionary
        );
    }
    // Changing another extension, keeping the dictionary, together with an AppDataUpdate.
    let application_id = crate::messages::ApplicationId(b"app".to_vec())
        .to_extension()
        .unwrap();
    let gce = Proposal::GroupContextExtensions(GroupContextExtensions {
        extensions: vec![required, application_id.clone(), dictionary],
    });
    let by_value = vec![
        gce,
        groups[0].app_data_update_proposal(update(TOPIC, b"new")),
    ];
    commit(&mut groups, 0, by_value, &mut rng).unwrap();
    assert_agree(&groups);
    assert_eq!(groups[1].app_data(TOPIC).unwrap(), Some(b"new".to_vec()));
    assert!(groups[1].context().extensions.contains(&application_id));
}

#[test]
fn without_the_requirement_updates_apply_to_the_dictionary_a_group_context_extensions_left() {
    let mut rng = SeededRng::new(21);
    let mut groups = three_members(&mut rng);
    commit(
        &mut groups,
        0,
        vec![draft_update(update(LOG, b"old"))],
        &mut rng,
    )
    .unwrap();
    let mut rewritten = AppDataDictionary::default();
    rewritten.insert(LOG, b"gce-".to_vec());
    rewritten.insert(TOPIC, b"from gce".to_vec());
    let gce = Proposal::GroupContextExtensions(GroupContextExtensions {
        extensions: vec![rewritten.to_extension().unwrap()],
    });
    let by_value = vec![
        groups[0].app_data_update_proposal(update(LOG, b"then update")),
        gce,
    ];
    commit(&mut groups, 0, by_value, &mut rng).unwrap();
    assert_agree(&groups);
    assert_eq!(
        groups[2].app_data(LOG).unwrap(),
        Some(b"gce-then update".to_vec())
    );
    assert_eq!(
        groups[2].app_data(TOPIC).unwrap(),
        Some(b"from gce".to_vec())
    );
}

// ---- the openmls-0.9 profile (§4.7) -----------------------------------------------------------

/// Alice and bob with the test components under `profile`, in a group created with
/// `extensions` (in this order).
fn two_members_under(
    profile: CodepointProfile,
    extensions: Vec<Extension>,
    rng: &mut SeededRng,
) -> Vec<Group> {
    let under = |name: &str, rng: &mut SeededRng| {
        let mut params = with_components(name, rng);
        params.config.codepoint_profile = profile;
        params
    };
    let group = NewGroup {
        extensions,
        ..new_group()
    };
    let mut groups = vec![create(under("alice", rng), group, rng)];
    add(&mut groups, 0, under("bob", rng), rng);
    groups
}

/// A dictionary with `LOG` = "a", then required_capabilities naming the dictionary.
fn dictionary_first() -> Vec<Extension> {
    let mut dictionary = AppDataDictionary::default();
    dictionary.insert(LOG, b"a".to_vec());
    let required = RequiredCapabilities {
        extension_types: vec![APP_DATA_DICTIONARY_EXTENSION],
        proposal_types: Vec::new(),
        credential_types: Vec::new(),
    };
    vec![
        dictionary.to_extension().unwrap(),
        required.to_extension().unwrap(),
    ]
}

#[test]
fn an_update_keeps_the_dictionary_in_place_unless_the_profile_moves_it_to_the_end() {
    for profile in [CodepointProfile::Draft, CodepointProfile::OpenMls09] {
        let mut rng = SeededRng::new(30);
        let mut groups = two_members_under(profile, dictionary_first(), &mut rng);
        let proposal = groups[1].app_data_update_proposal(update(LOG, b"b"));
        commit(&mut groups, 1, vec![proposal], &mut rng).unwrap();
        assert_agree(&groups);
        let types: Vec<ExtensionType> = groups[0]
            .context()
            .extensions
            .iter()
            .map(|e| e.extension_type)
            .collect();
        let expected = match profile.app_data_dictionary_placement() {
            DictionaryPlacement::InPlace => [
                APP_DATA_DICTIONARY_EXTENSION,
                ExtensionType::REQUIRED_CAPABILITIES,
            ],
            DictionaryPlacement::MovedToEnd => [
                ExtensionType::REQUIRED_CAPABILITIES,
                APP_DATA_DICTIONARY_EXTENSION,
            ],
        };
        assert_eq!(types, expected, "{profile}");
        assert_eq!(groups[0].app_data(LOG).unwrap(), Some(b"ab".to_vec()));
    }
    assert_eq!(
        CodepointProfile::OpenMls09.app_data_dictionary_placement(),
        DictionaryPlacement::MovedToEnd
    );
}

#[test]
fn under_the_openmls_profile_updates_start_from_the_dictionary_before_the_commit() {
    let mut rng = SeededRng::new(31);
    let mut groups = two_members_under(CodepointProfile::OpenMls09, Vec::new(), &mut rng);
    let proposal = groups[0].app_data_update_proposal(update(LOG, b"old"));
    commit(&mut groups, 0, vec![proposal], &mut rng).unwrap();
    // A GroupContextExtensions proposal that rewrites the dictionary (AppDataUpdate is not
    // required here) with an update of the same commit: the rewrite is replaced by the
    // prior dictionary plus the update.
    let mut rewritten = AppDataDictionary::default();
    rewritten.insert(LOG, b"gce-".to_vec());
    rewritten.insert(TOPIC, b"from gce".to_vec());
    let gce = Proposal::GroupContextExtensions(GroupContextExtensions {
        extensions: vec![rewritten.to_extension().unwrap()],
    });
    let by_value = vec![
        groups[0].app_data_update_proposal(update(LOG, b"then update")),
        gce,
    ];
    commit(&mut groups, 0, by_value, &mut rng).unwrap();
    assert_agree(&groups);
    assert_eq!(
        groups[1].app_data(LOG).unwrap(),
        Some(b"oldthen update".to_vec())
    );
    assert_eq!(groups[1].app_data(TOPIC).unwrap(), None);
}

#[test]
fn under_the_openmls_profile_a_commit_lists_group_context_extensions_before_app_data_updates() {
    for profile in [CodepointProfile::Draft, CodepointProfile::OpenMls09] {
        let mut rng = SeededRng::new(32);
        let mut groups = two_members_under(profile, Vec::new(), &mut rng);
        let extensions = groups[0].context().extensions.clone();
        let by_value = vec![
            groups[0].app_data_update_proposal(update(LOG, b"x")),
            Proposal::GroupContextExtensions(GroupContextExtensions { extensions }),
        ];
        let (_, output) = commit(&mut groups, 0, by_value, &mut rng).unwrap();
        assert_agree(&groups);
        let MlsMessageBody::PublicMessage(public) = &output.commit.body else {
            panic!("handshakes are PublicMessages by default");
        };
        let crate::messages::Content::Commit(body) = &public.content.content else {
            panic!("not a commit");
        };
        let order: Vec<ProposalType> = body
            .proposals
            .iter()
            .map(|p| match p {
                crate::messages::ProposalOrRef::Proposal(p) => p.proposal_type(),
                crate::messages::ProposalOrRef::Reference(_) => panic!("no pending proposals"),
            })
            .collect();
        let update_type = profile.proposal_type(ExtensionProposalKind::AppDataUpdate);
        let expected = if profile.group_context_extensions_before_app_data_updates() {
            vec![ProposalType::GROUP_CONTEXT_EXTENSIONS, update_type]
        } else {
            vec![update_type, ProposalType::GROUP_CONTEXT_EXTENSIONS]
        };
        assert_eq!(order, expected, "{profile}");
    }
}

// ---- AppEphemeral (§4.8) --------------------------------------------------------------------

#[test]
fn app_ephemeral_data_is_reported_in_commit_order_and_changes_no_state() {
    let mut rng = SeededRng::new(22);
    let mut groups = three_members(&mut rng);
    let message = groups[1]
        .propose_app_ephemeral(ephemeral(REACTION, b"thumbs up"), &mut rng)
        .unwrap();
    for i in [0, 2] {
        groups[i].process_message(&message, NOW).unwrap();
    }
    let extensions = groups[0].context().extensions.clone();
    let by_value = vec![groups[0].app_ephemeral_proposal(ephemeral(REACTION, b"party"))];
    let (summary, _) = commit(&mut groups, 0, by_value, &mut rng).unwrap();
    assert_eq!(
        summary.app_data.ephemeral,
        vec![
            AppEphemeralEntry {
                sender: Sender::Member(LeafIndex(1)),
                component_id: REACTION,
                data: b"thumbs up".to_vec(),
            },
            AppEphemeralEntry {
                sender: Sender::Member(LeafIndex(0)),
                component_id: REACTION,
                data: b"party".to_vec(),
            },
        ]
    );
    assert!(summary.app_data.changes.is_empty());
    assert_eq!(groups[0].context().extensions, extensions);
    assert_agree(&groups);
}

#[test]
fn invalid_or_unknown_ephemeral_data_is_refused() {
    let mut rng = SeededRng::new(23);
    let mut groups = three_members(&mut rng);
    let error = refused(&mut groups[0], |g| {
        g.propose_app_ephemeral(ephemeral(REACTION, b""), &mut rng)
    });
    assert!(matches!(
        app_data_error(error),
        AppDataError::EphemeralRejected {
            component: REACTION,
            ..
        }
    ));
    let unknown = ComponentId(0x9998);
    let proposal = groups[0].app_ephemeral_proposal(ephemeral(unknown, b"x"));
    let error = refused(&mut groups[0], |g| {
        g.commit(
            &CommitOptions {
                proposals: vec![proposal],
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
    });
    assert_eq!(
        app_data_error(error),
        AppDataError::UnknownEphemeralComponent(unknown)
    );
}

#[test]
fn ephemeral_data_is_processed_before_updates_whatever_the_commit_order() {
    let mut rng = SeededRng::new(24);
    let components = Arc::new(TestComponents::default());
    let mut params = with_components("alice", &mut rng);
    params.components = Components::from_arc(components.clone());
    let mut groups = vec![create(params, new_group(), &mut rng)];
    add(&mut groups, 0, with_components("bob", &mut rng), &mut rng);
    components.calls.lock().unwrap().clear();
    let by_value = vec![
        groups[0].app_data_update_proposal(update(TOPIC, b"t")),
        groups[0].app_ephemeral_proposal(ephemeral(REACTION, b"r")),
        groups[0].app_data_update_proposal(update(LOG, b"l")),
    ];
    let options = CommitOptions {
        proposals: by_value,
        ..CommitOptions::default()
    };
    groups[0].commit(&options, NOW, &mut rng).unwrap();
    assert_eq!(
        components.calls(),
        vec!["ephemeral 8003", "update 8001", "update 8002"]
    );
}

// ---- external senders and external commits (§4.7, §4.8) ----------------------------------

#[test]
fn an_external_sender_may_propose_an_app_data_update() {
    let mut rng = SeededRng::new(25);
    let server = signer("server", &mut rng);
    let senders = ExternalSenders(vec![ExternalSender {
        signature_key: server.public_key.clone(),
        credential: server.credential.clone(),
    }]);
    let mut group = new_group();
    group.extensions.push(senders.to_extension().unwrap());
    let mut groups = vec![create(with_components("alice", &mut rng), group, &mut rng)];
    add(&mut groups, 0, with_components("bob", &mut rng), &mut rng);
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    for proposal in [
        app_data_update_proposal(CodepointProfile::Draft, update(TOPIC, b"from the server")),
        app_ephemeral_proposal(CodepointProfile::Draft, ephemeral(REACTION, b"ping")),
    ] {
        let message = crate::group::external_proposal(
            cs.as_ref(),
            groups[0].group_id(),
            groups[0].epoch(),
            0,
            &server,
            proposal,
            &[],
        )
        .unwrap();
        for group in &mut groups {
            group.process_message(&message, NOW).unwrap();
        }
    }
    let (summary, _) = commit(&mut groups, 1, Vec::new(), &mut rng).unwrap();
    assert_eq!(
        summary.app_data.changes[0].senders,
        vec![Sender::External(0)]
    );
    assert_eq!(summary.app_data.ephemeral[0].sender, Sender::External(0));
    assert_eq!(
        groups[0].app_data(TOPIC).unwrap(),
        Some(b"from the server".to_vec())
    );
    assert_agree(&groups);
}

#[test]
fn an_external_commit_may_carry_app_data_proposals() {
    let mut rng = SeededRng::new(26);
    let mut groups = three_members(&mut rng);
    let info = group_info_of(&groups[2].group_info(true).unwrap());
    let options = JoinOptions {
        app_proposals: vec![
            ExtensionProposalBody::AppDataUpdate(update(TOPIC, b"dave was here")),
            ExtensionProposalBody::AppEphemeral(ephemeral(REACTION, b"hi")),
        ],
        ..JoinOptions::default()
    };
    let (dave, output) = Group::join_external(
        with_components("dave", &mut rng),
        &info,
        &options,
        NOW,
        &mut rng,
    )
    .unwrap();
    for group in &mut groups {
        let ProcessedMessage::Commit(summary) = group.process_message(&output.commit, NOW).unwrap()
        else {
            panic!("not a commit");
        };
        assert_eq!(
            summary.app_data.changes[0].senders,
            vec![Sender::NewMemberCommit]
        );
        assert_eq!(summary.app_data.ephemeral.len(), 1);
    }
    groups.push(dave);
    assert_agree(&groups);
    assert_eq!(
        groups[3].app_data(TOPIC).unwrap(),
        Some(b"dave was here".to_vec())
    );
}

#[test]
fn under_the_openmls_profile_an_external_commit_carries_no_app_ephemeral() {
    let mut rng = SeededRng::new(33);
    let profile = CodepointProfile::OpenMls09;
    let mut groups = two_members_under(profile, Vec::new(), &mut rng);
    let info = group_info_of(&groups[1].group_info(true).unwrap());
    let mut dave = with_components("dave", &mut rng);
    dave.config.codepoint_profile = profile;
    let refused = JoinOptions {
        app_proposals: vec![ExtensionProposalBody::AppEphemeral(ephemeral(
            REACTION, b"hi",
        ))],
        ..JoinOptions::default()
    };
    let error = Group::join_external(dave.clone(), &info, &refused, NOW, &mut rng).unwrap_err();
    assert_eq!(
        app_data_error(error),
        AppDataError::NotInExternalCommit {
            kind: ExtensionProposalKind::AppEphemeral,
            profile,
        }
    );
    // An AppDataUpdate is fine.
    let allowed = JoinOptions {
        app_proposals: vec![ExtensionProposalBody::AppDataUpdate(update(
            TOPIC,
            b"dave was here",
        ))],
        ..JoinOptions::default()
    };
    let (dave, output) = Group::join_external(dave, &info, &allowed, NOW, &mut rng).unwrap();
    for group in &mut groups {
        group.process_message(&output.commit, NOW).unwrap();
    }
    groups.push(dave);
    assert_agree(&groups);
    assert!(!profile.external_commit_allows(ExtensionProposalKind::AppEphemeral));
}

#[test]
fn new_member_proposals_may_not_carry_app_data_and_only_members_self_remove() {
    let update = app_data_update_proposal(CodepointProfile::Draft, update(TOPIC, b"x"));
    assert!(matches!(
        super::super::proposals::check_sender_may_propose(&Sender::NewMemberProposal, &update),
        Err(GroupError::SenderNotAllowed { .. })
    ));
    for sender in [Sender::Member(LeafIndex(0)), Sender::External(0)] {
        assert!(super::super::proposals::check_sender_may_propose(&sender, &update).is_ok());
    }
    let self_remove = Proposal::Extension(ExtensionProposal::new(
        CodepointProfile::Draft,
        ExtensionProposalBody::SelfRemove(crate::messages::SelfRemove),
    ));
    assert!(
        super::super::proposals::check_sender_may_propose(
            &Sender::Member(LeafIndex(0)),
            &self_remove
        )
        .is_ok()
    );
    for sender in [Sender::External(0), Sender::NewMemberProposal] {
        assert!(super::super::proposals::check_sender_may_propose(&sender, &self_remove).is_err());
    }
}

// ---- required components (§5) -----------------------------------------------------------

#[test]
fn a_joiner_without_a_required_component_is_refused() {
    let mut rng = SeededRng::new(27);
    let group = new_group().with_required_components(vec![TOPIC]).unwrap();
    let mut groups = vec![create(with_components("alice", &mut rng), group, &mut rng)];
    let bob = plain("bob", &mut rng);
    let bundle = KeyPackageBundle::generate(&bob, SUITE, NOW, &mut rng).unwrap();
    let error = refused(&mut groups[0], |g| {
        g.commit(
            &CommitOptions {
                proposals: vec![add_proposal(&bundle)],
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
    });
    assert_eq!(
        negotiation(error),
        NegotiationError::RequiredComponentUnsupported {
            supporter: Supporter::Leaf,
            list: ComponentListKind::AppComponents,
            component: TOPIC,
        }
    );
    // A joiner that supports it is welcome.
    add(&mut groups, 0, with_components("carol", &mut rng), &mut rng);
}

#[test]
fn creating_a_group_that_requires_a_component_we_lack_is_refused() {
    let mut rng = SeededRng::new(28);
    let group = new_group().with_required_components(vec![TOPIC]).unwrap();
    let error = Group::create(plain("alice", &mut rng), group, NOW, &mut rng).unwrap_err();
    assert!(matches!(
        negotiation(error),
        NegotiationError::RequiredComponentUnsupported {
            supporter: Supporter::Member(LeafIndex(0)),
            component: TOPIC,
            ..
        }
    ));
}

#[test]
fn an_update_that_requires_a_component_a_member_lacks_is_refused() {
    let mut rng = SeededRng::new(29);
    let mut groups = vec![create(
        with_components("alice", &mut rng),
        new_group(),
        &mut rng,
    )];
    add(&mut groups, 0, plain("bob", &mut rng), &mut rng);
    let list = ComponentsList {
        component_ids: vec![TOPIC],
    }
    .to_bytes()
    .unwrap();
    let error = refused(&mut groups[0], |g| {
        g.commit_builder()
            .update_app_data(APP_COMPONENTS_COMPONENT, list.clone())?
            .build(NOW, &mut rng)
    });
    assert_eq!(
        negotiation(error),
        NegotiationError::RequiredComponentUnsupported {
            supporter: Supporter::Member(LeafIndex(1)),
            list: ComponentListKind::AppComponents,
            component: TOPIC,
        }
    );
    // Requiring what everyone supports (a built-in component) is fine.
    let list = ComponentsList {
        component_ids: vec![CONTENT_MEDIA_TYPES_COMPONENT],
    }
    .to_bytes()
    .unwrap();
    groups[0]
        .commit_builder()
        .update_app_data(APP_COMPONENTS_COMPONENT, list)
        .unwrap()
        .build(NOW, &mut rng)
        .unwrap();
    let commit = groups[0].merge_pending_commit().unwrap();
    assert_eq!(commit.app_data.changes.len(), 1);
}

#[test]
fn a_group_context_extensions_proposal_requiring_a_component_a_member_lacks_is_refused() {
    let mut rng = SeededRng::new(30);
    let mut groups = vec![create(
        with_components("alice", &mut rng),
        new_group(),
        &mut rng,
    )];
    add(&mut groups, 0, plain("bob", &mut rng), &mut rng);
    let mut dictionary = AppDataDictionary::default();
    dictionary.insert(
        SAFE_AAD_COMPONENT,
        ComponentsList {
            component_ids: vec![TOPIC],
        }
        .to_bytes()
        .unwrap(),
    );
    let gce = Proposal::GroupContextExtensions(GroupContextExtensions {
        extensions: vec![dictionary.to_extension().unwrap()],
    });
    let error = refused(&mut groups[0], |g| {
        g.commit(
            &CommitOptions {
                proposals: vec![gce],
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
    });
    assert!(matches!(
        negotiation(error),
        NegotiationError::RequiredComponentUnsupported {
            list: ComponentListKind::SafeAad,
            component: TOPIC,
            ..
        }
    ));
}

#[test]
fn a_malformed_built_in_component_update_is_refused() {
    let mut rng = SeededRng::new(31);
    let mut groups = three_members(&mut rng);
    for component in [APP_COMPONENTS_COMPONENT, CONTENT_MEDIA_TYPES_COMPONENT] {
        let error = refused(&mut groups[0], |g| {
            g.check_app_data_update(&update(component, &[9]))
        });
        assert!(matches!(
            app_data_error(error),
            AppDataError::UpdateRejected { .. }
        ));
    }
    let empty = MediaTypeList::default().to_bytes().unwrap();
    let error = refused(&mut groups[0], |g| {
        g.check_app_data_update(&update(CONTENT_MEDIA_TYPES_COMPONENT, &empty))
    });
    assert!(matches!(
        app_data_error(error),
        AppDataError::UpdateRejected { .. }
    ));
}

// ---- wire formats (§5) ----------------------------------------------------------------------

const TARGETED: WireFormat = crate::codepoints::TARGETED_MESSAGE_WIRE_FORMAT;

/// A member whose leaves list the RFC 9420 wire formats and `extra`.
fn supporting_formats(name: &str, extra: WireFormat, rng: &mut SeededRng) -> MemberParams {
    let mut params = plain(name, rng);
    let mut formats = leaf::SUPPORTED_WIRE_FORMATS.to_vec();
    formats.extend([
        WireFormat::PUBLIC_MESSAGE,
        WireFormat::PRIVATE_MESSAGE,
        extra,
    ]);
    params.leaf.leaf_extensions.push(Extension {
        extension_type: SUPPORTED_WIRE_FORMATS_EXTENSION,
        extension_data: WireFormats {
            wire_formats: formats,
        }
        .to_bytes()
        .unwrap(),
    });
    params
}

#[test]
fn a_joiner_without_a_required_wire_format_is_refused() {
    let mut rng = SeededRng::new(32);
    let group = new_group().with_required_wire_formats(vec![WireFormat::PRIVATE_MESSAGE, TARGETED]);
    let mut groups = vec![create(
        supporting_formats("alice", TARGETED, &mut rng),
        group,
        &mut rng,
    )];
    let bundle = KeyPackageBundle::generate(&plain("bob", &mut rng), SUITE, NOW, &mut rng).unwrap();
    let error = refused(&mut groups[0], |g| {
        g.commit(
            &CommitOptions {
                proposals: vec![add_proposal(&bundle)],
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
    });
    assert_eq!(
        negotiation(error),
        NegotiationError::RequiredWireFormatUnsupported {
            supporter: Supporter::Leaf,
            wire_format: TARGETED,
        }
    );
    add(
        &mut groups,
        0,
        supporting_formats("carol", TARGETED, &mut rng),
        &mut rng,
    );
}

#[test]
fn required_rfc_9420_wire_formats_are_supported_by_every_client() {
    let mut rng = SeededRng::new(33);
    let group = new_group().with_required_wire_formats(vec![
        WireFormat::PUBLIC_MESSAGE,
        WireFormat::PRIVATE_MESSAGE,
    ]);
    let mut groups = vec![create(plain("alice", &mut rng), group, &mut rng)];
    add(&mut groups, 0, plain("bob", &mut rng), &mut rng);
}

#[test]
fn a_group_context_extensions_proposal_requiring_a_wire_format_a_member_lacks_is_refused() {
    let mut rng = SeededRng::new(34);
    let mut groups = vec![create(
        supporting_formats("alice", TARGETED, &mut rng),
        new_group(),
        &mut rng,
    )];
    add(&mut groups, 0, plain("bob", &mut rng), &mut rng);
    let gce = Proposal::GroupContextExtensions(GroupContextExtensions {
        extensions: vec![Extension {
            extension_type: REQUIRED_WIRE_FORMATS_EXTENSION,
            extension_data: WireFormats {
                wire_formats: vec![TARGETED],
            }
            .to_bytes()
            .unwrap(),
        }],
    });
    let error = refused(&mut groups[0], |g| {
        g.commit(
            &CommitOptions {
                proposals: vec![gce],
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
    });
    assert_eq!(
        negotiation(error),
        NegotiationError::RequiredWireFormatUnsupported {
            supporter: Supporter::Member(LeafIndex(1)),
            wire_format: TARGETED,
        }
    );
}

#[test]
fn wire_format_extensions_are_neither_sent_nor_read_under_the_openmls_profile() {
    let mut rng = SeededRng::new(35);
    let mut params = plain("alice", &mut rng);
    params.config.codepoint_profile = CodepointProfile::OpenMls09;
    let capabilities = default_capabilities_of(&params);
    assert!(
        !capabilities
            .extensions
            .contains(&SUPPORTED_WIRE_FORMATS_EXTENSION)
    );
    assert!(
        capabilities
            .extensions
            .contains(&APP_DATA_DICTIONARY_EXTENSION)
    );
    let error = Group::create(
        params.clone(),
        new_group().with_required_wire_formats(vec![TARGETED]),
        NOW,
        &mut rng,
    )
    .unwrap_err();
    assert_eq!(
        app_data_error(error),
        AppDataError::NoWireFormatExtensions(CodepointProfile::OpenMls09)
    );
    let policy = crate::validation::negotiation::NegotiationPolicy {
        profile: CodepointProfile::OpenMls09,
        ..Default::default()
    };
    let extension = Extension {
        extension_type: REQUIRED_WIRE_FORMATS_EXTENSION,
        extension_data: vec![0xff],
    };
    // Under this profile 0x0008 is no wire-format extension: not decoded, not required.
    let requirements = crate::validation::negotiation::NegotiationRequirements::from_extensions(
        std::slice::from_ref(&extension),
        &policy,
    )
    .unwrap();
    assert!(requirements.is_empty());
}

// ---- content media types (§6.2) ---------------------------------------------------------------

fn framed_group(rng: &mut SeededRng) -> Vec<Group> {
    let group = new_group()
        .with_content_media_types(&MediaTypeList {
            media_type_list: vec![text_plain(), media("application/json")],
        })
        .unwrap();
    let alice = accepting(
        with_components("alice", rng),
        vec![text_plain(), media("application/json"), media("image/png")],
    );
    let mut groups = vec![create(alice, group, rng)];
    let bob = accepting(
        with_components("bob", rng),
        vec![
            media("TEXT/PLAIN"),
            media("application/json"),
            media("image/png"),
        ],
    );
    add(&mut groups, 0, bob, rng);
    groups
}

#[test]
fn a_joiner_that_does_not_accept_the_required_media_types_is_refused() {
    let mut rng = SeededRng::new(36);
    let mut groups = framed_group(&mut rng);
    let carol = accepting(plain("carol", &mut rng), vec![text_plain()]);
    let bundle = KeyPackageBundle::generate(&carol, SUITE, NOW, &mut rng).unwrap();
    let error = refused(&mut groups[0], |g| {
        g.commit(
            &CommitOptions {
                proposals: vec![add_proposal(&bundle)],
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
    });
    assert_eq!(
        negotiation(error),
        NegotiationError::RequiredMediaTypeUnsupported {
            supporter: Supporter::Leaf,
            media_type: "application/json".into(),
        }
    );
}

#[test]
fn a_receiver_refuses_an_add_that_ignores_the_required_media_types() {
    let mut rng = SeededRng::new(37);
    let mut groups = framed_group(&mut rng);
    // Alice's policy lets her add anyone; Bob keeps the default.
    let mut config = groups[0].config().clone();
    config.content_media_types = MediaTypePolicy::Ignore;
    *groups[0].config = config;
    let carol = plain("carol", &mut rng);
    let bundle = KeyPackageBundle::generate(&carol, SUITE, NOW, &mut rng).unwrap();
    let options = CommitOptions {
        proposals: vec![add_proposal(&bundle)],
        ..CommitOptions::default()
    };
    let output = groups[0].commit(&options, NOW, &mut rng).unwrap();
    let error = refused(&mut groups[1], |g| g.process_message(&output.commit, NOW));
    assert!(matches!(
        negotiation(error),
        NegotiationError::RequiredMediaTypeUnsupported { .. }
    ));
}

#[test]
fn framed_application_messages_round_trip_and_an_empty_type_means_the_first() {
    let mut rng = SeededRng::new(38);
    let mut groups = framed_group(&mut rng);
    for (sent, expected) in [
        (media("application/json"), media("application/json")),
        (media(""), text_plain()),
        // Not required, but every member accepts it.
        (media("image/png"), media("image/png")),
    ] {
        let message = groups[0]
            .encrypt_framed_application_message(sent.clone(), b"{}", b"", &mut rng)
            .unwrap();
        let ProcessedMessage::Application {
            data,
            epoch,
            sender,
            ..
        } = groups[1].process_message(&message, NOW).unwrap()
        else {
            panic!("not an application message");
        };
        assert_eq!(sender, LeafIndex(0));
        let framed = groups[1]
            .read_framed_application_data(epoch, &data)
            .unwrap();
        assert_eq!(framed.media_type, expected);
        assert_eq!(framed.explicit_type, !sent.media_type.is_empty());
        assert_eq!(framed.content, b"{}");
    }
}

#[test]
fn malformed_or_unsupported_framing_is_refused_and_changes_nothing() {
    let mut rng = SeededRng::new(39);
    let mut groups = framed_group(&mut rng);
    let error = refused(&mut groups[0], |g| {
        g.encrypt_application_message(b"not framed", b"", &mut rng)
    });
    assert!(matches!(
        app_data_error(error),
        AppDataError::MalformedFraming(_)
    ));
    let error = refused(&mut groups[0], |g| {
        g.encrypt_framed_application_message(media("video/mp4"), b"", b"", &mut rng)
    });
    assert_eq!(
        app_data_error(error),
        AppDataError::MediaTypeNotSupported("video/mp4".into())
    );
    let epoch = groups[1].epoch();
    let error = refused(&mut groups[1], |g| {
        g.read_framed_application_data(epoch, b"\x05garbage")
    });
    assert!(matches!(
        app_data_error(error),
        AppDataError::MalformedFraming(_)
    ));
    // A group without content_media_types frames nothing.
    let mut rng = SeededRng::new(40);
    let mut plain_group = create(plain("dave", &mut rng), new_group(), &mut rng);
    let error = refused(&mut plain_group, |g| {
        g.encrypt_framed_application_message(media("text/plain"), b"", b"", &mut rng)
    });
    assert_eq!(app_data_error(error), AppDataError::NotFramed);
}

// ---- AppAck (§6.1) ----------------------------------------------------------------------------

#[test]
fn app_acks_compress_received_generations_into_ranges() {
    let received = [
        (LeafIndex(2), 0),
        (LeafIndex(1), 5),
        (LeafIndex(1), 3),
        (LeafIndex(1), 4),
        (LeafIndex(2), 2),
        (LeafIndex(1), 4),
    ];
    assert_eq!(
        app_ack_of(received),
        AppAck {
            received_ranges: vec![
                MessageRange {
                    sender: 1,
                    first_generation: 3,
                    last_generation: 5
                },
                MessageRange {
                    sender: 2,
                    first_generation: 0,
                    last_generation: 0
                },
                MessageRange {
                    sender: 2,
                    first_generation: 2,
                    last_generation: 2
                },
            ]
        }
    );
}

#[test]
fn an_app_ack_travels_in_an_app_ephemeral_and_is_checked_by_receivers() {
    let mut rng = SeededRng::new(41);
    let mut groups = three_members(&mut rng);
    let mut received = Vec::new();
    for _ in 0..3 {
        let message = groups[1]
            .encrypt_application_message(b"hello", b"", &mut rng)
            .unwrap();
        let ProcessedMessage::Application {
            sender, generation, ..
        } = groups[0].process_message(&message, NOW).unwrap()
        else {
            panic!("not an application message");
        };
        received.push((sender, generation));
        groups[2].process_message(&message, NOW).unwrap();
    }
    let ack = app_ack_of(received);
    assert_eq!(
        ack.received_ranges,
        vec![MessageRange {
            sender: 1,
            first_generation: 0,
            last_generation: 2
        }]
    );
    let output = groups[0]
        .commit_builder()
        .app_ephemeral(APP_ACK_COMPONENT, ack.to_bytes().unwrap())
        .unwrap()
        .build(NOW, &mut rng)
        .unwrap();
    groups[0].merge_pending_commit().unwrap();
    for i in [1, 2] {
        let ProcessedMessage::Commit(summary) =
            groups[i].process_message(&output.commit, NOW).unwrap()
        else {
            panic!("not a commit");
        };
        let entry = &summary.app_data.ephemeral[0];
        assert_eq!(entry.component_id, APP_ACK_COMPONENT);
        assert_eq!(AppAck::from_bytes(&entry.data).unwrap(), ack);
    }
    assert_agree(&groups);
}

#[test]
fn app_acks_with_reversed_or_overlapping_ranges_or_non_members_are_refused() {
    let mut rng = SeededRng::new(42);
    let mut groups = three_members(&mut rng);
    let range = |sender, first, last| MessageRange {
        sender,
        first_generation: first,
        last_generation: last,
    };
    for (ranges, expected) in [
        (
            vec![range(1, 4, 3)],
            AppDataError::AppAckRangeReversed {
                sender: 1,
                first: 4,
                last: 3,
            },
        ),
        (
            vec![range(1, 0, 3), range(2, 0, 0), range(1, 3, 5)],
            AppDataError::AppAckRangesOverlap(1),
        ),
        (vec![range(7, 0, 0)], AppDataError::AppAckSenderNotMember(7)),
    ] {
        let ack = AppAck {
            received_ranges: ranges,
        };
        let error = refused(&mut groups[0], |g| {
            g.propose_app_ephemeral(ack_ephemeral(&ack), &mut rng)
        });
        assert_eq!(app_data_error(error), expected);
    }
    let error = refused(&mut groups[0], |g| {
        g.check_app_ephemeral(&ephemeral(APP_ACK_COMPONENT, &[1, 2, 3]))
    });
    assert!(matches!(
        app_data_error(error),
        AppDataError::MalformedAppAck(_)
    ));
}

fn ack_ephemeral(ack: &AppAck) -> AppEphemeral {
    ack::app_ack_ephemeral(ack).unwrap()
}

// ---- storage ------------------------------------------------------------------------------------

#[test]
fn a_pending_commit_keeps_its_app_data_summary_across_a_reload() {
    let mut rng = SeededRng::new(43);
    let mut groups = three_members(&mut rng);
    groups[0]
        .commit_builder()
        .update_app_data(TOPIC, b"pending".to_vec())
        .unwrap()
        .app_ephemeral(REACTION, b"wave".to_vec())
        .unwrap()
        .build(NOW, &mut rng)
        .unwrap();
    let bytes = groups[0].to_bytes().unwrap();
    let mut restored = Group::from_bytes(env(), &bytes).unwrap();
    assert_eq!(restored.to_bytes().unwrap(), bytes);
    let summary = restored.merge_pending_commit().unwrap();
    assert_eq!(summary.app_data.changes[0].data, Some(b"pending".to_vec()));
    assert_eq!(summary.app_data.ephemeral[0].data, b"wave");
}

#[test]
fn the_app_data_policy_is_stored_with_the_group() {
    let mut rng = SeededRng::new(44);
    let mut params = plain("alice", &mut rng);
    params.config.grease = false;
    params.config.content_media_types = MediaTypePolicy::Ignore;
    let group = create(params, new_group(), &mut rng);
    let bytes = group.to_bytes().unwrap();
    let restored = Group::from_bytes(env(), &bytes).unwrap();
    assert!(!restored.config().grease);
    assert_eq!(
        restored.config().content_media_types,
        MediaTypePolicy::Ignore
    );
    // The defaults are not written: a default group's state has no such section.
    let default = create(plain("bob", &mut rng), new_group(), &mut rng);
    let restored = Group::from_bytes(env(), &default.to_bytes().unwrap()).unwrap();
    assert!(restored.config().grease);
    assert_eq!(
        restored.config().content_media_types,
        MediaTypePolicy::Require
    );
}

#[test]
fn a_loaded_group_knows_no_components_until_they_are_set() {
    let mut rng = SeededRng::new(45);
    let groups = three_members(&mut rng);
    let mut restored = Group::from_bytes(env(), &groups[0].to_bytes().unwrap()).unwrap();
    let error = refused(&mut restored, |g| {
        g.check_app_data_update(&update(TOPIC, b"x"))
    });
    assert_eq!(
        app_data_error(error),
        AppDataError::UnknownUpdateComponent(TOPIC)
    );
    restored.set_component_handler(Components::new(TestComponents::default()));
    restored
        .check_app_data_update(&update(TOPIC, b"x"))
        .unwrap();
}

#[test]
fn a_leaf_that_drops_a_required_component_from_its_list_fails_the_requirement() {
    // The check every leaf validation runs (joiners, Updates, commits, tree leaves).
    let mut rng = SeededRng::new(46);
    let group = new_group().with_required_components(vec![TOPIC]).unwrap();
    let alice = create(with_components("alice", &mut rng), group, &mut rng);
    let leaf: &LeafNode = alice.tree().leaf(LeafIndex(0)).unwrap();
    let requirements = crate::validation::negotiation::NegotiationRequirements {
        components: vec![TOPIC],
        ..Default::default()
    };
    crate::validation::negotiation::check_leaf_meets(&requirements, leaf, Supporter::Leaf).unwrap();
    let mut stripped = leaf.clone();
    let mut dictionary = dictionary_of(&stripped.extensions).unwrap();
    dictionary.insert(
        APP_COMPONENTS_COMPONENT,
        ComponentsList::default().to_bytes().unwrap(),
    );
    replace_dictionary(&mut stripped.extensions, dictionary.to_extension().unwrap());
    assert_eq!(
        crate::validation::negotiation::check_leaf_meets(&requirements, &stripped, Supporter::Leaf),
        Err(NegotiationError::RequiredComponentUnsupported {
            supporter: Supporter::Leaf,
            list: ComponentListKind::AppComponents,
            component: TOPIC,
        })
    );
}

/// An AppDataUpdate proposal under the draft's codepoint.
fn draft_update(update: AppDataUpdate) -> Proposal {
    app_data_update_proposal(CodepointProfile::Draft, update)
}

#[test]
fn a_member_keeps_its_components_for_the_groups_it_loads() {
    use crate::member::Member;
    use crate::storage::InMemoryStorage;
    let storage = Arc::new(InMemoryStorage::new());
    let alice = Member::builder()
        .crypto(RustCryptoProvider)
        .credential(Credential::Basic {
            identity: b"alice".to_vec(),
        })
        .storage(storage)
        .random(SeededRng::new(47))
        .clock(|| NOW)
        .components(Components::new(TestComponents::default()))
        .build()
        .unwrap();
    let mut group = alice.create_group(b"member group".to_vec()).unwrap();
    group
        .propose_app_data_update(update(TOPIC, b"saved"))
        .unwrap();
    group.commit_builder().build().unwrap();
    let summary = group.merge_pending_commit().unwrap();
    assert_eq!(summary.app_data.changes[0].component_id, TOPIC);
    drop(group);
    let mut loaded = alice.load_group(b"member group").unwrap();
    assert_eq!(loaded.app_data(TOPIC).unwrap(), Some(b"saved".to_vec()));
    loaded
        .check_app_data_update(&update(TOPIC, b"again"))
        .unwrap();
    loaded
        .propose_app_ephemeral(ephemeral(REACTION, b"wave"))
        .unwrap();
}

#[test]
fn a_group_context_extensions_proposal_with_an_unsorted_dictionary_is_refused() {
    let mut rng = SeededRng::new(48);
    let mut groups = three_members(&mut rng);
    let gce = Proposal::GroupContextExtensions(GroupContextExtensions {
        extensions: vec![unsorted_dictionary()],
    });
    let error = refused(&mut groups[0], |g| {
        g.commit(
            &CommitOptions {
                proposals: vec![gce],
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
    });
    assert_eq!(
        negotiation(error),
        NegotiationError::UnsortedDictionary(DictionaryLocation::GroupContext)
    );
}

#[test]
fn an_update_whose_leaf_drops_a_required_component_cannot_be_committed() {
    let mut rng = SeededRng::new(49);
    let group = new_group().with_required_components(vec![TOPIC]).unwrap();
    let mut groups = vec![create(with_components("alice", &mut rng), group, &mut rng)];
    add(&mut groups, 0, with_components("bob", &mut rng), &mut rng);
    // Bob's new leaf lists no component at all.
    let own = groups[1].own_leaf();
    let mut extensions = groups[1].tree().leaf(own).unwrap().extensions.clone();
    let mut dictionary = dictionary_of(&extensions).unwrap();
    dictionary.insert(
        APP_COMPONENTS_COMPONENT,
        ComponentsList::default().to_bytes().unwrap(),
    );
    replace_dictionary(&mut extensions, dictionary.to_extension().unwrap());
    let message = groups[1]
        .propose_update(Some(extensions), &mut rng)
        .unwrap();
    groups[0].process_message(&message, NOW).unwrap();
    let error = refused(&mut groups[0], |g| {
        g.commit(&CommitOptions::default(), NOW, &mut rng)
    });
    assert_eq!(
        negotiation(error),
        NegotiationError::RequiredComponentUnsupported {
            supporter: Supporter::Leaf,
            list: ComponentListKind::AppComponents,
            component: TOPIC,
        }
    );
}

#[test]
fn a_proposal_for_a_component_the_receiver_does_not_know_is_refused_on_receipt() {
    let mut rng = SeededRng::new(50);
    let mut groups = vec![create(
        with_components("alice", &mut rng),
        new_group(),
        &mut rng,
    )];
    add(&mut groups, 0, plain("bob", &mut rng), &mut rng);
    add(&mut groups, 0, with_components("carol", &mut rng), &mut rng);
    let update_message = groups[0]
        .propose_app_data_update(update(TOPIC, b"x"), &mut rng)
        .unwrap();
    let error = refused(&mut groups[1], |g| g.process_message(&update_message, NOW));
    assert_eq!(
        app_data_error(error),
        AppDataError::UnknownUpdateComponent(TOPIC)
    );
    // Carol knows the component; invalid ephemeral data is refused by her all the same.
    groups[2].process_message(&update_message, NOW).unwrap();
    let invalid = groups[0].app_ephemeral_proposal(ephemeral(REACTION, b""));
    let message = groups[0].propose(invalid, &[], &mut rng).unwrap();
    let error = refused(&mut groups[2], |g| g.process_message(&message, NOW));
    assert!(matches!(
        app_data_error(error),
        AppDataError::EphemeralRejected { .. }
    ));
}
