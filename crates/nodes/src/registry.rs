//! The registry of node types: one explicit list, duplicates refused. It is also the catalogue
//! that document validation asks about types, ports and params.

use std::collections::BTreeMap;
use std::sync::Arc;

use flowgate_model::validate::{Catalog, PortSet};
use flowgate_model::{NodeSpec, Problem};
use serde_json::Value;

use crate::{core, Node, Typed};

#[derive(Clone, Default)]
pub struct Registry {
    nodes: BTreeMap<&'static str, Arc<dyn Node>>,
}

impl Registry {
    /// Every built-in node type.
    pub fn builtin() -> Self {
        let mut r = Self::default();
        r.add(Typed::new(core::triggers::Webhook));
        r.add(Typed::new(core::triggers::Manual));
        r.add(Typed::new(core::jsonpath::JsonPathNode));
        r.add(Typed::new(core::transform::Transform));
        r.add(Typed::new(core::stop::Stop));
        r.add(Typed::new(core::stop::Fail));
        r.add(Typed::new(core::looping::Loop));
        r.add(Typed::new(crate::spot::ElastigroupAws));
        r.add(Typed::new(crate::slack::send::SendMessage));
        r.add(Typed::new(crate::slack::approval::Approval));
        r.add(Typed::new(core::if_node::If));
        r.add(Typed::new(core::wait::Wait));
        r.add(Typed::new(core::string::StringNode));
        r.add(Typed::new(core::schedule::Schedule));
        r.add(Typed::new(crate::http::HttpRequest::default()));
        r
    }

    /// Adds a node type; panics on a duplicate type name (a programming error).
    pub fn add(&mut self, node: impl Node) {
        let name = node.descriptor().node_type;
        assert!(
            self.nodes.insert(name, Arc::new(node)).is_none(),
            "node type {name} registered twice"
        );
    }

    pub fn get(&self, node_type: &str) -> Option<&Arc<dyn Node>> {
        self.nodes.get(node_type)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Node>> {
        self.nodes.values()
    }
}

impl Catalog for Registry {
    fn ports(&self, node: &NodeSpec) -> Option<PortSet> {
        self.get(&node.node_type)
            .map(|n| n.ports(&Value::Object(node.params.clone())))
    }

    fn validate_params(&self, node: &NodeSpec, path: &str) -> Vec<Problem> {
        self.get(&node.node_type)
            .map(|n| n.validate(&Value::Object(node.params.clone()), path))
            .unwrap_or_default()
    }

    fn template_locals(&self, node: &NodeSpec) -> Vec<String> {
        let Some(param) = self.get(&node.node_type).and_then(|n| n.locals_param()) else {
            return Vec::new();
        };
        node.params
            .get(param)
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn body(&self, node: &NodeSpec) -> Vec<String> {
        self.get(&node.node_type)
            .map(|n| n.body(&node.params))
            .unwrap_or_default()
    }
}
