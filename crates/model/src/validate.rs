//! Whole-document validation (spec §3): every problem at once, each with its path.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use crate::document::{NodeSpec, WorkflowDocument};
use crate::duration::parse_duration;
use crate::problem::Problem;
use crate::template::Templates;

/// Ports a node offers: whether its default (portless) path exists, and its named ports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortSet {
    pub default: bool,
    pub named: Vec<String>,
    /// Whether an `error` edge may leave this node.
    pub error: bool,
}

/// What validation needs to know about node types; the node catalogue implements it.
pub trait Catalog {
    /// The ports of this node, or `None` when its type is unknown.
    fn ports(&self, node: &NodeSpec) -> Option<PortSet>;
    /// Problems with the node's params; `path` is the prefix to report them under.
    fn validate_params(&self, node: &NodeSpec, path: &str) -> Vec<Problem>;
    /// Bare names usable in this node's templates that are not step ids.
    fn template_locals(&self, node: &NodeSpec) -> Vec<String>;
    /// Nodes that run inside this node (a loop body), which see this node's upstream and `loop`.
    fn body(&self, node: &NodeSpec) -> Vec<String> {
        let _ = node;
        Vec::new()
    }
}

fn id_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^[a-z][a-z0-9_]{0,63}$").expect("valid regex"))
}

/// Validates a parsed document against the catalogue. Empty means valid.
pub fn validate(doc: &WorkflowDocument, catalog: &dyn Catalog, templates: &Templates) -> Vec<Problem> {
    let mut problems = Vec::new();
    check_name(&doc.name, &mut problems);
    if doc.description.trim().is_empty() {
        problems.push(Problem::new("description", "a description is required"));
    }
    if let Some(t) = &doc.timeout {
        if let Err(e) = parse_duration(t) {
            problems.push(Problem::new("timeout", e));
        }
    }

    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut ports: HashMap<&str, PortSet> = HashMap::new();
    for (i, node) in doc.nodes.iter().enumerate() {
        let path = format!("nodes[{i}]");
        if !id_re().is_match(&node.id) {
            problems.push(Problem::new(format!("{path}.id"), format!("`{}` is not a valid id: use a lowercase letter, then up to 63 lowercase letters, digits or underscores", node.id)));
        } else if node.id == "loop" {
            problems.push(Problem::new(format!("{path}.id"), "`loop` is reserved for the current loop item"));
        }
        if index.insert(node.id.as_str(), i).is_some() {
            problems.push(Problem::new(format!("{path}.id"), format!("the id `{}` is used by more than one node", node.id)));
        }
        match catalog.ports(node) {
            Some(p) => {
                ports.insert(node.id.as_str(), p);
                problems.extend(catalog.validate_params(node, &format!("{path}.params")));
            }
            None => problems.push(Problem::new(format!("{path}.type"), format!("unknown node type `{}`", node.node_type))),
        }
        if let Some(t) = &node.timeout {
            if let Err(e) = parse_duration(t) {
                problems.push(Problem::new(format!("{path}.timeout"), e));
            }
        }
        if let Some(r) = &node.retry {
            if r.max_attempts == 0 || r.max_attempts > 100 {
                problems.push(Problem::new(format!("{path}.retry.max_attempts"), "must be between 1 and 100"));
            }
            if let Some(Err(e)) = r.backoff.as_deref().map(parse_duration) {
                problems.push(Problem::new(format!("{path}.retry.backoff"), e));
            }
        }
    }

    let triggers: Vec<&NodeSpec> = doc.nodes.iter().filter(|n| n.is_trigger()).collect();
    match triggers.len() {
        0 => problems.push(Problem::new("nodes", "a workflow needs exactly one trigger node (a type starting with `trigger.`); it has none")),
        1 => {}
        n => problems.push(Problem::new("nodes", format!("a workflow needs exactly one trigger node; it has {n}"))),
    }

    let mut seen_edges = HashSet::new();
    for (i, edge) in doc.edges.iter().enumerate() {
        let path = format!("edges[{i}]");
        for (field, id) in [("from", &edge.from), ("to", &edge.to)] {
            if !index.contains_key(id.as_str()) {
                problems.push(Problem::new(format!("{path}.{field}"), format!("there is no node `{id}`")));
            }
        }
        if let Some(p) = ports.get(edge.from.as_str()) {
            match &edge.port {
                None if !p.default => problems.push(Problem::new(
                    format!("{path}.port"),
                    format!("node `{}` has no default path; choose one of its ports: {}", edge.from, p.named.join(", ")),
                )),
                Some(port) if port == "error" && !p.error => {
                    problems.push(Problem::new(format!("{path}.port"), format!("node `{}` has no `error` port", edge.from)))
                }
                Some(port) if port != "error" && !p.named.contains(port) => problems.push(Problem::new(
                    format!("{path}.port"),
                    format!("node `{}` has no port `{port}`; its ports are: {}", edge.from, list_ports(p)),
                )),
                _ => {}
            }
        }
        if doc.node(&edge.to).is_some_and(|n| n.is_trigger()) {
            problems.push(Problem::new(format!("{path}.to"), "no edge may lead into the trigger"));
        }
        if !seen_edges.insert((&edge.from, &edge.port, &edge.to)) {
            problems.push(Problem::new(path, "this edge is listed twice"));
        }
    }

    if let Some(cycle) = find_cycle(doc) {
        problems.push(Problem::new("edges", format!("the graph has a cycle: {}", cycle.join(" → "))));
    } else {
        check_references(doc, catalog, templates, &mut problems);
    }

    if let [trigger] = triggers.as_slice() {
        let reachable = descendants(doc, &trigger.id);
        if reachable.is_empty() {
            problems.push(Problem::new("edges", format!("no node is connected after the trigger `{}`", trigger.id)));
        }
    }
    problems
}

fn list_ports(p: &PortSet) -> String {
    let mut all: Vec<&str> = p.named.iter().map(String::as_str).collect();
    if p.default {
        all.insert(0, "(default)");
    }
    if p.error {
        all.push("error");
    }
    all.join(", ")
}

fn check_name(name: &str, problems: &mut Vec<Problem>) {
    let len = name.chars().count();
    if len == 0 || len > 128 || name.trim().is_empty() {
        problems.push(Problem::new("name", "a name has 1 to 128 characters"));
    }
    let lower = name.trim_start().to_lowercase();
    if let Some(prefix) = ["aws", "amazon", "amz"].into_iter().find(|p| lower.starts_with(p)) {
        problems.push(Problem::new("name", format!("a name may not start with `{prefix}` (in any letter case)")));
    }
}

/// All nodes reachable from `id` along edges (not including `id`).
pub fn descendants(doc: &WorkflowDocument, id: &str) -> BTreeSet<String> {
    walk(id, |n| doc.outgoing(n).map(|e| e.to.clone()).collect())
}

/// All nodes from which `id` is reachable (not including `id`).
pub fn ancestors(doc: &WorkflowDocument, id: &str) -> BTreeSet<String> {
    walk(id, |n| doc.incoming(n).map(|e| e.from.clone()).collect())
}

fn walk(start: &str, next: impl Fn(&str) -> Vec<String>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<String> = next(start).into();
    while let Some(n) = queue.pop_front() {
        if n != start && seen.insert(n.clone()) {
            queue.extend(next(&n));
        }
    }
    seen
}

fn find_cycle(doc: &WorkflowDocument) -> Option<Vec<String>> {
    // Iterative three-colour DFS; returns the cycle's node ids.
    let mut state: HashMap<&str, u8> = HashMap::new();
    for start in doc.nodes.iter().map(|n| n.id.as_str()) {
        if state.contains_key(start) {
            continue;
        }
        let mut stack: Vec<(&str, Vec<&str>)> = vec![(start, doc.outgoing(start).map(|e| e.to.as_str()).collect())];
        state.insert(start, 1);
        while let Some((node, children)) = stack.last_mut() {
            let node = *node;
            match children.pop() {
                Some(child) => match state.get(child) {
                    Some(1) => {
                        let pos = stack.iter().position(|(n, _)| *n == child).unwrap_or(0);
                        let mut cycle: Vec<String> = stack[pos..].iter().map(|(n, _)| n.to_string()).collect();
                        cycle.push(child.to_string());
                        return Some(cycle);
                    }
                    Some(_) => {}
                    None => {
                        state.insert(child, 1);
                        stack.push((child, doc.outgoing(child).map(|e| e.to.as_str()).collect()));
                    }
                },
                None => {
                    state.insert(node, 2);
                    stack.pop();
                }
            }
        }
    }
    None
}

fn check_references(doc: &WorkflowDocument, catalog: &dyn Catalog, templates: &Templates, problems: &mut Vec<Problem>) {
    // A loop body node sees what its loop sees, plus `loop`.
    let mut owner: HashMap<String, String> = HashMap::new();
    for node in &doc.nodes {
        for member in catalog.body(node) {
            owner.insert(member, node.id.clone());
        }
    }
    for (i, node) in doc.nodes.iter().enumerate() {
        let locals = catalog.template_locals(node);
        let params = Value::Object(node.params.clone());
        let roots = match templates.roots(&params, &locals) {
            Ok(r) => r,
            Err(e) => {
                problems.push(Problem::new(format!("nodes[{i}].params"), e.to_string()));
                continue;
            }
        };
        let mut visible = ancestors(doc, &node.id);
        let mut in_loop = false;
        let mut cursor = node.id.clone();
        while let Some(loop_id) = owner.get(&cursor) {
            in_loop = true;
            visible.extend(ancestors(doc, loop_id));
            cursor = loop_id.clone();
        }
        for root in roots {
            if root == "loop" && in_loop {
                continue;
            }
            let why = if root == "loop" {
                "`loop` is only available inside a loop body".to_string()
            } else if doc.node(&root).is_none() {
                format!("refers to `{root}`, which is not a step of this workflow")
            } else if !visible.contains(&root) {
                format!("refers to `{root}`, which is not upstream of `{}`", node.id)
            } else {
                continue;
            };
            problems.push(Problem::new(format!("nodes[{i}].params"), why));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse_document, DocumentFormat};

    struct TestCatalog;
    impl Catalog for TestCatalog {
        fn ports(&self, node: &NodeSpec) -> Option<PortSet> {
            match node.node_type.as_str() {
                "trigger.webhook" => Some(PortSet { default: true, named: vec![], error: false }),
                "core.transform" => Some(PortSet { default: true, named: vec![], error: true }),
                "slack.approval" => Some(PortSet { default: false, named: vec!["approved".into(), "denied".into()], error: true }),
                _ => None,
            }
        }
        fn validate_params(&self, _: &NodeSpec, _: &str) -> Vec<Problem> {
            Vec::new()
        }
        fn template_locals(&self, _: &NodeSpec) -> Vec<String> {
            Vec::new()
        }
    }

    fn check(yaml: &str) -> Vec<Problem> {
        let doc = parse_document(yaml.as_bytes(), DocumentFormat::Yaml).unwrap();
        validate(&doc, &TestCatalog, &Templates::new())
    }

    #[test]
    fn a_good_document_has_no_problems() {
        let p = check("name: ok\ndescription: d\nnodes:\n- {id: t, type: trigger.webhook}\n- {id: a, type: core.transform, params: {value: '{{ t.output.x }}'}}\nedges:\n- {from: t, to: a}\n");
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = check(concat!(
            "name: AWS things\ndescription: ' '\nnodes:\n",
            "- {id: t, type: trigger.webhook}\n- {id: t, type: nope}\n- {id: Bad, type: core.transform}\n",
            "- {id: a, type: core.transform, params: {value: '{{ b.output }} {{ ghost.x }}'}}\n",
            "- {id: b, type: core.transform}\n- {id: ap, type: slack.approval}\n",
            "edges:\n- {from: t, to: a}\n- {from: a, to: b}\n- {from: a, to: zz}\n- {from: ap, port: maybe, to: b}\n- {from: ap, to: b}\n"
        ));
        let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
        for expected in ["name", "description", "nodes[1].id", "nodes[1].type", "nodes[2].id", "edges[2].to", "edges[3].port", "edges[4].port", "nodes[3].params"] {
            assert!(paths.contains(&expected), "missing {expected} in {p:#?}");
        }
        assert!(p.iter().any(|p| p.message.contains("`b`, which is not upstream")), "{p:#?}");
        assert!(p.iter().any(|p| p.message.contains("`ghost`, which is not a step")), "{p:#?}");
    }

    #[test]
    fn cycles_and_missing_triggers_are_found() {
        let p = check("name: c\ndescription: d\nnodes:\n- {id: a, type: core.transform}\n- {id: b, type: core.transform}\nedges:\n- {from: a, to: b}\n- {from: b, to: a}\n");
        assert!(p.iter().any(|p| p.message.contains("cycle")), "{p:#?}");
        assert!(p.iter().any(|p| p.message.contains("exactly one trigger")), "{p:#?}");
    }

    #[test]
    fn names_with_reserved_prefixes_are_refused() {
        for name in ["aws-x", "Amazon budget", "AMZ", "amzing"] {
            let p = check(&format!("name: {name}\ndescription: d\nnodes:\n- {{id: t, type: trigger.webhook}}\n- {{id: a, type: core.transform}}\nedges:\n- {{from: t, to: a}}\n"));
            assert_eq!(p.len(), 1, "{name}: {p:?}");
        }
    }
}
