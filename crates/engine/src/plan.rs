//! What runs next, derived from the graph and the recorded steps (pure, no IO).
//!
//! An edge is taken when its source step finished (succeeded, or failed onto its `error` port) on
//! the edge's port. A node runs once every predecessor that can still be reached has settled and
//! at least one incoming edge was taken; when all its predecessors settled and none was taken, it
//! is skipped. Nodes without incoming edges (other than the trigger) are never reached.

use std::collections::{HashMap, HashSet};

use flowgate_model::WorkflowDocument;
use flowgate_store::{StepRow, StepStatus};

/// The state of one node as far as planning cares.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeState {
    pub status: StepStatus,
    pub port: Option<String>,
}

impl From<&StepRow> for NodeState {
    fn from(s: &StepRow) -> Self {
        Self { status: s.status, port: s.port.clone() }
    }
}

#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Nodes whose inputs are all settled and that were reached.
    pub ready: Vec<String>,
    /// Nodes that can no longer be reached.
    pub skipped: Vec<String>,
}

/// Plans over `nodes` (the graph's node ids in document order, loop bodies excluded), given the
/// recorded states and the nodes already in flight.
pub fn plan(doc: &WorkflowDocument, nodes: &[String], states: &HashMap<String, NodeState>, inflight: &HashSet<String>) -> Plan {
    let mut states: HashMap<&str, NodeState> = states.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let mut out = Plan::default();
    loop {
        let mut changed = false;
        for id in nodes {
            if states.contains_key(id.as_str()) || inflight.contains(id) || out.ready.contains(id) {
                continue;
            }
            let incoming: Vec<_> = doc.incoming(id).collect();
            if incoming.is_empty() {
                continue;
            }
            let mut all_settled = true;
            let mut taken = false;
            for edge in &incoming {
                match states.get(edge.from.as_str()) {
                    Some(s) if s.status.is_settled() => {
                        let finished = matches!(s.status, StepStatus::Succeeded | StepStatus::Failed);
                        if finished && s.port == edge.port {
                            taken = true;
                        }
                    }
                    _ => all_settled = false,
                }
            }
            if all_settled && !taken {
                states.insert(id.as_str(), NodeState { status: StepStatus::Skipped, port: None });
                out.skipped.push(id.clone());
                changed = true;
            } else if all_settled {
                out.ready.push(id.clone());
            }
        }
        if !changed {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowgate_model::{parse_document, DocumentFormat};

    fn doc() -> WorkflowDocument {
        let yaml = "name: n\ndescription: d\nnodes:\n- {id: t, type: trigger.manual}\n- {id: ap, type: slack.approval}\n- {id: yes, type: core.transform}\n- {id: no, type: core.stop}\n- {id: after, type: core.transform}\n- {id: join, type: core.transform}\nedges:\n- {from: t, to: ap}\n- {from: ap, port: approved, to: yes}\n- {from: ap, port: denied, to: no}\n- {from: yes, to: after}\n- {from: after, to: join}\n- {from: no, to: join}\n";
        parse_document(yaml.as_bytes(), DocumentFormat::Yaml).unwrap()
    }

    fn ids(d: &WorkflowDocument) -> Vec<String> {
        d.nodes.iter().map(|n| n.id.clone()).collect()
    }

    fn st(status: StepStatus, port: Option<&str>) -> NodeState {
        NodeState { status, port: port.map(String::from) }
    }

    #[test]
    fn a_taken_port_runs_its_branch_and_skips_the_other_transitively() {
        let d = doc();
        let mut s = HashMap::from([("t".to_string(), st(StepStatus::Succeeded, None))]);
        assert_eq!(plan(&d, &ids(&d), &s, &HashSet::new()).ready, vec!["ap"]);
        s.insert("ap".into(), st(StepStatus::Waiting, None));
        assert_eq!(plan(&d, &ids(&d), &s, &HashSet::new()), Plan::default());
        s.insert("ap".into(), st(StepStatus::Succeeded, Some("approved")));
        let p = plan(&d, &ids(&d), &s, &HashSet::new());
        assert_eq!(p.ready, vec!["yes"]);
        assert_eq!(p.skipped, vec!["no"]);
        s.insert("no".into(), st(StepStatus::Skipped, None));
        s.insert("yes".into(), st(StepStatus::Succeeded, None));
        s.insert("after".into(), st(StepStatus::Succeeded, None));
        // join waits for all reached predecessors, then runs once
        assert_eq!(plan(&d, &ids(&d), &s, &HashSet::new()).ready, vec!["join"]);
    }

    #[test]
    fn a_failed_step_without_error_edge_takes_nothing() {
        let d = doc();
        let s = HashMap::from([("t".to_string(), st(StepStatus::Succeeded, None)), ("ap".to_string(), st(StepStatus::Failed, None))]);
        let p = plan(&d, &ids(&d), &s, &HashSet::new());
        assert!(p.ready.is_empty());
        assert_eq!(p.skipped, vec!["yes", "no", "after", "join"]);
    }

    #[test]
    fn inflight_nodes_are_not_planned_twice() {
        let d = doc();
        let s = HashMap::from([("t".to_string(), st(StepStatus::Succeeded, None))]);
        let p = plan(&d, &ids(&d), &s, &HashSet::from(["ap".to_string()]));
        assert_eq!(p, Plan::default());
    }
}
