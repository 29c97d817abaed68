//! Reinitialisation (RFC 9420 §11.2) and subgroup branching (§11.3): a new group linked to
//! its predecessor by a resumption PSK with usage `reinit` or `branch`.

use std::collections::HashSet;

use conclave_crypto::CryptoRandom;

use super::{
    CommitOptions, CommitOutput, Group, GroupError, GroupStatus, JoinOptions, KeyPackageBundle,
    LeafOptions, MemberParams, NewGroup, SigningIdentity,
};
use crate::messages::{
    Add, Extension, KeyPackage, PreSharedKey, PreSharedKeyId, Proposal, Psk, ResumptionPskUsage,
    Welcome,
};

/// The new group of a branch (RFC 9420 §11.3) or reinitialisation (§11.2) and the commit
/// that adds its members.
#[derive(Debug, Clone, Default)]
pub struct LinkedGroupOptions {
    /// KeyPackages of the members to add (for a ReInit: every other member, in the new
    /// suite).
    pub key_packages: Vec<KeyPackage>,
    /// Our leaf in the new group.
    pub leaf: LeafOptions,
    /// The commit that adds them: its proposals are added to the Adds and the PSK, its path
    /// and GroupInfo settings used.
    pub commit: CommitOptions,
}

impl Group {
    /// The identities of the current members, per the identity provider.
    fn member_identities(&self) -> Result<HashSet<Vec<u8>>, GroupError> {
        self.members()
            .map(|(_, leaf)| {
                self.env
                    .identity
                    .identity(&leaf.credential)
                    .map_err(GroupError::from)
            })
            .collect()
    }

    /// Creates `new`, a group linked to this one, as `member`, commits adding
    /// `options.key_packages` with the resumption PSK of our current epoch (plus
    /// `options.commit`: its proposals are added, its path and GroupInfo settings used), and
    /// merges that commit (the new group is at epoch 1, as RFC 9420 §11.2 and §11.3 require).
    fn start_linked_group(
        &self,
        usage: ResumptionPskUsage,
        member: MemberParams,
        new: NewGroup,
        options: &LinkedGroupOptions,
        now: u64,
        rng: &mut dyn CryptoRandom,
    ) -> Result<(Group, CommitOutput), GroupError> {
        let mut group = Group::create(member, new, now, rng)?;
        let psk_epoch = self.epoch();
        group.linked_psks.push((
            self.group_id().to_vec(),
            psk_epoch,
            self.epoch.secrets.resumption_psk.clone(),
        ));
        let mut psk_nonce = vec![0u8; group.cs.hash_len()];
        rng.fill(&mut psk_nonce)?;
        let mut proposals: Vec<Proposal> = options
            .key_packages
            .iter()
            .map(|kp| {
                Proposal::Add(Add {
                    key_package: kp.clone(),
                })
            })
            .collect();
        proposals.push(Proposal::PreSharedKey(PreSharedKey {
            psk: PreSharedKeyId {
                psk: Psk::Resumption {
                    usage,
                    psk_group_id: self.group_id().to_vec(),
                    psk_epoch,
                },
                psk_nonce,
            },
        }));
        proposals.extend(options.commit.proposals.iter().cloned());
        let commit = CommitOptions {
            proposals,
            ..options.commit.clone()
        };
        let output = group.commit(&commit, now, rng)?;
        group.merge_pending_commit()?;
        Ok((group, output))
    }

    /// Branches a subgroup (RFC 9420 §11.3): a new group `group_id` with the same version and
    /// suite and `extensions`, whose members are `options.key_packages` (each for a current
    /// member) and us, linked by a `branch` resumption PSK. Returns the new group and the
    /// commit whose Welcome goes to the subgroup members.
    pub fn branch(
        &self,
        group_id: Vec<u8>,
        extensions: Vec<Extension>,
        options: &LinkedGroupOptions,
        now: u64,
        rng: &mut dyn CryptoRandom,
    ) -> Result<(Group, CommitOutput), GroupError> {
        self.ensure_active()?;
        let members = self.member_identities()?;
        for kp in &options.key_packages {
            if !members.contains(&self.env.identity.identity(&kp.leaf_node.credential)?) {
                return Err(GroupError::Resumption(
                    "a branch may only include members of the original group",
                ));
            }
        }
        let member = MemberParams {
            env: self.env.clone(),
            signer: (*self.signer).clone(),
            config: (*self.config).clone(),
            leaf: options.leaf.clone(),
            components: self.components.clone(),
        };
        let new = NewGroup {
            cipher_suite: self.cipher_suite(),
            group_id,
            extensions,
            app_data: Default::default(),
            required_wire_formats: None,
        };
        self.start_linked_group(ResumptionPskUsage::Branch, member, new, options, now, rng)
    }

    /// Creates the group that a committed ReInit asked for (RFC 9420 §11.2): the ReInit's
    /// group id, version, suite and extensions, with every other member's
    /// `options.key_packages` (in the new suite), linked by a `reinit` resumption PSK.
    /// `signer` is our identity for the new suite.
    pub fn reinit(
        &self,
        signer: SigningIdentity,
        options: &LinkedGroupOptions,
        now: u64,
        rng: &mut dyn CryptoRandom,
    ) -> Result<(Group, CommitOutput), GroupError> {
        let GroupStatus::ReInitialized(reinit) = &*self.status else {
            return Err(GroupError::Resumption(
                "no ReInit has been committed in this group",
            ));
        };
        let reinit = reinit.clone();
        let member = MemberParams {
            env: self.env.clone(),
            signer,
            config: (*self.config).clone(),
            leaf: options.leaf.clone(),
            components: self.components.clone(),
        };
        let new = NewGroup {
            cipher_suite: reinit.cipher_suite,
            group_id: reinit.group_id,
            extensions: reinit.extensions,
            app_data: Default::default(),
            required_wire_formats: None,
        };
        self.start_linked_group(ResumptionPskUsage::Reinit, member, new, options, now, rng)
    }

    /// Joins the group created by [`Group::reinit`] from its Welcome (RFC 9420 §11.2,
    /// §12.4.3.1) as `member` (its signer for the new suite): checks that it matches our
    /// committed ReInit and keeps every member.
    pub fn join_reinit(
        &self,
        member: MemberParams,
        welcome: &Welcome,
        key_package: &KeyPackageBundle,
        options: &JoinOptions,
        now: u64,
    ) -> Result<Group, GroupError> {
        let GroupStatus::ReInitialized(reinit) = &*self.status else {
            return Err(GroupError::Resumption(
                "no ReInit has been committed in this group",
            ));
        };
        let group = self.join_linked(
            ResumptionPskUsage::Reinit,
            member,
            welcome,
            key_package,
            options,
            now,
        )?;
        let context = group.context();
        if context.group_id != reinit.group_id
            || context.version != reinit.version
            || context.cipher_suite != reinit.cipher_suite
            || context.extensions != reinit.extensions
        {
            return Err(GroupError::Resumption(
                "the new group does not match the ReInit proposal",
            ));
        }
        let new_members = group.member_identities()?;
        if !self.member_identities()?.is_subset(&new_members) {
            return Err(GroupError::Resumption(
                "a reinitialised group must keep every member of the old group",
            ));
        }
        Ok(group)
    }

    /// Joins a subgroup branched from this group (RFC 9420 §11.3, §12.4.3.1): same version and
    /// suite, and every member of the subgroup a member of this group.
    pub fn join_branch(
        &self,
        member: MemberParams,
        welcome: &Welcome,
        key_package: &KeyPackageBundle,
        options: &JoinOptions,
        now: u64,
    ) -> Result<Group, GroupError> {
        let group = self.join_linked(
            ResumptionPskUsage::Branch,
            member,
            welcome,
            key_package,
            options,
            now,
        )?;
        if group.context().version != self.context().version
            || group.cipher_suite() != self.cipher_suite()
        {
            return Err(GroupError::Resumption(
                "a branch must keep the version and cipher suite",
            ));
        }
        if !group
            .member_identities()?
            .is_subset(&self.member_identities()?)
        {
            return Err(GroupError::Resumption(
                "every member of a branch must be a member of the original group",
            ));
        }
        Ok(group)
    }

    /// Joins with our resumption PSK of the current epoch available to the Welcome, which
    /// must use it with `usage` (RFC 9420 §11.2, §11.3).
    fn join_linked(
        &self,
        usage: ResumptionPskUsage,
        member: MemberParams,
        welcome: &Welcome,
        key_package: &KeyPackageBundle,
        options: &JoinOptions,
        now: u64,
    ) -> Result<Group, GroupError> {
        let mut options = options.clone();
        options.resumption_psks.push((
            self.group_id().to_vec(),
            self.epoch(),
            self.epoch.secrets.resumption_psk.clone(),
        ));
        let (group, psks, _) = Group::join_with_psks(member, welcome, key_package, &options, now)?;
        let linked = psks.iter().any(|id| {
            matches!(&id.psk, Psk::Resumption { usage: u, psk_group_id, psk_epoch }
                if *u == usage && psk_group_id.as_slice() == self.group_id() && *psk_epoch == self.epoch())
        });
        if !linked {
            return Err(GroupError::Resumption(
                "the Welcome does not carry the expected resumption PSK of this group",
            ));
        }
        Ok(group)
    }
}
