#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mcp_fuzz::empresa_search(data));
