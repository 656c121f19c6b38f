//! The integration tests, linked into one binary: each module drives the real `catalog`
//! binary, the embedded server or `catalog serve` on a loopback port.

#![allow(dead_code)]

mod admission;
mod alerts;
mod assets;
mod audit;
mod bedrock;
mod cli_edges;
mod common;
mod concurrency;
mod configs;
mod contract;
mod declarative;
mod durability;
mod gateway;
mod governance;
mod hosted;
mod interactive;
mod journal;
mod keyring;
mod limit_extensions;
mod master_key;
mod migrate_vkeys;
mod models;
mod models_contract;
mod no_silent_changes;
mod openapi;
mod org_scenario;
mod org_story;
mod output;
mod policies;
mod profiles;
mod provisioning_contract;
mod readme;
mod registry;
mod replicas;
mod rotation;
mod scopes;
mod secrets;
mod server_edges;
mod servers;
mod services;
mod store;
mod upstream;
mod upstream_selftest;
mod usage;
