//! What the crate keeps about each operation to build requests later.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Location {
    Path,
    Query,
    Header,
    Cookie,
}

impl Location {
    pub const ALL: [Location; 4] = [
        Location::Path,
        Location::Query,
        Location::Header,
        Location::Cookie,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Location::Path => "path",
            Location::Query => "query",
            Location::Header => "header",
            Location::Cookie => "cookie",
        }
    }

    pub fn parse(s: &str) -> Option<Location> {
        match s {
            "path" => Some(Location::Path),
            "query" => Some(Location::Query),
            "header" => Some(Location::Header),
            "cookie" => Some(Location::Cookie),
            _ => None,
        }
    }
}

/// Serialization style (OpenAPI 3 `style`, or Swagger 2 `collectionFormat` mapped onto it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Form,
    Simple,
    Label,
    Matrix,
    SpaceDelimited,
    PipeDelimited,
    /// Swagger 2 `tsv`.
    TabDelimited,
    DeepObject,
}

impl Style {
    pub fn parse(s: &str) -> Option<Style> {
        match s {
            "form" => Some(Style::Form),
            "simple" => Some(Style::Simple),
            "label" => Some(Style::Label),
            "matrix" => Some(Style::Matrix),
            "spaceDelimited" => Some(Style::SpaceDelimited),
            "pipeDelimited" => Some(Style::PipeDelimited),
            "deepObject" => Some(Style::DeepObject),
            _ => None,
        }
    }

    /// Swagger 2 `collectionFormat` → (style, explode). `csv` is the Swagger default.
    pub fn from_collection_format(cf: Option<&str>, loc: Location) -> (Style, bool) {
        let csv = if matches!(loc, Location::Path | Location::Header) {
            Style::Simple
        } else {
            Style::Form
        };
        match cf {
            Some("ssv") => (Style::SpaceDelimited, false),
            Some("tsv") => (Style::TabDelimited, false),
            Some("pipes") => (Style::PipeDelimited, false),
            Some("multi") => (Style::Form, true),
            _ => (csv, false),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub name: String,
    pub location: Location,
    pub required: bool,
    pub style: Style,
    pub explode: bool,
    pub allow_reserved: bool,
    /// Declared with `content` (a media type) instead of `schema`: the value is sent as JSON.
    pub json_content: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    Json,
    Form,
    Multipart,
    /// Raw text (text/*, XML, …): the argument is a string sent as-is.
    Text,
    /// Raw bytes (octet-stream, images, …): the argument is a base64 string.
    Binary,
}

/// How one property of a form or multipart body is encoded.
#[derive(Debug, Clone)]
pub(crate) struct FieldEncoding {
    pub style: Style,
    pub explode: bool,
    pub allow_reserved: bool,
    /// Multipart part content type from the `encoding` object.
    pub content_type: Option<String>,
    /// A file: the argument is base64, decoded before sending.
    pub binary: bool,
}

impl Default for FieldEncoding {
    fn default() -> Self {
        FieldEncoding {
            style: Style::Form,
            explode: true,
            allow_reserved: false,
            content_type: None,
            binary: false,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Body {
    /// The `content-type` header to send.
    pub content_type: String,
    pub kind: BodyKind,
    pub required: bool,
    pub fields: BTreeMap<String, FieldEncoding>,
}

#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub method: http::Method,
    /// The path template as written in the spec (without any `#fragment`).
    pub path: String,
    pub params: Vec<Param>,
    pub body: Option<Body>,
    /// `accept` header to send (JSON preferred), when the success response declares content.
    pub accept: Option<String>,
}
