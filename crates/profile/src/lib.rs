//! Kernel profiles: the facade through which the verifier learns everything about one kernel.
