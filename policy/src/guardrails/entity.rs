//! Entity types: the names findings carry and `pii_entities_config` keys. Presidio's
//! names where Presidio has one (LiteLLM passes them through), clear upper-case names
//! for the secret formats Presidio does not know.

use serde::{Deserialize, Serialize};

/// What a built-in detector finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Builtin {
    #[serde(rename = "CREDIT_CARD")]
    CreditCard,
    #[serde(rename = "EMAIL_ADDRESS")]
    EmailAddress,
    #[serde(rename = "PHONE_NUMBER")]
    PhoneNumber,
    #[serde(rename = "US_SSN")]
    UsSsn,
    #[serde(rename = "IBAN_CODE")]
    IbanCode,
    #[serde(rename = "IP_ADDRESS")]
    IpAddress,
    #[serde(rename = "AWS_ACCESS_KEY")]
    AwsAccessKey,
    #[serde(rename = "GITHUB_TOKEN")]
    GithubToken,
    #[serde(rename = "SLACK_TOKEN")]
    SlackToken,
    #[serde(rename = "OPENAI_API_KEY")]
    OpenaiApiKey,
    #[serde(rename = "ANTHROPIC_API_KEY")]
    AnthropicApiKey,
    #[serde(rename = "PRIVATE_KEY")]
    PrivateKey,
    #[serde(rename = "JWT")]
    Jwt,
}

impl Builtin {
    /// Every built-in entity, in the order detectors run and docs list them.
    pub const ALL: [Builtin; 13] = [
        Builtin::CreditCard,
        Builtin::EmailAddress,
        Builtin::PhoneNumber,
        Builtin::UsSsn,
        Builtin::IbanCode,
        Builtin::IpAddress,
        Builtin::AwsAccessKey,
        Builtin::GithubToken,
        Builtin::SlackToken,
        Builtin::OpenaiApiKey,
        Builtin::AnthropicApiKey,
        Builtin::PrivateKey,
        Builtin::Jwt,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Builtin::CreditCard => "CREDIT_CARD",
            Builtin::EmailAddress => "EMAIL_ADDRESS",
            Builtin::PhoneNumber => "PHONE_NUMBER",
            Builtin::UsSsn => "US_SSN",
            Builtin::IbanCode => "IBAN_CODE",
            Builtin::IpAddress => "IP_ADDRESS",
            Builtin::AwsAccessKey => "AWS_ACCESS_KEY",
            Builtin::GithubToken => "GITHUB_TOKEN",
            Builtin::SlackToken => "SLACK_TOKEN",
            Builtin::OpenaiApiKey => "OPENAI_API_KEY",
            Builtin::AnthropicApiKey => "ANTHROPIC_API_KEY",
            Builtin::PrivateKey => "PRIVATE_KEY",
            Builtin::Jwt => "JWT",
        }
    }

    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Bit of this entity in a [`BuiltinSet`].
    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of built-in entities (a bitmask: checking membership costs nothing in the
/// scan loop).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BuiltinSet(u16);

impl BuiltinSet {
    pub fn all() -> Self {
        Builtin::ALL.into_iter().collect()
    }
    pub fn contains(self, b: Builtin) -> bool {
        self.0 & b.bit() != 0
    }
    pub fn insert(&mut self, b: Builtin) {
        self.0 |= b.bit();
    }
    /// Every entity of either set.
    pub fn union(self, other: BuiltinSet) -> BuiltinSet {
        BuiltinSet(self.0 | other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<Builtin> for BuiltinSet {
    fn from_iter<I: IntoIterator<Item = Builtin>>(iter: I) -> Self {
        let mut set = BuiltinSet::default();
        for b in iter {
            set.insert(b);
        }
        set
    }
}

/// Presidio's predefined recognizer entities (presidio-analyzer 2.2): names a `presidio`
/// guardrail may use besides the built-in ones. A name outside both lists is still
/// accepted for `presidio` (custom recognizers exist) but reported at start.
pub const PRESIDIO_ENTITIES: &[&str] = &[
    "CREDIT_CARD",
    "CRYPTO",
    "DATE_TIME",
    "EMAIL_ADDRESS",
    "IBAN_CODE",
    "IP_ADDRESS",
    "NRP",
    "LOCATION",
    "PERSON",
    "PHONE_NUMBER",
    "MEDICAL_LICENSE",
    "URL",
    "US_BANK_NUMBER",
    "US_DRIVER_LICENSE",
    "US_ITIN",
    "US_PASSPORT",
    "US_SSN",
    "UK_NHS",
    "UK_NINO",
    "ES_NIF",
    "ES_NIE",
    "IT_FISCAL_CODE",
    "IT_DRIVER_LICENSE",
    "IT_VAT_CODE",
    "IT_PASSPORT",
    "IT_IDENTITY_CARD",
    "PL_PESEL",
    "SG_NRIC_FIN",
    "SG_UEN",
    "AU_ABN",
    "AU_ACN",
    "AU_TFN",
    "AU_MEDICARE",
    "IN_PAN",
    "IN_AADHAAR",
    "IN_VEHICLE_REGISTRATION",
    "IN_VOTER",
    "IN_PASSPORT",
    "FI_PERSONAL_IDENTITY_CODE",
    "KR_RRN",
    "TH_TNIN",
];

/// What a guardrail does with an entity it finds (`pii_entities_config` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    #[serde(rename = "BLOCK")]
    Block,
    #[serde(rename = "MASK")]
    Mask,
}

impl Action {
    /// LiteLLM spells them `BLOCK` / `MASK`; lower case is accepted too.
    pub fn parse(text: &str) -> Option<Action> {
        match text.to_ascii_uppercase().as_str() {
            "BLOCK" => Some(Action::Block),
            "MASK" => Some(Action::Mask),
            _ => None,
        }
    }
}

/// `A-Z`, `0-9`, `_`, starting with a letter: what an entity name may be (it is
/// written into masked text as `<NAME>`).
pub fn valid_entity_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'A'..=b'Z'))
        && name.len() <= 64
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sets_hold_each_entity() {
        let mut set = BuiltinSet::default();
        for b in Builtin::ALL {
            assert_eq!(Builtin::from_name(b.name()), Some(b));
            assert_eq!(
                serde_json::to_value(b).unwrap(),
                serde_json::json!(b.name())
            );
            assert!(!set.contains(b));
            set.insert(b);
            assert!(set.contains(b));
        }
        assert_eq!(set, BuiltinSet::all());
        assert_eq!(Builtin::from_name("CREDIT_KARD"), None);
        assert!(valid_entity_name("EMPLOYEE_ID2"));
        assert!(!valid_entity_name("employee"));
        assert!(!valid_entity_name("1D"));
        assert!(!valid_entity_name("A<B"));
        assert_eq!(Action::parse("mask"), Some(Action::Mask));
        assert_eq!(Action::parse("REDACT"), None);
    }
}
