//! One checker per official vector file (formats in `test-vectors/FORMATS.md`), and per
//! known-answer file of our own (`kat/`, for drafts without official vectors).

use crate::Checker;

mod crypto_basics;
mod deserialization;
pub mod extensions_safe;
pub mod extensions_structures;
pub mod hpke_pq;
mod key_schedule;
mod message_protection;
mod messages;
pub mod partial_member;
pub mod partial_membership_proofs;
pub mod partial_message_syntax;
pub mod partial_sender_authenticated;
pub mod partial_tree_operations;
mod passive_client;
pub mod pq_suites;
mod psk_secret;
mod secret_tree;
pub mod targeted_messages;
mod transcript_hashes;
mod tree_math;
mod tree_operations;
mod tree_validation;
mod treekem;
mod welcome;

/// The checker for a vector file name, if we have one.
pub fn checker_for(file_name: &str) -> Option<Checker> {
    let checker: Checker = match file_name {
        "crypto-basics.json" => crypto_basics::check,
        "deserialization.json" => deserialization::check,
        extensions_safe::FILE_NAME => extensions_safe::check,
        extensions_structures::FILE_NAME => extensions_structures::check,
        hpke_pq::FILE_NAME => hpke_pq::check,
        pq_suites::FILE_NAME => pq_suites::check,
        "key-schedule.json" => key_schedule::check,
        "message-protection.json" => message_protection::check,
        "messages.json" => messages::check,
        "passive-client-welcome.json"
        | "passive-client-handling-commit.json"
        | "passive-client-random.json" => passive_client::check,
        partial_member::WELCOME_FILE | partial_member::WELCOME_SPEC_FILE => {
            partial_member::check_welcome
        }
        partial_member::COMMIT_FILE | partial_member::COMMIT_SPEC_FILE => {
            partial_member::check_commit
        }
        partial_member::PASSIVE_FILE | partial_member::PASSIVE_SPEC_FILE => {
            partial_member::check_passive
        }
        partial_message_syntax::FILE_NAME | partial_message_syntax::SPEC_FILE_NAME => {
            partial_message_syntax::check
        }
        partial_membership_proofs::FILE_NAME | partial_membership_proofs::SPEC_FILE_NAME => {
            partial_membership_proofs::check
        }
        partial_sender_authenticated::FILE_NAME | partial_sender_authenticated::SPEC_FILE_NAME => {
            partial_sender_authenticated::check
        }
        partial_tree_operations::FILE_NAME | partial_tree_operations::SPEC_FILE_NAME => {
            partial_tree_operations::check
        }
        "psk_secret.json" => psk_secret::check,
        "secret-tree.json" => secret_tree::check,
        targeted_messages::FILE_NAME => targeted_messages::check,
        "transcript-hashes.json" => transcript_hashes::check,
        "tree-math.json" => tree_math::check,
        "welcome.json" => welcome::check,
        "tree-operations.json" => tree_operations::check,
        "tree-validation.json" => tree_validation::check,
        "treekem.json" => treekem::check,
        _ => return None,
    };
    Some(checker)
}
