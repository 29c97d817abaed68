//! Tests of last-resort KeyPackages: the marker of each profile, its detection regardless
//! of profile, and what does not count as a marker.

use std::sync::{Arc, RwLock};

use conclave_codec::{Decode, Encode};
use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::*;
use crate::codepoints::{CodepointProfile, LAST_RESORT_KEY_PACKAGE_EXTENSION};
use crate::credential::BasicIdentityProvider;
use crate::group::{GroupConfig, GroupEnv, LeafOptions, SigningIdentity};
use crate::messages::{ComponentId, Credential};
use crate::validation::{
    GroupRequirements, LeafNodeValidator, MemberCredentialTypes, UsedLeafKeys,
};

const SUITE: CipherSuite = CipherSuite(1);
const NOW: u64 = 1_700_000_000;

fn member(profile: CodepointProfile, leaf: LeafOptions) -> MemberParams {
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    let signer = SigningIdentity::generate(
        cs.as_ref(),
        Credential::Basic {
            identity: b"bob".to_vec(),
        },
        &mut SeededRng::new(1),
    )
    .unwrap();
    let env = GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(RwLock::new(std::collections::HashMap::new())),
    };
    MemberParams {
        // Without GREASE (draft-ietf-mls-extensions-10 §5.1), so that the marker is the only
        // entry these tests look at; a GREASE entry beside it is covered below.
        config: GroupConfig {
            codepoint_profile: profile,
            grease: false,
            ..GroupConfig::default()
        },
        leaf,
        ..MemberParams::new(env, signer)
    }
}

fn generate(member: &MemberParams, last_resort: bool) -> KeyPackage {
    let generate = if last_resort {
        KeyPackageBundle::generate_last_resort
    } else {
        KeyPackageBundle::generate
    };
    generate(member, SUITE, NOW, &mut SeededRng::new(2))
        .unwrap()
        .key_package
}

/// The KeyPackage passes RFC 9420 §10.1 validation for a group of its suite.
fn assert_valid(key_package: &KeyPackage) {
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    let group = GroupRequirements {
        version: key_package.version,
        cipher_suite: SUITE,
        required_capabilities: None,
        context_extensions: Vec::new(),
        kp_context: Default::default(),
        negotiation: Default::default(),
    };
    LeafNodeValidator {
        cs: cs.as_ref(),
        identity: &BasicIdentityProvider,
        group: &group,
        members: &MemberCredentialTypes::default(),
        keys: &UsedLeafKeys::default(),
        lifetime_policy: crate::validation::LifetimePolicy::default(),
        now: NOW,
    }
    .validate_key_package(key_package)
    .unwrap();
}

#[test]
fn each_profile_marks_last_resort_key_packages_its_own_way_and_lists_the_extension_type() {
    for profile in CodepointProfile::ALL {
        let member = member(profile, LeafOptions::default());
        let package = generate(&member, true);
        assert!(package.is_last_resort(), "{profile}");
        let (expected, other) = match profile.last_resort_marker() {
            LastResortMarker::Component(id) => {
                assert_eq!(id, LAST_RESORT_KEY_PACKAGE_COMPONENT);
                (
                    APP_DATA_DICTIONARY_EXTENSION,
                    LAST_RESORT_KEY_PACKAGE_EXTENSION,
                )
            }
            LastResortMarker::Extension(t) => (t, APP_DATA_DICTIONARY_EXTENSION),
        };
        let types: Vec<ExtensionType> = package
            .extensions
            .iter()
            .map(|e| e.extension_type)
            .collect();
        assert_eq!(types, vec![expected], "{profile}");
        assert!(!types.contains(&other));
        assert!(
            package
                .leaf_node
                .capabilities
                .extensions
                .contains(&expected),
            "{profile}: the leaf lists the marker's extension type"
        );
        assert_valid(&package);
        // A one-time package of the same member carries no marker.
        let one_time = generate(&member, false);
        assert!(!one_time.is_last_resort(), "{profile}");
        assert!(one_time.extensions.is_empty());
    }
}

#[test]
fn the_draft_marker_is_an_empty_component_in_the_app_data_dictionary() {
    let package = generate(
        &member(CodepointProfile::Draft, LeafOptions::default()),
        true,
    );
    let dictionary = AppDataDictionary::from_bytes(&package.extensions[0].extension_data).unwrap();
    assert_eq!(
        dictionary.component_ids().collect::<Vec<_>>(),
        vec![LAST_RESORT_KEY_PACKAGE_COMPONENT]
    );
    assert_eq!(
        dictionary.get(LAST_RESORT_KEY_PACKAGE_COMPONENT),
        Some(&[][..])
    );
}

#[test]
fn the_marker_joins_an_existing_dictionary_sorted_and_keeps_its_entries() {
    let mut dictionary = AppDataDictionary::default();
    dictionary.insert(ComponentId(0x0001), vec![7]);
    dictionary.insert(ComponentId(0x8001), vec![8, 9]);
    let leaf = LeafOptions {
        key_package_extensions: vec![Extension {
            extension_type: APP_DATA_DICTIONARY_EXTENSION,
            extension_data: dictionary.to_bytes().unwrap(),
        }],
        ..LeafOptions::default()
    };
    let package = generate(&member(CodepointProfile::Draft, leaf), true);
    assert_eq!(package.extensions.len(), 1);
    let marked = AppDataDictionary::from_bytes(&package.extensions[0].extension_data).unwrap();
    assert!(marked.check_sorted());
    assert_eq!(
        marked.component_ids().collect::<Vec<_>>(),
        vec![
            ComponentId(0x0001),
            LAST_RESORT_KEY_PACKAGE_COMPONENT,
            ComponentId(0x8001)
        ]
    );
    assert_eq!(marked.get(ComponentId(0x8001)), Some(&[8, 9][..]));
    assert_valid(&package);
}

#[test]
fn either_marker_is_recognised_whatever_the_profile_that_made_it() {
    let draft = generate(
        &member(CodepointProfile::Draft, LeafOptions::default()),
        true,
    );
    let openmls = generate(
        &member(CodepointProfile::OpenMls09, LeafOptions::default()),
        true,
    );
    let mls_rs = generate(
        &member(CodepointProfile::MlsRs, LeafOptions::default()),
        true,
    );
    for package in [&draft, &openmls, &mls_rs] {
        assert!(package.is_last_resort());
    }
    // Decoded from the wire, the packages are still recognised (the check reads the
    // extensions, not a profile).
    for package in [draft, openmls, mls_rs] {
        let decoded = KeyPackage::from_bytes(&package.to_bytes().unwrap()).unwrap();
        assert!(decoded.is_last_resort());
    }
}

#[test]
fn a_marker_with_data_or_an_undecodable_dictionary_is_not_a_mark() {
    let base = generate(
        &member(CodepointProfile::Draft, LeafOptions::default()),
        false,
    );
    let with = |extension: Extension| KeyPackage {
        extensions: vec![extension],
        ..base.clone()
    };
    // Extension 0x000A with content.
    assert!(
        !with(Extension {
            extension_type: LAST_RESORT_KEY_PACKAGE_EXTENSION,
            extension_data: vec![0],
        })
        .is_last_resort()
    );
    // The component with data.
    let mut dictionary = AppDataDictionary::default();
    dictionary.insert(LAST_RESORT_KEY_PACKAGE_COMPONENT, vec![1]);
    assert!(
        !with(Extension {
            extension_type: APP_DATA_DICTIONARY_EXTENSION,
            extension_data: dictionary.to_bytes().unwrap(),
        })
        .is_last_resort()
    );
    // Another component only.
    let mut dictionary = AppDataDictionary::default();
    dictionary.insert(ComponentId(0x0005), Vec::new());
    assert!(
        !with(Extension {
            extension_type: APP_DATA_DICTIONARY_EXTENSION,
            extension_data: dictionary.to_bytes().unwrap(),
        })
        .is_last_resort()
    );
    // A dictionary that does not decode.
    assert!(
        !with(Extension {
            extension_type: APP_DATA_DICTIONARY_EXTENSION,
            extension_data: vec![0xff],
        })
        .is_last_resort()
    );
    // The empty extension alone is a mark.
    assert!(
        with(Extension {
            extension_type: LAST_RESORT_KEY_PACKAGE_EXTENSION,
            extension_data: Vec::new(),
        })
        .is_last_resort()
    );
}

#[test]
fn a_malformed_dictionary_in_the_options_is_refused_rather_than_overwritten() {
    let leaf = LeafOptions {
        key_package_extensions: vec![Extension {
            extension_type: APP_DATA_DICTIONARY_EXTENSION,
            extension_data: vec![0xff],
        }],
        ..LeafOptions::default()
    };
    let member = member(CodepointProfile::Draft, leaf);
    assert!(matches!(
        KeyPackageBundle::generate_last_resort(&member, SUITE, NOW, &mut SeededRng::new(3)),
        Err(GroupError::Codec(_))
    ));
}

#[test]
fn the_draft_marker_sits_beside_a_grease_entry() {
    let mut params = member(CodepointProfile::Draft, LeafOptions::default());
    params.config.grease = true;
    let package = generate(&params, true);
    assert!(package.is_last_resort());
    let dictionary = AppDataDictionary::from_bytes(&package.extensions[0].extension_data).unwrap();
    assert!(dictionary.check_sorted());
    let ids: Vec<_> = dictionary.component_ids().collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], LAST_RESORT_KEY_PACKAGE_COMPONENT);
    assert!(ids[1].is_grease());
}
