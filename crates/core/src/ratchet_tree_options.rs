//! Ways to convey the ratchet tree (draft-ietf-mls-ratchet-tree-options-00): the
//! `RatchetTreeOption` GroupInfo extension that says where a joiner finds the tree when the
//! GroupInfo does not carry it (§3), the `ratchet_tree_source_domains` GroupContext extension
//! that limits where an HTTPS tree may come from (§3.1), and the `PartialGroupInfo` a
//! committer can give a Delivery Service that follows the group's handshakes (§4).
//!
//! The draft leaves every codepoint TBD and gives `RatchetTreeOption` none at all; Conclave
//! carries it as a GroupInfo extension under private-use values
//! ([`crate::codepoints::RATCHET_TREE_OPTION_EXTENSION`],
//! [`crate::codepoints::RATCHET_TREE_SOURCE_DOMAINS_EXTENSION`]).
//!
//! Whatever the source of the tree, a joiner checks it against the GroupContext's
//! `tree_hash` (RFC 9420 §12.4.3.1, draft §5), so a tree from the Delivery Service or a URL
//! is trusted no more than one in the Welcome.

use conclave_codec::{Decode, Encode};

use crate::messages::{
    Extension, ExtensionPayload, ExtensionType, GroupInfo, RatchetTreeNodes, find_payload,
};

/// `RatchetTreeRepresentation` (draft-ietf-mls-ratchet-tree-options-00 §3) with its select:
/// the `RatchetTreeOption` struct. `reserved(0)` does not decode.
///
/// The draft writes the `full` case as `Node ratchet_tree<V>` and says it is "the complete
/// `ratchet_tree` extension"; Conclave encodes it as that extension's data
/// (`optional<Node> ratchet_tree<V>`, RFC 9420 §12.4.3.3), which is the only way a tree with
/// blank nodes can be written.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[repr(u8)]
pub enum RatchetTreeOption {
    /// `full(1)`: the whole tree is here.
    Full(RatchetTreeNodes) = 1,
    /// `httpsUri(2)`: the tree can be downloaded from this `https:` URL
    /// (`opaque ratchet_tree_url<V>`).
    HttpsUri(Vec<u8>) = 2,
    /// `outOfBand(3)`: an unspecified application protocol conveys the tree.
    OutOfBand = 3,
    /// `distributionService(4)`: the Delivery Service rebuilt the tree from the group's
    /// handshakes (possible only when no handshake is a PrivateMessage) and serves it.
    DistributionService = 4,
}

impl ExtensionPayload for RatchetTreeOption {
    const EXTENSION_TYPE: ExtensionType = crate::codepoints::RATCHET_TREE_OPTION_EXTENSION;
}

/// Where a group's joiners find its ratchet tree: what a member's
/// [`crate::group::GroupConfig::ratchet_tree_location`] makes its GroupInfos say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum RatchetTreeLocation {
    /// In the GroupInfo's `ratchet_tree` extension (RFC 9420 §12.4.3.3), when the caller
    /// asks for it.
    #[default]
    GroupInfo,
    /// At the Delivery Service (draft-ietf-mls-ratchet-tree-options-00 §3
    /// `distributionService`): GroupInfos carry that `RatchetTreeOption` and never the tree.
    DeliveryService,
}

impl RatchetTreeLocation {
    /// The location a GroupInfo's extensions announce: `DeliveryService` for a
    /// `RatchetTreeOption{distributionService}`, else `GroupInfo`.
    pub fn of_group_info(extensions: &[Extension]) -> Result<Self, TreeOptionError> {
        Ok(match tree_option_of(extensions)? {
            Some(RatchetTreeOption::DistributionService) => Self::DeliveryService,
            _ => Self::GroupInfo,
        })
    }
}

/// `Domain` (draft-ietf-mls-ratchet-tree-options-00 §3.1): `opaque domain<V>`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Domain(pub Vec<u8>);

/// `DomainList` (draft-ietf-mls-ratchet-tree-options-00 §3.1): the payload of the
/// `ratchet_tree_source_domains` GroupContext extension, "a list of at least one domain
/// name".
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct DomainList {
    /// `Domain domains<V>`.
    pub domains: Vec<Domain>,
}

impl ExtensionPayload for DomainList {
    const EXTENSION_TYPE: ExtensionType = crate::codepoints::RATCHET_TREE_SOURCE_DOMAINS_EXTENSION;
}

/// `RatchetTreePresence` (draft-ietf-mls-ratchet-tree-options-00 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
#[repr(u8)]
pub enum RatchetTreePresence {
    /// `no_ratchet_tree(0)`: in neither the current nor the previous epoch's GroupInfo.
    NoRatchetTree = 0,
    /// `present(1)`: in both.
    Present = 1,
    /// `removed(2)`: in the previous epoch's only.
    Removed = 2,
    /// `added(3)`: in the current epoch's only.
    Added = 3,
}

/// `PartialGroupInfo` (draft-ietf-mls-ratchet-tree-options-00 §4): what a party that
/// follows a group's handshakes cannot compute of the GroupInfo of the epoch a commit
/// creates — its extensions other than `ratchet_tree`, and the committer's signature (the
/// signer is the committer's leaf).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PartialGroupInfo {
    /// Whether the GroupInfo carries a `ratchet_tree` extension, compared with the previous
    /// epoch's.
    pub ratchet_tree_presence: RatchetTreePresence,
    /// `Extension group_info_extensions<V>`: the GroupInfo's extensions without
    /// `ratchet_tree`.
    pub group_info_extensions: Vec<Extension>,
    /// `opaque signature<V>`: the GroupInfo's signature.
    pub signature: Vec<u8>,
}

impl PartialGroupInfo {
    /// The PartialGroupInfo of a GroupInfo we signed (draft-ietf-mls-ratchet-tree-options-00
    /// §4): its extensions without `ratchet_tree`, its signature, and whether the tree is
    /// there compared with the previous epoch's GroupInfo (`previous_had_tree`).
    pub fn of(group_info: &GroupInfo, previous_had_tree: bool) -> Self {
        let has_tree = group_info
            .extensions
            .iter()
            .any(|e| e.extension_type == ExtensionType::RATCHET_TREE);
        Self {
            ratchet_tree_presence: match (previous_had_tree, has_tree) {
                (false, false) => RatchetTreePresence::NoRatchetTree,
                (true, true) => RatchetTreePresence::Present,
                (true, false) => RatchetTreePresence::Removed,
                (false, true) => RatchetTreePresence::Added,
            },
            group_info_extensions: group_info
                .extensions
                .iter()
                .filter(|e| e.extension_type != ExtensionType::RATCHET_TREE)
                .cloned()
                .collect(),
            signature: group_info.signature.clone(),
        }
    }

    /// Whether the GroupInfo it stands for carries the `ratchet_tree` extension.
    pub fn has_ratchet_tree(&self) -> bool {
        matches!(
            self.ratchet_tree_presence,
            RatchetTreePresence::Present | RatchetTreePresence::Added
        )
    }
}

/// Why a ratchet-tree option or its source was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TreeOptionError {
    /// The extension's data does not decode.
    #[error("malformed {what} extension: {reason}")]
    Malformed {
        /// Which extension.
        what: &'static str,
        /// The decoder's error.
        reason: String,
    },
    /// A `ratchet_tree_source_domains` with no domain (draft-ietf-mls-ratchet-tree-options-00
    /// §3.1: "at least one").
    #[error(
        "ratchet_tree_source_domains lists no domain (draft-ietf-mls-ratchet-tree-options-00 §3.1)"
    )]
    NoDomains,
    /// The tree URL is not an `https:` URL with a host (§3).
    #[error(
        "the ratchet tree URL is not an https: URL with a host \
         (draft-ietf-mls-ratchet-tree-options-00 §3)"
    )]
    NotHttps,
    /// The tree URL's host is not one of the group's `ratchet_tree_source_domains` (§3.1).
    #[error(
        "the ratchet tree URL's host {host:?} is not in the group's ratchet_tree_source_domains \
         (draft-ietf-mls-ratchet-tree-options-00 §3.1)"
    )]
    DomainNotAllowed {
        /// The URL's host.
        host: String,
    },
}

/// The `RatchetTreeOption` of a GroupInfo's extensions, if it has one.
pub fn tree_option_of(
    extensions: &[Extension],
) -> Result<Option<RatchetTreeOption>, TreeOptionError> {
    find_payload::<RatchetTreeOption>(extensions).map_err(|e| TreeOptionError::Malformed {
        what: "RatchetTreeOption",
        reason: e.to_string(),
    })
}

/// The `ratchet_tree_source_domains` of a GroupContext's extensions, if it has them
/// (draft-ietf-mls-ratchet-tree-options-00 §3.1: at least one domain).
pub fn source_domains_of(
    context_extensions: &[Extension],
) -> Result<Option<DomainList>, TreeOptionError> {
    let list =
        find_payload::<DomainList>(context_extensions).map_err(|e| TreeOptionError::Malformed {
            what: "ratchet_tree_source_domains",
            reason: e.to_string(),
        })?;
    if list.as_ref().is_some_and(|l| l.domains.is_empty()) {
        return Err(TreeOptionError::NoDomains);
    }
    Ok(list)
}

/// The host of an `https:` URL, lower-cased and without port or trailing dot; `None` for any
/// other scheme, a URL without a host, or one with user information (which could make a
/// listed domain appear before the real host).
fn https_host(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.contains('@') {
        return None;
    }
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// Checks a tree URL (`httpsUri`) against the group (draft-ietf-mls-ratchet-tree-options-00
/// §3, §3.1): an `https:` URL, and when the GroupContext carries
/// `ratchet_tree_source_domains`, one whose host is one of the listed domains (compared
/// without case and trailing dot; a subdomain of a listed domain is not the domain).
pub fn check_tree_url(url: &[u8], context_extensions: &[Extension]) -> Result<(), TreeOptionError> {
    let url = core::str::from_utf8(url).map_err(|_| TreeOptionError::NotHttps)?;
    let host = https_host(url).ok_or(TreeOptionError::NotHttps)?;
    let Some(list) = source_domains_of(context_extensions)? else {
        return Ok(());
    };
    let listed = list.domains.iter().any(|d| {
        core::str::from_utf8(&d.0)
            .is_ok_and(|d| d.trim_end_matches('.').eq_ignore_ascii_case(&host))
    });
    if listed {
        Ok(())
    } else {
        Err(TreeOptionError::DomainNotAllowed { host })
    }
}

#[cfg(test)]
mod tests {
    use conclave_codec::{Decode, Encode};

    use super::*;
    use crate::messages::ExtensionPayload;

    fn domains(names: &[&str]) -> Vec<Extension> {
        vec![
            DomainList {
                domains: names
                    .iter()
                    .map(|n| Domain(n.as_bytes().to_vec()))
                    .collect(),
            }
            .to_extension()
            .unwrap(),
        ]
    }

    #[test]
    fn every_ratchet_tree_option_round_trips_with_the_drafts_select_bytes() {
        let options = [
            (
                RatchetTreeOption::Full(RatchetTreeNodes(vec![None])),
                vec![1, 1, 0],
            ),
            (
                RatchetTreeOption::HttpsUri(b"https://a".to_vec()),
                [&[2u8, 9][..], b"https://a"].concat(),
            ),
            (RatchetTreeOption::OutOfBand, vec![3]),
            (RatchetTreeOption::DistributionService, vec![4]),
        ];
        for (option, bytes) in options {
            assert_eq!(option.to_bytes().unwrap(), bytes, "{option:?}");
            assert_eq!(RatchetTreeOption::from_bytes(&bytes).unwrap(), option);
        }
        assert!(RatchetTreeOption::from_bytes(&[0]).is_err(), "reserved(0)");
        assert!(RatchetTreeOption::from_bytes(&[5]).is_err());
        assert!(
            RatchetTreeOption::from_bytes(&[4, 0]).is_err(),
            "trailing bytes"
        );
    }

    #[test]
    fn a_partial_group_info_and_a_domain_list_round_trip() {
        let partial = PartialGroupInfo {
            ratchet_tree_presence: RatchetTreePresence::Removed,
            group_info_extensions: vec![
                RatchetTreeOption::DistributionService
                    .to_extension()
                    .unwrap(),
            ],
            signature: vec![7; 64],
        };
        let bytes = partial.to_bytes().unwrap();
        assert_eq!(bytes.first(), Some(&2));
        assert_eq!(PartialGroupInfo::from_bytes(&bytes).unwrap(), partial);
        assert!(
            PartialGroupInfo::from_bytes(&[4, 0, 0]).is_err(),
            "presence 4"
        );
        let list = DomainList {
            domains: vec![
                Domain(b"example.com".to_vec()),
                Domain(b"b.example".to_vec()),
            ],
        };
        assert_eq!(
            DomainList::from_bytes(&list.to_bytes().unwrap()).unwrap(),
            list
        );
    }

    #[test]
    fn a_tree_url_must_be_https() {
        for url in [
            "http://example.com/t",
            "ftp://example.com",
            "https://",
            "example.com",
            "https://u@example.com/",
        ] {
            assert_eq!(
                check_tree_url(url.as_bytes(), &[]),
                Err(TreeOptionError::NotHttps),
                "{url}"
            );
        }
        assert_eq!(
            check_tree_url(b"HTTPS://Example.com:8443/tree?e=1", &[]),
            Ok(())
        );
        assert_eq!(check_tree_url(b"https://[::1]/t", &[]), Ok(()));
    }

    #[test]
    fn a_tree_url_must_come_from_a_listed_domain_when_the_group_lists_some() {
        let context = domains(&["trees.example.com", "other.example."]);
        assert_eq!(
            check_tree_url(b"https://TREES.example.com/g/1", &context),
            Ok(())
        );
        assert_eq!(
            check_tree_url(b"https://other.example:443/", &context),
            Ok(())
        );
        assert_eq!(
            check_tree_url(b"https://evil.example/g/1", &context),
            Err(TreeOptionError::DomainNotAllowed {
                host: "evil.example".into()
            })
        );
        assert_eq!(
            check_tree_url(b"https://x.trees.example.com/", &context),
            Err(TreeOptionError::DomainNotAllowed {
                host: "x.trees.example.com".into()
            })
        );
        assert_eq!(
            check_tree_url(b"https://trees.example.com/", &domains(&[])),
            Err(TreeOptionError::NoDomains)
        );
    }
}
