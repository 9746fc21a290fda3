//! Fault injection for the tests of panic handling, in debug builds only: a release build has
//! no hook at all, and nothing a request sends can enable it. `MINIMOST_FAULT=<point>:<marker>`
//! in the server's environment makes `check(point, text)` panic when `text` contains `marker`.

/// Panics if the environment asks for a fault at `point` and `text` carries its marker.
#[cfg(debug_assertions)]
pub fn check(point: &str, text: &str) {
    let Ok(spec) = std::env::var("MINIMOST_FAULT") else {
        return;
    };
    if let Some((wanted, marker)) = spec.split_once(':') {
        if wanted == point && !marker.is_empty() && text.contains(marker) {
            panic!("injected fault at {point} (MINIMOST_FAULT)");
        }
    }
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn check(_point: &str, _text: &str) {}
