//! The checks of a commit bundle (`POST /v1/groups/{id}/commits`): what the DS can see of
//! it without any group secret, turned into the [`CommitRecord`] the store applies.

use conclave_codec::{Decode, Encode};
use conclave_core::messages::{
    ContentType, EncryptedGroupSecrets, MlsMessage, ProtocolVersion, RatchetTreeNodes, Sender,
};

use conclave_api::delivery::CommitBundle;

use crate::error::DsError;
use crate::header as mls_header;
use crate::ids::check_client_id;
use crate::store::{CommitRecord, MAX_STORED};

/// The KeyPackageRefs a Welcome is routed by (RFC 9420 §12.4.3.1: one `EncryptedGroupSecrets`
/// per new member), each once: a Welcome names at most `max_members` distinct refs, else it is
/// refused (400), so that one Welcome cannot fan out to an unbounded number of inboxes.
pub(crate) fn welcome_refs(
    max_members: usize,
    secrets: &[EncryptedGroupSecrets],
) -> Result<Vec<Vec<u8>>, DsError> {
    let mut refs: Vec<&[u8]> = secrets.iter().map(|s| s.new_member.0.as_slice()).collect();
    refs.sort_unstable();
    refs.dedup();
    if refs.len() > max_members {
        return Err(DsError::BadRequest(format!(
            "the Welcome names {} new members; a group has at most {max_members}",
            refs.len()
        )));
    }
    Ok(refs.into_iter().map(<[u8]>::to_vec).collect())
}

/// Checks what the DS can see of a commit bundle posted by `client_id` for `group_id`, and
/// makes the store's record of it. The DS reads only clear headers (RFC 9420 §6): the
/// commit's (a commit, for this group, from a member or a new member, RFC 9420 §12.4.3.2),
/// the GroupInfo's (this group, the next epoch), the Welcome's (the group's cipher suite;
/// its KeyPackageRefs route it, [`welcome_refs`]), the tree's encoding and the member list (1 to
/// `max_members` valid client ids, sorted and deduplicated). Every refusal is a 400.
pub(crate) fn check_commit_bundle(
    max_members: usize,
    group_id: &[u8],
    client_id: &str,
    bundle: &CommitBundle,
) -> Result<CommitRecord, DsError> {
    if bundle.commit.version != ProtocolVersion::MLS10 {
        return Err(DsError::BadRequest(
            "commit: unsupported protocol version".into(),
        ));
    }
    let head = mls_header::handshake_header(&bundle.commit)?;
    if head.content_type != ContentType::Commit {
        return Err(DsError::BadRequest(format!(
            "the bundle's message is not a commit (content type {})",
            mls_header::content_type_code(head.content_type)
        )));
    }
    if head.group_id != group_id {
        return Err(DsError::BadRequest(
            "the commit is for another group than the URL names".into(),
        ));
    }
    if head.epoch >= MAX_STORED - 1 {
        return Err(DsError::BadRequest("epoch out of range".into()));
    }
    let external = match head.sender {
        None | Some(Sender::Member(_)) => false,
        Some(Sender::NewMemberCommit) => true,
        Some(other) => {
            return Err(DsError::BadRequest(format!(
                "a commit cannot come from a {:?} sender",
                other.sender_type()
            )));
        }
    };
    if bundle.group_info.version != ProtocolVersion::MLS10 {
        return Err(DsError::BadRequest(
            "group_info: unsupported protocol version".into(),
        ));
    }
    let info = mls_header::group_info(&bundle.group_info)?;
    if info.group_context.group_id != group_id {
        return Err(DsError::BadRequest(
            "the GroupInfo is for another group".into(),
        ));
    }
    if info.group_context.epoch != head.epoch + 1 {
        return Err(DsError::BadRequest(format!(
            "the GroupInfo is for epoch {}, the commit leads to epoch {}",
            info.group_context.epoch,
            head.epoch + 1
        )));
    }
    let welcome = match &bundle.welcome {
        None => None,
        Some(message) => {
            if message.version != ProtocolVersion::MLS10 {
                return Err(DsError::BadRequest(
                    "welcome: unsupported protocol version".into(),
                ));
            }
            let welcome = mls_header::welcome(message)?;
            if welcome.cipher_suite != info.group_context.cipher_suite {
                return Err(DsError::BadRequest(
                    "the Welcome's cipher suite is not the group's".into(),
                ));
            }
            let refs = welcome_refs(max_members, &welcome.secrets)?;
            let data = message
                .to_bytes()
                .map_err(|e| DsError::BadRequest(format!("welcome: {e}")))?;
            Some((data, refs))
        }
    };
    if let Some(tree) = &bundle.ratchet_tree {
        RatchetTreeNodes::from_bytes(tree)
            .map_err(|e| DsError::BadRequest(format!("ratchet_tree: not a valid tree: {e}")))?;
    }
    if bundle.members.is_empty() || bundle.members.len() > max_members {
        return Err(DsError::BadRequest(format!(
            "the bundle must name 1 to {} members",
            max_members
        )));
    }
    let mut members = Vec::with_capacity(bundle.members.len());
    for m in &bundle.members {
        let id = String::from_utf8(m.clone())
            .map_err(|_| DsError::BadRequest("member ids must be UTF-8".into()))?;
        check_client_id(&id)?;
        members.push(id);
    }
    members.sort();
    members.dedup();
    let encode = |m: &MlsMessage, what: &str| {
        m.to_bytes()
            .map_err(|e| DsError::BadRequest(format!("{what}: {e}")))
    };
    Ok(CommitRecord {
        epoch: head.epoch,
        data: encode(&bundle.commit, "commit")?,
        sender: client_id.to_owned(),
        external,
        group_info: encode(&bundle.group_info, "group_info")?,
        ratchet_tree: bundle.ratchet_tree.clone(),
        members,
        welcome,
        allow_external_join: bundle.allow_external_join,
        public_state: None,
        // Filled in by the route from the commit's Safe AAD in a member-proof group.
        member_proof: None,
        next_member_proof_key: None,
        annotations: Vec::new(),
        annotated_welcomes: Vec::new(),
    })
}
