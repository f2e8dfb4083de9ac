//! The BPF verifier as a pure function over a load request and a kernel profile.
