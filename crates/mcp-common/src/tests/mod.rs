//! The governing layer end to end, in process, through items only this crate sees (`Governed`,
//! `serve_streams`, the HTTP router): kept inside the crate so that they need not be public.

mod governed;
mod session_end;
mod sse_polling;
