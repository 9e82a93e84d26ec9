//! Firewall rulesets (spec 1.8.3 `/firewall-rulesets`): per-region sets of inbound
//! rules, attached to instances at launch (`InstanceLaunchRequest.firewall_rulesets`).

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::LambdaClient;
use crate::error::LambdaError;
use crate::types::Region;

/// Reference to a ruleset in a launch request (spec `FirewallRulesetEntry`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallRulesetEntry {
    pub id: String,
}

/// Spec `NetworkProtocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkProtocol {
    Tcp,
    Udp,
    Icmp,
    All,
}

/// One inbound rule (spec `FirewallRule`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallRule {
    pub protocol: NetworkProtocol,
    /// Inclusive `[min, max]`; absent for ICMP, required otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_range: Option<[u16; 2]>,
    /// IPv4 CIDR the traffic may come from (`/32` when no mask is given).
    pub source_network: String,
    /// At most 128 characters.
    pub description: String,
}

impl FirewallRule {
    /// TCP on `ports` (inclusive) from `source_network`.
    pub fn tcp(ports: [u16; 2], source_network: &str, description: &str) -> Self {
        FirewallRule {
            protocol: NetworkProtocol::Tcp,
            port_range: Some(ports),
            source_network: source_network.to_owned(),
            description: description.to_owned(),
        }
    }

    fn validate(&self, index: usize) -> Result<(), LambdaError> {
        let invalid = |why: String| {
            Err(LambdaError::InvalidRequest(format!(
                "rules[{index}]: {why}"
            )))
        };
        match (self.protocol, self.port_range) {
            (NetworkProtocol::Icmp, Some(_)) => {
                return invalid("port_range is not allowed for icmp".into())
            }
            (NetworkProtocol::Icmp, None) => {}
            (_, None) => return invalid("port_range is required for tcp, udp and all".into()),
            (_, Some([lo, hi])) if lo == 0 || lo > hi => {
                return invalid(format!(
                    "port_range [{lo}, {hi}] is not [min, max] within 1-65535"
                ))
            }
            _ => {}
        }
        let (address, mask) = self
            .source_network
            .split_once('/')
            .unwrap_or((&self.source_network, "32"));
        if address.parse::<std::net::Ipv4Addr>().is_err()
            || !mask.parse::<u8>().is_ok_and(|m| m <= 32)
        {
            return invalid(format!(
                "source_network {:?} is not an IPv4 CIDR",
                self.source_network
            ));
        }
        if self.description.chars().count() > 128 {
            return invalid("description is longer than 128 characters".into());
        }
        Ok(())
    }
}

fn validate_rules(rules: &[FirewallRule]) -> Result<(), LambdaError> {
    rules
        .iter()
        .enumerate()
        .try_for_each(|(i, r)| r.validate(i))
}

fn validate_name(name: &str) -> Result<(), LambdaError> {
    if name.trim().is_empty() || name.chars().count() > 64 {
        return Err(LambdaError::InvalidRequest(format!(
            "firewall ruleset name {name:?} must be 1-64 characters"
        )));
    }
    Ok(())
}

/// A ruleset as the API returns it (spec `FirewallRuleset`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallRuleset {
    pub id: String,
    pub name: String,
    pub region: Region,
    pub rules: Vec<FirewallRule>,
    /// Instances the ruleset is attached to; it cannot be deleted while any remain.
    #[serde(default)]
    pub instance_ids: Vec<String>,
}

/// Spec `FirewallRulesetCreateRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FirewallRulesetCreateRequest {
    pub name: String,
    pub region: String,
    pub rules: Vec<FirewallRule>,
}

/// Spec `FirewallRulesetPatchRequest`: what is given replaces what was there.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct FirewallRulesetPatchRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<FirewallRule>>,
}

fn to_body<T: Serialize>(value: &T) -> Result<serde_json::Value, LambdaError> {
    serde_json::to_value(value).map_err(|e| LambdaError::InvalidRequest(e.to_string()))
}

fn ruleset_id(id: &str) -> Result<&str, LambdaError> {
    let valid = !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if valid {
        Ok(id)
    } else {
        Err(LambdaError::InvalidRequest(format!(
            "firewall ruleset id {id:?} is not an API id"
        )))
    }
}

impl LambdaClient {
    /// `GET /firewall-rulesets`.
    pub async fn list_firewall_rulesets(&self) -> Result<Vec<FirewallRuleset>, LambdaError> {
        self.call(Method::GET, &["firewall-rulesets"], None).await
    }

    /// `GET /firewall-rulesets/{id}`.
    pub async fn get_firewall_ruleset(&self, id: &str) -> Result<FirewallRuleset, LambdaError> {
        self.call(Method::GET, &["firewall-rulesets", ruleset_id(id)?], None)
            .await
    }

    /// `POST /firewall-rulesets`. Not repeated on an ambiguous failure (it could create
    /// two): the caller gives a unique name and looks for it with
    /// [`LambdaClient::list_firewall_rulesets`].
    pub async fn create_firewall_ruleset(
        &self,
        request: &FirewallRulesetCreateRequest,
    ) -> Result<FirewallRuleset, LambdaError> {
        validate_name(&request.name)?;
        validate_rules(&request.rules)?;
        let body = to_body(request)?;
        self.call_once(Method::POST, &["firewall-rulesets"], Some(body))
            .await
    }

    /// `PATCH /firewall-rulesets/{id}`: replaces the name and/or the rules. Safe to repeat.
    pub async fn update_firewall_ruleset(
        &self,
        id: &str,
        request: &FirewallRulesetPatchRequest,
    ) -> Result<FirewallRuleset, LambdaError> {
        if let Some(name) = &request.name {
            validate_name(name)?;
        }
        if let Some(rules) = &request.rules {
            validate_rules(rules)?;
        }
        let body = to_body(request)?;
        self.call(
            Method::PATCH,
            &["firewall-rulesets", ruleset_id(id)?],
            Some(body),
        )
        .await
    }

    /// `DELETE /firewall-rulesets/{id}`. Fails with
    /// [`LambdaError::is_firewall_ruleset_in_use`] while instances still use it.
    pub async fn delete_firewall_ruleset(&self, id: &str) -> Result<(), LambdaError> {
        let _: serde_json::Value = self
            .call(
                Method::DELETE,
                &["firewall-rulesets", ruleset_id(id)?],
                None,
            )
            .await?;
        Ok(())
    }
}
