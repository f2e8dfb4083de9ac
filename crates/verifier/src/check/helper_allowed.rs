//! The `allowed` callbacks of helper prototypes, consulted by
//! `check_helper_call` before the arguments (`helper call is not allowed
//! in probe`, EINVAL). Their answers depend on the attach target; what
//! cannot be decided without the kernel's BTF id sets is `unsupported`.

use bpfcheck_profile::helpers::HelperProto;
use bpfcheck_uapi::{AttachType, Errno, ProgType};

use super::Checker;
use crate::error::{ErrorCode, Stop};

impl Checker<'_> {
    /// `fn->allowed(prog)`, for a prototype that has one.
    pub(super) fn helper_allowed(&self, proto: &HelperProto) -> Result<(), Stop> {
        let Some(callback) = proto.allowed else {
            return Ok(());
        };
        let req = self.req;
        // The BTF id sets these callbacks look an attach target up in
        // (sleepable LSM hooks, d_path's allowlist) never hold id 0.
        let no_target = req.attach_btf_id == 0 && req.attach_target.is_none();
        let allowed = match callback {
            "bpf_d_path_allowed" => {
                if req.prog_type == ProgType::TRACING
                    && req.expected_attach_type == AttachType::TRACE_ITER
                {
                    Some(true)
                } else if no_target {
                    Some(false)
                } else {
                    None
                }
            }
            "bpf_ima_inode_hash_allowed" if no_target => Some(false),
            // A load request never names a BPF program to attach to
            // (`dst_prog`), so only the attach type and the target's name
            // decide.
            "bpf_sk_storage_tracing_allowed" => match req.expected_attach_type {
                AttachType::TRACE_ITER | AttachType::TRACE_RAW_TP => Some(true),
                AttachType::TRACE_FENTRY | AttachType::TRACE_FEXIT => {
                    crate::prepare::attach::target(req, self.profile)
                        .map(|t| !t.name.starts_with("bpf_sk_storage"))
                }
                _ => Some(false),
            },
            "bpf_ima_inode_hash_allowed" if req.prog_type == ProgType::LSM => {
                // `bpf_lsm_is_sleepable_hook` of the attach target.
                match crate::prepare::attach::target(req, self.profile) {
                    Some(t) => crate::prepare::lsm::hook(self.profile, &t)?
                        .map(|h| h.sleepable)
                        .or(Some(false)),
                    None => None,
                }
            }
            _ => None,
        };
        match allowed {
            Some(true) => Ok(()),
            Some(false) => Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EINVAL,
                "helper call is not allowed in probe".to_owned(),
            )),
            None => Err(self.unsupported(&format!(
                "{callback} for this attach target (the kernel's BTF id sets)"
            ))),
        }
    }
}
