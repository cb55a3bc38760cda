#![no_main]
//! Any export handed to `archipelago-server verify`, checked and recounted: neither may
//! panic, whatever the signatures, choices or counts claim. Text starting with `{` is read as
//! the JSON file the CLI reads; anything else as postcard, whose compact form lets the fuzzer
//! reach deep into proposals and ballots without first learning JSON's syntax.

use archipelago_shared::governance::{Export, verify_export};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let export = if data.first() == Some(&b'{') {
        serde_json::from_slice::<Export>(data).ok()
    } else {
        postcard::from_bytes::<Export>(data).ok()
    };
    if let Some(export) = export {
        let _ = verify_export(&export);
    }
});
