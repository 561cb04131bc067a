//! Fixed binary payloads: a 2×2 RGB PNG and a short 8 kHz mono 16-bit WAV, generated for
//! this fixture (base64).

pub const PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAE0lEQVR42mNgYPjPcIKBAYz/AwAW8gOPeI/vJQAAAABJRU5ErkJggg==";

pub const WAV_BASE64: &str =
    "UklGRjQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YRAAAAAAACADIAMAAAAA4Pzg/AAA";
