//! Runtime control of the simulated air (issue 16): the daemon's side ([`serve`]: the
//! `sim_nodes`, `sim_move`, `sim_link` and `sim_ap` requests applied to the world) and the
//! CLI's ([`client`]: `vwifi-host sim ...` and `vwifi-host capture`).

pub(crate) mod client;
pub(crate) mod serve;
