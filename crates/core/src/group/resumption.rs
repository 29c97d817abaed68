//! Reinitialisation (RFC 9420 §11.2) and subgroup branching (§11.3): a new group linked to
//! its predecessor by a resumption PSK with usage `reinit` or `branch`.

use std::collections::HashSet;

use conclave_crypto::CryptoRandom;

use super::{
    CommitOptions, CommitOutput, Group, GroupConfig, GroupError, GroupStatus, JoinOptions,
    KeyPackageBundle, LeafOptions, SigningIdentity,
};
use crate::messages::{
    Add, Extension, KeyPackage, PreSharedKey, PreSharedKeyId, Proposal, Psk, ResumptionPskUsage,
    Welcome,
};

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

    /// Creates a new group linked to this one, commits adding `key_packages` with the
    /// resumption PSK of our current epoch (plus `commit_options`: its proposals are added,
    /// its path and GroupInfo settings used), and merges that commit (the new group is at
    /// epoch 1, as RFC 9420 §11.2 and §11.3 require).
    #[allow(clippy::too_many_arguments)]
    fn start_linked_group(
        &self,
        usage: ResumptionPskUsage,
        suite: conclave_crypto::CipherSuite,
        group_id: Vec<u8>,
        extensions: Vec<Extension>,
        signer: SigningIdentity,
        key_packages: &[KeyPackage],
        leaf_options: &LeafOptions,
        commit_options: &CommitOptions,
        now: u64,
        rng: &mut dyn CryptoRandom,
    ) -> Result<(Group, CommitOutput), GroupError> {
        let mut group = Group::create(
            self.env.clone(),
            suite,
            group_id,
            signer,
            extensions,
            self.config.clone(),
            leaf_options,
            now,
            rng,
        )?;
        let psk_epoch = self.epoch();
        group.linked_psks.push((
            self.group_id().to_vec(),
            psk_epoch,
            self.epoch.secrets.resumption_psk.clone(),
        ));
        let mut psk_nonce = vec![0u8; group.cs.hash_len()];
        rng.fill(&mut psk_nonce)?;
        let mut proposals: Vec<Proposal> = key_packages
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
        proposals.extend(commit_options.proposals.iter().cloned());
        let options = CommitOptions {
            proposals,
            ..commit_options.clone()
        };
        let output = group.commit(&options, now, rng)?;
        group.merge_pending_commit()?;
        Ok((group, output))
    }

    /// Branches a subgroup (RFC 9420 §11.3): a new group with the same version and suite,
    /// whose members are `key_packages` (each for a current member) and us, linked by a
    /// `branch` resumption PSK. Returns the new group and the commit whose Welcome goes to
    /// the subgroup members.
    #[allow(clippy::too_many_arguments)]
    pub fn branch(
        &self,
        group_id: Vec<u8>,
        extensions: Vec<Extension>,
        key_packages: &[KeyPackage],
        leaf_options: &LeafOptions,
        commit_options: &CommitOptions,
        now: u64,
        rng: &mut dyn CryptoRandom,
    ) -> Result<(Group, CommitOutput), GroupError> {
        self.ensure_active()?;
        let members = self.member_identities()?;
        for kp in key_packages {
            if !members.contains(&self.env.identity.identity(&kp.leaf_node.credential)?) {
                return Err(GroupError::Resumption(
                    "a branch may only include members of the original group",
                ));
            }
        }
        self.start_linked_group(
            ResumptionPskUsage::Branch,
            self.cipher_suite(),
            group_id,
            extensions,
            self.signer.clone(),
            key_packages,
            leaf_options,
            commit_options,
            now,
            rng,
        )
    }

    /// Creates the group that a committed ReInit asked for (RFC 9420 §11.2): the ReInit's
    /// group id, version, suite and extensions, with every other member's `key_packages` (in
    /// the new suite), linked by a `reinit` resumption PSK. `signer` is our identity for the
    /// new suite.
    pub fn reinit(
        &self,
        signer: SigningIdentity,
        key_packages: &[KeyPackage],
        leaf_options: &LeafOptions,
        commit_options: &CommitOptions,
        now: u64,
        rng: &mut dyn CryptoRandom,
    ) -> Result<(Group, CommitOutput), GroupError> {
        let GroupStatus::ReInitialized(reinit) = &*self.status else {
            return Err(GroupError::Resumption(
                "no ReInit has been committed in this group",
            ));
        };
        let reinit = reinit.clone();
        self.start_linked_group(
            ResumptionPskUsage::Reinit,
            reinit.cipher_suite,
            reinit.group_id,
            reinit.extensions,
            signer,
            key_packages,
            leaf_options,
            commit_options,
            now,
            rng,
        )
    }

    /// Joins the group created by [`Group::reinit`] from its Welcome (RFC 9420 §11.2,
    /// §12.4.3.1): checks that it matches our committed ReInit and keeps every member.
    #[allow(clippy::too_many_arguments)]
    pub fn join_reinit(
        &self,
        welcome: &Welcome,
        key_package: &KeyPackageBundle,
        signer: SigningIdentity,
        config: GroupConfig,
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
            welcome,
            key_package,
            signer,
            config,
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
    #[allow(clippy::too_many_arguments)]
    pub fn join_branch(
        &self,
        welcome: &Welcome,
        key_package: &KeyPackageBundle,
        signer: SigningIdentity,
        config: GroupConfig,
        options: &JoinOptions,
        now: u64,
    ) -> Result<Group, GroupError> {
        let group = self.join_linked(
            ResumptionPskUsage::Branch,
            welcome,
            key_package,
            signer,
            config,
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
    #[allow(clippy::too_many_arguments)]
    fn join_linked(
        &self,
        usage: ResumptionPskUsage,
        welcome: &Welcome,
        key_package: &KeyPackageBundle,
        signer: SigningIdentity,
        config: GroupConfig,
        options: &JoinOptions,
        now: u64,
    ) -> Result<Group, GroupError> {
        let mut options = options.clone();
        options.resumption_psks.push((
            self.group_id().to_vec(),
            self.epoch(),
            self.epoch.secrets.resumption_psk.clone(),
        ));
        let (group, psks) = Group::join_with_psks(
            self.env.clone(),
            welcome,
            key_package,
            signer,
            config,
            &options,
            now,
        )?;
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
