//! What is deployed and how the sources are laid out, read as files: the
//! templates (rules, alarms, the dashboard, parameters), the role against the IAM
//! reference's per-action table, and the module graph.

mod dashboard;
mod iam;
mod modules;
mod template;
