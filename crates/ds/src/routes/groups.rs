//! Groups and their logs (RFC 9750 §5.2-§5.3): creation, the group view, commits (through
//! the `bundle` checks), proposals and application messages, the paged log, and the join
//! material (GroupInfo, ratchet tree) for members and external joiners.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use conclave_api::delivery::{
    self as wire, Accepted, CommitBundle, CreateGroupRequest, GroupView, LogEntryView, LogPage,
};
use conclave_codec::{Decode, Encode};
use conclave_core::messages::ContentType;

use super::{
    AppResult, St, json, mls_response, no_such_group, read_body, read_json, require_media_type,
    require_member,
};
use crate::auth::{self, AuthenticatedClient, BearerToken, check_token};
use crate::bundle::check_commit_bundle;
use crate::error::DsError;
use crate::header::{self as mls_header, decode_message};
use crate::ids::parse_group_id;
use crate::query::{ApiQuery, PageQuery, TargetQuery};
use crate::self_remove::{EpochView, pending_self_removes, self_remove_profile};
use crate::state::AppState;
use crate::store::{
    Appended, Committed, GroupRecord, MAX_STORED, MemberProofKey, MemberProofRefusal, NewGroup,
    NewMessage, ProofUse, WithToken,
};
use crate::verified;

/// `POST /v1/groups`: creates a group at the given epoch with the caller as its only
/// member (409 if the id is taken).
pub(crate) async fn create(
    State(state): St,
    AuthenticatedClient(client_id): AuthenticatedClient,
    headers: HeaderMap,
    body: Body,
) -> AppResult {
    let request: CreateGroupRequest = read_json(&state, &headers, body).await?;
    let group_id = parse_group_id(&request.group_id)?;
    if request.epoch >= MAX_STORED {
        return Err(DsError::BadRequest("epoch out of range".into()));
    }
    let mut new_group = NewGroup::unverified(
        group_id.clone(),
        request.epoch,
        request.allow_external_join,
        client_id.clone(),
    );
    new_group.member_proof = request
        .member_proof
        .as_ref()
        .map(|r| member_proof_registration(&state, r, request.epoch))
        .transpose()?;
    if let Some(group_info) = &request.group_info {
        let start = verified::start(
            &state,
            &client_id,
            &group_id,
            request.epoch,
            group_info,
            request.ratchet_tree.as_deref(),
        )
        .await?;
        if request.tree_on_ds && !start.tree_on_ds {
            return Err(DsError::BadRequest(
                "tree_on_ds: the GroupInfo must then carry RatchetTreeOption{distributionService} \
                 (draft-ietf-mls-ratchet-tree-options-00 §3), so that joiners know to fetch the \
                 tree"
                    .into(),
            ));
        }
        new_group.group_info = Some(start.group_info);
        new_group.ratchet_tree = Some(start.ratchet_tree);
        new_group.public_state = Some(start.public_state);
    } else if request.tree_on_ds {
        return Err(verified::tree_needs_readable_handshakes(
            "this group is registered without its first GroupInfo (its handshakes are \
             private)",
        ));
    }
    if !state.store.create_group(&new_group, state.now()).await? {
        return Err(DsError::Conflict("a group with this id exists".into()));
    }
    Ok(json(
        StatusCode::CREATED,
        &GroupView {
            group_id: request.group_id.to_ascii_lowercase(),
            epoch: request.epoch,
            last_seq: 0,
            allow_external_join: request.allow_external_join,
            members: vec![client_id],
            verified: new_group.public_state.is_some(),
        },
    ))
}

/// The longest member-proof public key accepted (an uncompressed P-521 point is 133 bytes).
const MAX_MEMBER_PROOF_KEY: usize = 256;

/// A member-proof key registered with a new group (draft-mahy-mls-member-proof-00): a key of
/// a suite this DS implements, for the group's creation epoch.
fn member_proof_registration(
    state: &AppState,
    registration: &wire::MemberProofRegistration,
    epoch: u64,
) -> Result<MemberProofKey, DsError> {
    let suite = conclave_crypto::CipherSuite(registration.cipher_suite);
    if state.crypto.cipher_suite_provider(suite).is_none() {
        return Err(DsError::BadRequest(format!(
            "member_proof: cipher suite {} is not supported by this DS",
            registration.cipher_suite
        )));
    }
    let public_key = STANDARD
        .decode(&registration.public_key)
        .map_err(|e| DsError::BadRequest(format!("member_proof.public_key: not base64: {e}")))?;
    if public_key.is_empty() || public_key.len() > MAX_MEMBER_PROOF_KEY {
        return Err(DsError::BadRequest(format!(
            "member_proof.public_key: 1 to {MAX_MEMBER_PROOF_KEY} bytes"
        )));
    }
    Ok(MemberProofKey {
        cipher_suite: registration.cipher_suite,
        epoch,
        public_key,
    })
}

/// The member proof of a message or commit posted to a group with member proofs
/// (draft-mahy-mls-member-proof-00; the rules are `conclave_core::member_proof`'s): for the
/// epoch of the group's key (the current one), its Safe AAD must hold a proof
/// that verifies under that key for this group, epoch and content type. An external commit
/// (`external`) proves nothing but must announce the next epoch's key, like a member's
/// commit. Returns the verified proof for the store (which checks it against its key again
/// and refuses a replayed nonce, in the transaction that appends) and the announced
/// next-epoch key; `(None, None)` for a group without member proofs. A refusal is a 403.
async fn member_proof_of(
    state: &AppState,
    poster: &str,
    group_id: &[u8],
    message: &conclave_core::messages::MlsMessage,
    head: &mls_header::HandshakeHeader,
    external: bool,
) -> Result<(Option<ProofUse>, Option<Vec<u8>>), DsError> {
    // A group without member proofs never gains them (the store's append checks it again).
    if state
        .group_kind(group_id)
        .await?
        .is_some_and(|kind| !kind.member_proofs)
    {
        return Ok((None, None));
    }
    let Some(key) = state.store.member_proof_key(group_id).await? else {
        return Ok((None, None));
    };
    if head.epoch != key.epoch {
        // Not for the current epoch: the store refuses it as such (after its membership
        // check, so that a non-member learns nothing of the epoch).
        return Ok((None, None));
    }
    let authenticated_data = mls_header::authenticated_data(message)?;
    let refused = |e: conclave_core::member_proof::MemberProofError| {
        DsError::Forbidden(format!(
            "member proof refused: this group accepts only messages proving membership of its \
             current epoch: {e}"
        ))
    };
    if external {
        let next = conclave_core::member_proof::next_epoch_key_for_outsider(authenticated_data)
            .map_err(refused)?;
        return Ok((None, next.map(|k| k.0)));
    }
    let cs = state
        .crypto
        .cipher_suite_provider(conclave_crypto::CipherSuite(key.cipher_suite))
        .ok_or_else(|| DsError::Internal("the group's member-proof suite is gone".into()))?;
    let seen = match conclave_core::member_proof::verify_for_outsider(
        cs.as_ref(),
        &key.public_key,
        group_id,
        head.epoch,
        head.content_type,
        authenticated_data,
    ) {
        Ok(seen) => seen,
        Err(e) => {
            // A client outside the member list learns nothing of the group, not even that
            // it has member proofs: the uniform 404 comes first.
            require_member(state, group_id, poster).await?;
            return Err(refused(e));
        }
    };
    Ok((
        Some(ProofUse {
            public_key: key.public_key,
            nonce: seen.nonce,
        }),
        seen.next_epoch_key.map(|k| k.0),
    ))
}

/// The 403 of a proof the store refused (its key moved on, or the nonce was used).
fn member_proof_refused(refusal: MemberProofRefusal) -> DsError {
    DsError::Forbidden(
        match refusal {
            MemberProofRefusal::Required => {
                "member proof refused: this group accepts only messages proving membership of \
                 its current epoch (draft-mahy-mls-member-proof-00)"
            }
            MemberProofRefusal::Replayed => {
                "member proof refused: its nonce was used before in this epoch (a replayed proof)"
            }
            MemberProofRefusal::NextKeyMissing => {
                "member proof refused: a commit must announce the next epoch's member-proof key \
                 (next_epoch_member_proof_key, draft-mahy-mls-member-proof-00 §4)"
            }
        }
        .into(),
    )
}

/// The group `group` (hex) names, for one of its members; the uniform 404 for anyone else.
async fn member_group(
    state: &AppState,
    client_id: &str,
    group: &str,
) -> Result<GroupRecord, DsError> {
    let group_id = parse_group_id(group)?;
    let record = state
        .store
        .group(&group_id)
        .await?
        .ok_or_else(no_such_group)?;
    if !record.members.iter().any(|m| m == client_id) {
        return Err(no_such_group());
    }
    Ok(record)
}

/// `GET /v1/groups/{id}`: the group's epoch, last sequence number, external-join policy
/// and members, for members.
pub(crate) async fn get(
    State(state): St,
    AuthenticatedClient(client_id): AuthenticatedClient,
    Path(group): Path<String>,
) -> AppResult {
    let record = member_group(&state, &client_id, &group).await?;
    Ok(json(
        StatusCode::OK,
        &GroupView {
            group_id: hex::encode(&record.group_id),
            epoch: record.epoch,
            last_seq: record.last_seq,
            allow_external_join: record.allow_external_join,
            verified: record.public_state.is_some(),
            members: record.members,
        },
    ))
}

/// `POST /v1/groups/{id}/commits`: appends a commit bundle if it moves the group from the
/// commit's epoch to the next (RFC 9750 §5.2: exactly one commit per epoch; 409
/// `wrong_epoch` with the current epoch otherwise), updates the GroupInfo, tree and members
/// and routes the Welcome, all at once. Counted in the metrics as accepted, or refused by
/// error code.
pub(crate) async fn post_commit(
    State(state): St,
    AuthenticatedClient(client_id): AuthenticatedClient,
    Path(group): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> AppResult {
    let outcome = commit(&state, &client_id, &group, &headers, body).await;
    state.metrics.commit_outcome(&outcome);
    outcome
}

/// The work of [`post_commit`].
async fn commit(
    state: &AppState,
    client_id: &str,
    group: &str,
    headers: &HeaderMap,
    body: Body,
) -> AppResult {
    let group_id = parse_group_id(group)?;
    let media_type = require_media_type(
        headers,
        &[
            wire::COMMIT_BUNDLE_MEDIA_TYPE,
            wire::PARTIAL_COMMIT_BUNDLE_MEDIA_TYPE,
        ],
    )?;
    let bytes = read_body(state, headers, body).await?;
    let bundle = if media_type == wire::PARTIAL_COMMIT_BUNDLE_MEDIA_TYPE {
        let partial = wire::PartialCommitBundle::from_bytes(&bytes)
            .map_err(|e| DsError::BadRequest(format!("not a valid partial commit bundle: {e}")))?;
        full_bundle(state, &group_id, client_id, partial).await?
    } else {
        CommitBundle::from_bytes(&bytes)
            .map_err(|e| DsError::BadRequest(format!("not a valid commit bundle: {e}")))?
    };
    let mut record = check_commit_bundle(state.config.max_members, &group_id, client_id, &bundle)?;
    let head = mls_header::handshake_header(&bundle.commit)?;
    let (proof, next_key) = member_proof_of(
        state,
        client_id,
        &group_id,
        &bundle.commit,
        &head,
        record.external,
    )
    .await?;
    record.member_proof = proof;
    record.next_member_proof_key = next_key;
    let epoch = record.epoch;
    verify_commit(state, &group_id, client_id, &bundle, &mut record).await?;
    match state.store.commit(&group_id, &record, state.now()).await? {
        Committed::Accepted { seq, epoch, routed } => {
            tracing::debug!(group = %group, seq, epoch, welcomes = routed.len(), "commit accepted");
            state.announce(group_id, seq, true);
            Ok(json(StatusCode::OK, &Accepted { seq, epoch }))
        }
        Committed::WrongEpoch { current } => Err(DsError::WrongEpoch {
            message: epoch,
            current,
        }),
        Committed::NoGroup => Err(no_such_group()),
        Committed::NotMember => Err(no_such_group()),
        Committed::ExternalRefused => Err(no_such_group()),
        Committed::MemberProofRefused(refusal) => Err(member_proof_refused(refusal)),
    }
}

/// The commit bundle a [`wire::PartialCommitBundle`] stands for: the GroupInfo of the new
/// epoch rebuilt by the group's view from the `PartialGroupInfo`, its signature verified
/// (draft-ietf-mls-ratchet-tree-options-00 §4). Only for a verified group, from a member, for
/// the current epoch; the bundle then goes through the checks of every bundle.
async fn full_bundle(
    state: &AppState,
    group_id: &[u8],
    client_id: &str,
    partial: wire::PartialCommitBundle,
) -> Result<CommitBundle, DsError> {
    let group = state
        .store
        .group(group_id)
        .await?
        .ok_or_else(no_such_group)?;
    if !group.members.iter().any(|m| m == client_id) {
        return Err(no_such_group());
    }
    if group.public_state.is_none() {
        return Err(DsError::BadRequest(
            "a PartialGroupInfo needs a group whose handshakes the DS follows \
             (draft-ietf-mls-ratchet-tree-options-00 §4): post the full GroupInfo"
                .into(),
        ));
    }
    let head = mls_header::handshake_header(&partial.commit)?;
    if head.epoch != group.epoch {
        return Err(DsError::WrongEpoch {
            message: head.epoch,
            current: group.epoch,
        });
    }
    let proposals = state
        .store
        .epoch_proposals(group_id, group.epoch, MAX_EPOCH_PROPOSALS)
        .await?;
    let group_info = verified::rebuild_group_info(
        state,
        &group,
        client_id,
        partial.commit.clone(),
        partial.partial_group_info,
        proposals,
    )
    .await?;
    Ok(CommitBundle {
        commit: partial.commit,
        welcome: partial.welcome,
        group_info,
        ratchet_tree: None,
        members: partial.members,
        allow_external_join: None,
    })
}

/// In a verified group ([`verified`]), processes the bundle's commit against the group's
/// public state and replaces what the committer declared (members, tree) with what the DS
/// computed; the Welcome may name only the KeyPackages the commit adds. Nothing for an
/// unverified group, or a commit for another epoch than the current one (the store answers
/// `wrong_epoch`).
async fn verify_commit(
    state: &AppState,
    group_id: &[u8],
    client_id: &str,
    bundle: &CommitBundle,
    record: &mut crate::store::CommitRecord,
) -> Result<(), DsError> {
    let Some(group) = state.store.group(group_id).await? else {
        return Ok(());
    };
    if group.public_state.is_none() {
        // draft-ietf-mls-ratchet-tree-options-00 §3: a DS that does not follow the group
        // has no tree to serve.
        if verified::message_says_tree_on_ds(&bundle.group_info).unwrap_or(false) {
            return Err(verified::tree_needs_readable_handshakes(
                "the DS does not follow this group's handshakes (it was registered without its \
                 first GroupInfo), yet the commit's GroupInfo says the DS holds the tree",
            ));
        }
        return Ok(());
    }
    if group.epoch != record.epoch {
        return Ok(());
    }
    let allowed = if record.external {
        group.allow_external_join
    } else {
        group.members.iter().any(|m| m == client_id)
    };
    if !allowed {
        return Err(no_such_group());
    }
    let proposals = state
        .store
        .epoch_proposals(group_id, group.epoch, MAX_EPOCH_PROPOSALS)
        .await?;
    let Some(checked) = verified::check_commit(
        state,
        &group,
        client_id,
        bundle.commit.clone(),
        bundle.group_info.clone(),
        proposals,
    )
    .await?
    else {
        return Ok(());
    };
    if let Some((_, refs)) = &record.welcome
        && let Some(stray) = refs.iter().find(|r| !checked.added.contains(r))
    {
        return Err(DsError::BadRequest(format!(
            "the Welcome names KeyPackage {} that the commit does not add",
            hex::encode(stray)
        )));
    }
    record.members = checked.members;
    record.ratchet_tree = Some(checked.ratchet_tree);
    record.public_state = Some(checked.public_state);
    // draft-ietf-mls-partial-02 §8, §10: the partial clients' annotations, stored with the
    // commit; a partial joiner's Welcome is its AnnotatedWelcome instead of the plain one.
    let partial = state
        .store
        .partial_clients(&checked.annotation.candidates())
        .await?;
    if !partial.is_empty() {
        let welcome = match (&bundle.welcome, &record.welcome) {
            (Some(message), Some((_, refs))) => Some((message.clone(), refs.clone())),
            _ => None,
        };
        let annotations = verified::annotate(
            state,
            checked.annotation,
            bundle.commit.clone(),
            welcome,
            partial,
        )
        .await?;
        if let Some((_, refs)) = &mut record.welcome {
            refs.retain(|r| !annotations.welcomes.iter().any(|(k, _)| k == r));
            if refs.is_empty() {
                record.welcome = None;
            }
        }
        record.annotations = annotations.commits;
        record.annotated_welcomes = annotations.welcomes;
    }
    Ok(())
}

/// In a verified group ([`verified`]), checks a proposal of the current epoch against the
/// group's public state before it enters the log. Other epochs are left to the store
/// (`wrong_epoch`), non-members too.
async fn verify_proposal(
    state: &AppState,
    group_id: &[u8],
    client_id: &str,
    epoch: u64,
    message: &conclave_core::messages::MlsMessage,
) -> Result<(), DsError> {
    let Some(group) = state.store.group(group_id).await? else {
        return Ok(());
    };
    if group.public_state.is_none() || group.epoch != epoch {
        return Ok(());
    }
    if !group.members.iter().any(|m| m == client_id) {
        return Err(no_such_group());
    }
    verified::check_proposal(state, &group, client_id, message.clone()).await
}

/// draft-ietf-mimi-room-policy-04 §8.3: in a verified group with a room policy, a member
/// whose role lacks `canSendMessage` posts no application message (403 naming it). Judged
/// by the policy of the message's epoch when that epoch was the current one; the answer is
/// cached per (group, epoch), so a group without a policy costs one store read per epoch.
/// A non-member is left to the log's uniform 404.
async fn check_message_sender(
    state: &AppState,
    group_id: &[u8],
    epoch: u64,
    client_id: &str,
) -> Result<(), DsError> {
    let key = (group_id.to_vec(), epoch);
    let cached = state
        .message_senders
        .lock()
        .map_err(|_| DsError::Internal("the message-senders cache lock is poisoned".into()))?
        .get(&key)
        .cloned();
    let senders = match cached {
        Some(senders) => senders,
        None => {
            let Some(group) = state.store.group(group_id).await? else {
                return Ok(());
            };
            if group.epoch != epoch {
                // Another epoch than the current one: the log's epoch rule decides.
                return Ok(());
            }
            let senders = verified::message_senders(state, &group)
                .await?
                .map(std::sync::Arc::new);
            let mut cache = state.message_senders.lock().map_err(|_| {
                DsError::Internal("the message-senders cache lock is poisoned".into())
            })?;
            if cache.len() >= crate::state::MESSAGE_SENDERS_CAPACITY {
                cache.clear();
            }
            cache.insert(key, senders.clone());
            senders
        }
    };
    if let Some(senders) = senders
        && senders.members.contains(client_id)
        && !senders.allowed.contains(client_id)
    {
        return Err(DsError::Forbidden(format!(
            "draft-ietf-mimi-room-policy-04 §8.3: {client_id}'s role in this group lacks \
             canSendMessage; someone whose role may change roles can grant it"
        )));
    }
    Ok(())
}

/// draft-ietf-mls-partial-02 §7, §11: a partial member authenticates the sender of an
/// application message with the sender's MembershipProof, which someone holding the tree
/// must attach. In a verified group the DS holds the tree and knows which client posts:
/// for a PrivateMessage application message of the current epoch, and when the group has
/// partial members other than the poster, the proof of the poster's leaf (its first) in
/// the current tree, one `(partial client, proof)` per partial reader. The DS cannot read
/// the PrivateMessage's sender leaf; the partial member checks that the proof proves the
/// leaf it decrypts, so a member posting under another leaf is refused there. Nothing for
/// groups the DS does not follow, for other epochs, or without partial members. A sender's
/// proof is built once per epoch ([`AppState::sender_proofs`]).
async fn sender_proofs(
    state: &AppState,
    group_id: &[u8],
    epoch: u64,
    client_id: &str,
    message: &conclave_core::messages::MlsMessage,
) -> Result<Vec<(String, Vec<u8>)>, DsError> {
    if !matches!(
        message.body,
        conclave_core::messages::MlsMessageBody::PrivateMessage(_)
    ) {
        return Ok(Vec::new());
    }
    // Only a verified group has a tree to prove with (and a group never becomes one).
    if !state
        .group_kind(group_id)
        .await?
        .is_some_and(|kind| kind.verified)
    {
        return Ok(Vec::new());
    }
    let Some(record) = state.store.group(group_id).await? else {
        return Ok(Vec::new());
    };
    if record.public_state.is_none() || record.epoch != epoch {
        return Ok(Vec::new());
    }
    let readers: Vec<String> = state
        .store
        .partial_clients(&record.members)
        .await?
        .into_iter()
        .filter(|c| c != client_id)
        .collect();
    if readers.is_empty() {
        return Ok(Vec::new());
    }
    let key = (group_id.to_vec(), epoch, client_id.to_owned());
    let lock_failed = || DsError::Internal("the sender-proofs cache lock is poisoned".into());
    let cached = state
        .sender_proofs
        .lock()
        .map_err(|_| lock_failed())?
        .get(&key)
        .cloned();
    let proof = match cached {
        Some(proof) => proof,
        None => {
            let Some(proof) = verified::membership_proof(state, &record, client_id).await? else {
                return Ok(Vec::new());
            };
            let proof = std::sync::Arc::new(proof);
            let mut cache = state.sender_proofs.lock().map_err(|_| lock_failed())?;
            if cache.len() >= crate::state::MESSAGE_SENDERS_CAPACITY {
                cache.clear();
            }
            cache.insert(key, proof.clone());
            proof
        }
    };
    Ok(readers
        .into_iter()
        .map(|c| (c, proof.as_ref().clone()))
        .collect())
}

/// The most proposals of one epoch a verified commit is checked with.
const MAX_EPOCH_PROPOSALS: u32 = 10_000;

/// `POST /v1/groups/{id}/messages`: appends a proposal or application message of the
/// group's current epoch (commits go to `…/commits`), from a member.
///
/// The bearer token is checked as [`AuthenticatedClient`] checks it, and first: a bad token
/// is 401 whatever else the request holds. One case checks it in the append's own store
/// call ([`crate::Store::append_with_token`]: one statement on PostgreSQL, in the same
/// snapshot as the membership and epoch checks, so no node appends with a token after the
/// credential change that revoked it has committed): an application message to a group
/// without member proofs whose handshakes the DS does not verify ([`AppState::group_kind`]),
/// with no credential policy configured, whose body declares at most
/// [`UNAUTHENTICATED_BODY_MAX`] bytes. There the sender's identity is needed by the
/// append only (no member proof, no room policy, no partial-member proofs to attach). On
/// that path the body (so bounded) is read and decoded before the token is checked; any
/// refusal before the append checks the token first, so it stays a 401 for a bad token.
pub(crate) async fn post_message(
    State(state): St,
    BearerToken(token): BearerToken,
    path: Result<Path<String>, PathRejection>,
    target: Result<ApiQuery<TargetQuery>, DsError>,
    headers: HeaderMap,
    body: Body,
) -> AppResult {
    let plain = match (&path, &target) {
        (Ok(Path(group)), Ok(ApiQuery(target)))
            if target.to.is_none()
                && state.config.credential_policy.is_none()
                && declared_body_len(&headers)
                    .is_some_and(|len| len <= UNAUTHENTICATED_BODY_MAX) =>
        {
            match parse_group_id(group) {
                Ok(group_id) => state
                    .group_kind(&group_id)
                    .await?
                    .is_some_and(|kind| !kind.verified && !kind.member_proofs)
                    .then_some(group_id),
                Err(_) => None,
            }
        }
        _ => None,
    };
    let Some(group_id) = plain else {
        let client_id = check_token(&state, &token).await?.client_id;
        let Path(group) = match path {
            Ok(path) => path,
            Err(rejection) => return Ok(rejection.into_response()),
        };
        let ApiQuery(target) = target?;
        let group_id = parse_group_id(&group)?;
        let (bytes, message) = read_message(&state, &headers, body).await?;
        return post_decoded(&state, group_id, client_id, target, message, bytes).await;
    };
    let (bytes, message) = match read_message(&state, &headers, body).await {
        Ok(decoded) => decoded,
        Err(e) => {
            check_token(&state, &token).await?;
            return Err(e);
        }
    };
    let head = match mls_header::targeted_message(&message) {
        Some(_) => None,
        None => Some(mls_header::handshake_header(&message)),
    };
    let head = match head {
        Some(Ok(head))
            if head.content_type == ContentType::Application
                && head.group_id == group_id
                && head.epoch < MAX_STORED =>
        {
            head
        }
        // Anything else (a targeted message, a proposal, a refusal) takes the general path,
        // after the token check.
        _ => {
            let client_id = check_token(&state, &token).await?.client_id;
            let target = TargetQuery { to: None };
            return post_decoded(&state, group_id, client_id, target, message, bytes).await;
        }
    };
    let new = NewMessage {
        epoch: head.epoch,
        content_type: mls_header::content_type_code(head.content_type),
        sender: String::new(), // the token's client (`append_with_token`)
        data: bytes,
        member_proof: None,
        recipient: None,
        annotations: Vec::new(),
    };
    match state
        .store
        .append_with_token(&auth::token_hash(&token), &group_id, &new, state.now())
        .await?
    {
        WithToken::Refused => Err(auth::token_refused()),
        WithToken::Client { outcome, .. } => appended(&state, group_id, new.epoch, outcome),
    }
}

/// The body of a posted message: an MLSMessage (its media type, its bytes, decoded).
async fn read_message(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Vec<u8>, conclave_core::messages::MlsMessage), DsError> {
    require_media_type(headers, &[wire::MLS_MEDIA_TYPE])?;
    let bytes = read_body(state, headers, body).await?;
    let message = decode_message(&bytes)?;
    Ok((bytes, message))
}

/// The most body bytes [`post_message`] reads before the token is checked (its one-call
/// path): a request without a valid token must not make the DS read up to the full body
/// limit. Application messages are far smaller; a larger body takes the token-first path.
const UNAUTHENTICATED_BODY_MAX: usize = 64 * 1024;

/// The body length a request declares (`Content-Length`), if it declares one.
fn declared_body_len(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// [`post_message`] of a decoded message, as `client_id` (whose token was checked).
async fn post_decoded(
    state: &AppState,
    group_id: Vec<u8>,
    client_id: String,
    target: TargetQuery,
    message: conclave_core::messages::MlsMessage,
    bytes: Vec<u8>,
) -> AppResult {
    if let Some(targeted) = mls_header::targeted_message(&message) {
        return post_targeted(
            state, group_id, client_id, target, &message, targeted, bytes,
        )
        .await;
    }
    if target.to.is_some() {
        return Err(DsError::BadRequest(
            "only a targeted message names a recipient (?to=)".into(),
        ));
    }
    let head = mls_header::handshake_header(&message)?;
    if head.content_type == ContentType::Commit {
        return Err(DsError::BadRequest(
            "commits are posted as a bundle to /v1/groups/{id}/commits".into(),
        ));
    }
    if head.group_id != group_id {
        return Err(DsError::BadRequest(
            "the message is for another group than the URL names".into(),
        ));
    }
    if head.epoch >= MAX_STORED {
        return Err(DsError::BadRequest("epoch out of range".into()));
    }
    let (member_proof, _) =
        member_proof_of(state, &client_id, &group_id, &message, &head, false).await?;
    if let Some(profile) = self_remove_profile(&message) {
        check_self_remove(state, &group_id, &client_id, head.epoch, profile, &message).await?;
    }
    if head.content_type == ContentType::Proposal {
        verify_proposal(state, &group_id, &client_id, head.epoch, &message).await?;
    }
    let mut annotations = Vec::new();
    if head.content_type == ContentType::Application {
        check_message_sender(state, &group_id, head.epoch, &client_id).await?;
        annotations = sender_proofs(state, &group_id, head.epoch, &client_id, &message).await?;
    }
    let new = NewMessage {
        epoch: head.epoch,
        content_type: mls_header::content_type_code(head.content_type),
        sender: client_id.clone(),
        data: bytes,
        member_proof,
        recipient: None,
        annotations,
    };
    append_message(state, group_id, &new).await
}

/// A targeted message (draft-ietf-mls-targeted-messages-01 §3) posted by a member for the
/// member `?to=` names: stored with that recipient, whom [`read_log`] alone (with the
/// sender) shows it to. Its clear header names the group, the epoch and the recipient's
/// *leaf*; which client holds that leaf the sender says. In a verified group the DS checks
/// it against its tree (in the current epoch); for groups whose tree it does not follow it
/// cannot, and the recipient's client refuses a message not for its leaf (§7). The
/// recipient must be a member and not the sender.
async fn post_targeted(
    state: &AppState,
    group_id: Vec<u8>,
    client_id: String,
    target: TargetQuery,
    message: &conclave_core::messages::MlsMessage,
    targeted: &conclave_core::messages::TargetedMessage,
    bytes: Vec<u8>,
) -> AppResult {
    let Some(recipient) = target.to else {
        return Err(DsError::BadRequest(
            "a targeted message names its recipient: ?to=<client>".into(),
        ));
    };
    if targeted.group_id != group_id {
        return Err(DsError::BadRequest(
            "the message is for another group than the URL names".into(),
        ));
    }
    if targeted.epoch >= MAX_STORED {
        return Err(DsError::BadRequest("epoch out of range".into()));
    }
    if recipient == client_id {
        return Err(DsError::BadRequest(
            "a targeted message goes to another member".into(),
        ));
    }
    if !state.store.is_member(&group_id, &recipient).await? {
        return Err(DsError::BadRequest(
            "the recipient of a targeted message must be a member of the group".into(),
        ));
    }
    if let Some(group) = state.store.group(&group_id).await?
        && group.public_state.is_some()
        && group.epoch == targeted.epoch
    {
        verified::check_targeted_recipient(
            state,
            &group,
            targeted.recipient_leaf_index,
            &recipient,
        )
        .await?;
    }
    // In a member-proof group a targeted message proves membership like an application
    // message (its clear `authenticated_data` carries the proof, content type application).
    let head = mls_header::HandshakeHeader {
        wire_format: message.wire_format(),
        group_id: targeted.group_id.clone(),
        epoch: targeted.epoch,
        content_type: ContentType::Application,
        sender: None,
    };
    let (member_proof, _) =
        member_proof_of(state, &client_id, &group_id, message, &head, false).await?;
    let new = NewMessage {
        epoch: targeted.epoch,
        content_type: wire::TARGETED_CONTENT_TYPE,
        sender: client_id,
        data: bytes,
        member_proof,
        recipient: Some(recipient),
        annotations: Vec::new(),
    };
    append_message(state, group_id, &new).await
}

/// Appends `new` to the group's log and wakes the group's readers.
async fn append_message(state: &AppState, group_id: Vec<u8>, new: &NewMessage) -> AppResult {
    let outcome = state.store.append(&group_id, new, state.now()).await?;
    appended(state, group_id, new.epoch, outcome)
}

/// The answer to an append of a message of epoch `head_epoch` (and the wake-up of the
/// group's readers when it was stored).
fn appended(state: &AppState, group_id: Vec<u8>, head_epoch: u64, outcome: Appended) -> AppResult {
    match outcome {
        Appended::Accepted { seq } => {
            state.announce(group_id, seq, false);
            Ok(json(
                StatusCode::OK,
                &Accepted {
                    seq,
                    epoch: head_epoch,
                },
            ))
        }
        Appended::WrongEpoch { current } => Err(DsError::WrongEpoch {
            message: head_epoch,
            current,
        }),
        Appended::NoGroup => Err(no_such_group()),
        Appended::NotMember => Err(no_such_group()),
        Appended::MemberProofRefused(refusal) => Err(member_proof_refused(refusal)),
    }
}

/// A SelfRemove proposal posted by a member (draft-ietf-mls-extensions-10 §6.3: the DS
/// validates it, all but its membership tag): checked against the GroupInfo and tree of the
/// current epoch when the DS holds them, else stored as any proposal is (members validate
/// it; the DS serves only SelfRemoves it could check to joiners). 409 for another epoch,
/// 400 if it does not verify.
async fn check_self_remove(
    state: &AppState,
    group_id: &[u8],
    client_id: &str,
    epoch: u64,
    profile: conclave_core::codepoints::CodepointProfile,
    message: &conclave_core::messages::MlsMessage,
) -> Result<(), DsError> {
    let record = state
        .store
        .group(group_id)
        .await?
        .ok_or_else(no_such_group)?;
    if !record.members.iter().any(|m| m == client_id) {
        return Err(no_such_group());
    }
    if epoch != record.epoch {
        return Err(DsError::WrongEpoch {
            message: epoch,
            current: record.epoch,
        });
    }
    let Some(view) = EpochView::of(&record) else {
        return Ok(());
    };
    view.check(state.crypto.as_ref(), profile, message)
        .map(|_| ())
        .map_err(|e| DsError::BadRequest(format!("invalid SelfRemove proposal: {e}")))
}

/// `GET /v1/groups/{id}/messages?after=N&limit=M`: a page of the group's log after a
/// cursor, for members; a removed client reads up to the commit that removed it.
///
/// The bearer token is checked as [`AuthenticatedClient`] checks it, and first (a bad token
/// is 401 whatever else the request holds), but in the read's own store call
/// ([`crate::Store::member_log_with_token`]): on PostgreSQL one statement reads the token,
/// its client's generation, the membership and the page in one snapshot, so no node serves
/// a page with a token after the credential change that revoked it has committed. With a
/// credential policy, the policy is asked about the token's client before anything is
/// answered.
pub(crate) async fn read_log(
    State(state): St,
    BearerToken(token): BearerToken,
    path: Result<Path<String>, PathRejection>,
    page: Result<ApiQuery<PageQuery>, DsError>,
) -> AppResult {
    let parsed = match (path, page) {
        (Ok(Path(group)), Ok(ApiQuery(page))) => parse_group_id(&group).map(|id| (id, page)),
        (Err(rejection), _) => {
            check_token(&state, &token).await?;
            return Ok(rejection.into_response());
        }
        (_, Err(e)) => Err(e),
    };
    let (group_id, page) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            check_token(&state, &token).await?;
            return Err(e);
        }
    };
    let after = page.after();
    let limit = page.limit(state.config.max_page);
    // A removed client reads up to the commit that removed it (the messages of its
    // membership, then its removal), and nothing after.
    // A member's read is one store call (token, membership and page in one snapshot).
    let (client_id, member_page) = match state
        .store
        .member_log_with_token(
            &auth::token_hash(&token),
            state.now(),
            &group_id,
            after,
            limit,
        )
        .await?
    {
        WithToken::Refused => return Err(auth::token_refused()),
        WithToken::Client { client_id, outcome } => (client_id, outcome),
    };
    auth::check_policy(&state, &client_id).await?;
    let (until, log) = match member_page {
        Some(log) => (None, log),
        None => {
            let until = match state.store.removed_at(&group_id, &client_id).await? {
                Some(removed_at) if after < removed_at => Some(removed_at),
                _ => {
                    require_member(&state, &group_id, &client_id).await?;
                    None
                }
            };
            (until, state.store.read_log(&group_id, after, limit).await?)
        }
    };
    // draft-ietf-mls-partial-02 §10: a partial client reads the commits annotated for it.
    let mut annotations = match log.last() {
        Some(last)
            if log
                .iter()
                .any(|e| e.content_type == 3 || e.content_type == 1)
                && state.client_is_partial(&client_id).await? =>
        {
            state
                .store
                .annotations(&group_id, &client_id, after, last.seq)
                .await?
        }
        _ => Vec::new(),
    }
    .into_iter()
    .peekable();
    let entries = log
        .into_iter()
        .filter(|e| until.is_none_or(|until| e.seq <= until))
        .map(|e| {
            // A targeted message is for its recipient (and its sender) only: the others get
            // its position, so that their cursor moves past it, and nothing else.
            if e.recipient
                .as_ref()
                .is_some_and(|r| *r != client_id && e.sender != client_id)
            {
                return LogEntryView {
                    seq: e.seq,
                    epoch: e.epoch,
                    content_type: wire::TARGETED_CONTENT_TYPE,
                    sender: String::new(),
                    message: String::new(),
                };
            }
            while annotations.next_if(|(seq, _)| *seq < e.seq).is_some() {}
            if let Some((_, annotated)) = annotations.next_if(|(seq, _)| *seq == e.seq) {
                if e.content_type == 1 {
                    return sender_authenticated_entry(e, &annotated);
                }
                return LogEntryView {
                    seq: e.seq,
                    epoch: e.epoch,
                    content_type: wire::ANNOTATED_COMMIT_CONTENT_TYPE,
                    sender: e.sender,
                    message: STANDARD.encode(annotated),
                };
            }
            LogEntryView {
                seq: e.seq,
                epoch: e.epoch,
                content_type: e.content_type,
                sender: e.sender,
                message: STANDARD.encode(e.data),
            }
        })
        .collect();
    Ok(json(StatusCode::OK, &LogPage { entries }))
}

/// An application message with the sender's proof stored for a partial reader, as the
/// `SenderAuthenticatedMessage<PrivateMessage>` of draft-ietf-mls-partial-02 §7
/// ([`wire::SENDER_AUTHENTICATED_CONTENT_TYPE`]). A stored message or proof that no longer
/// decodes (it decoded when posted) is served raw, which the partial member reports as
/// unreadable.
fn sender_authenticated_entry(e: crate::store::LogEntry, proof: &[u8]) -> LogEntryView {
    let composed = (|| {
        let message = conclave_core::messages::MlsMessage::from_bytes(&e.data).ok()?;
        let conclave_core::messages::MlsMessageBody::PrivateMessage(private) = message.body else {
            return None;
        };
        let proof = conclave_core::partial::MembershipProof::from_bytes(proof).ok()?;
        conclave_core::partial::SenderAuthenticatedMessage {
            message: private,
            sender_membership_proof: proof,
        }
        .to_bytes()
        .ok()
    })();
    match composed {
        Some(bytes) => LogEntryView {
            seq: e.seq,
            epoch: e.epoch,
            content_type: wire::SENDER_AUTHENTICATED_CONTENT_TYPE,
            sender: e.sender,
            message: STANDARD.encode(bytes),
        },
        None => LogEntryView {
            seq: e.seq,
            epoch: e.epoch,
            content_type: e.content_type,
            sender: e.sender,
            message: STANDARD.encode(e.data),
        },
    }
}

/// `GET /v1/groups/{id}/membership-proof`: the caller's MembershipProof in the group's
/// current epoch (draft-ietf-mls-partial-02 §7), TLS-encoded, built from the tree the DS
/// follows: what a partial member attaches to the messages it sends. Members only (others
/// get the uniform 404); a group whose handshakes the DS does not read has no tree to prove
/// against.
pub(crate) async fn membership_proof(
    State(state): St,
    AuthenticatedClient(client_id): AuthenticatedClient,
    Path(group): Path<String>,
) -> AppResult {
    let record = member_group(&state, &client_id, &group).await?;
    if record.public_state.is_none() {
        return Err(DsError::NotFound(
            "the Delivery Service does not follow this group's handshakes, so it holds no \
             tree to prove membership in (draft-ietf-mls-partial-02 §7): register the group \
             with its first GroupInfo and send handshakes as PublicMessage or \
             SemiPrivateMessage"
                .into(),
        ));
    }
    let proof = verified::membership_proof(&state, &record, &client_id)
        .await?
        .ok_or_else(no_such_group)?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, wire::MEMBERSHIP_PROOF_MEDIA_TYPE)],
        proof,
    )
        .into_response())
}

/// GroupInfo and ratchet tree are served to members, and to any authenticated client when
/// the group allows external joins (RFC 9420 §12.4.3.2, RFC 9750 "Invalid Commits").
async fn join_material(
    state: &AppState,
    client_id: &str,
    group: &str,
) -> Result<GroupRecord, DsError> {
    let group_id = parse_group_id(group)?;
    let record = state
        .store
        .group(&group_id)
        .await?
        .ok_or_else(no_such_group)?;
    if !record.allow_external_join && !record.members.iter().any(|m| m == client_id) {
        return Err(no_such_group());
    }
    Ok(record)
}

/// `GET /v1/groups/{id}/group-info`: the latest GroupInfo (RFC 9420 §12.4.3).
pub(crate) async fn group_info(
    State(state): St,
    AuthenticatedClient(client_id): AuthenticatedClient,
    Path(group): Path<String>,
) -> AppResult {
    let record = join_material(&state, &client_id, &group).await?;
    let info = record.group_info.ok_or_else(no_group_info)?;
    Ok(mls_response(StatusCode::OK, info))
}

/// A group has a GroupInfo at the DS only once a commit was accepted.
fn no_group_info() -> DsError {
    DsError::NotFound("no GroupInfo yet (no commit so far)".into())
}

/// `GET /v1/groups/{id}/external-join`: the latest GroupInfo with the SelfRemove proposals
/// of its epoch that verify against it, at most one per member, and the ratchet tree if the
/// committer supplied it (draft-ietf-mls-extensions-10 §6.3: the DS SHOULD attach the
/// SelfRemoves it knows to the GroupInfo; the joiner MUST include them).
pub(crate) async fn external_join(
    State(state): St,
    AuthenticatedClient(client_id): AuthenticatedClient,
    Path(group): Path<String>,
) -> AppResult {
    let record = join_material(&state, &client_id, &group).await?;
    let group_info = decode_message(record.group_info.as_deref().ok_or_else(no_group_info)?)?;
    let self_removes = match EpochView::of(&record) {
        Some(view) => {
            let proposals = state
                .store
                .epoch_proposals(&record.group_id, record.epoch, state.config.max_page)
                .await?;
            let data: Vec<Vec<u8>> = proposals.into_iter().map(|e| e.data).collect();
            pending_self_removes(state.crypto.as_ref(), &view, &data)
        }
        None => Vec::new(),
    };
    let bundle = wire::ExternalJoinBundle {
        group_info,
        self_removes,
        ratchet_tree: record.ratchet_tree,
    };
    let bytes = bundle
        .to_bytes()
        .map_err(|e| DsError::Internal(format!("encoding the external-join bundle: {e}")))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, wire::EXTERNAL_JOIN_MEDIA_TYPE)],
        bytes,
    )
        .into_response())
}

/// `GET /v1/groups/{id}/ratchet-tree`: the latest ratchet tree (RFC 9420 §12.4.3.3), as
/// [`wire::RATCHET_TREE_MEDIA_TYPE`]: in a verified group the DS's own, rebuilt from the
/// handshakes — what joiners of a group whose GroupInfos say `distributionService`
/// (draft-ietf-mls-ratchet-tree-options-00 §3) fetch and check against the tree hash — else
/// the one the committer supplied. For members (a client added by a commit is one as soon
/// as the DS accepted it, so the holder of its Welcome can fetch the tree), and for any
/// authenticated client when the group allows external joins; others get the uniform 404.
pub(crate) async fn ratchet_tree(
    State(state): St,
    AuthenticatedClient(client_id): AuthenticatedClient,
    Path(group): Path<String>,
) -> AppResult {
    let record = join_material(&state, &client_id, &group).await?;
    let tree = record
        .ratchet_tree
        .ok_or_else(|| DsError::NotFound("no ratchet tree was supplied for this epoch".into()))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, wire::RATCHET_TREE_MEDIA_TYPE)],
        tree,
    )
        .into_response())
}
