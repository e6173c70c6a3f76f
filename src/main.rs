fn main() {
    #[cfg(target_arch = "wasm32")]
    {
        console_error_panic_hook::set_once();
        // Mounted in a task of its own: the module's instantiation, which on a fresh browser
        // finishes compiling it, then ends its task before the page is built.
        leptos::prelude::set_timeout(|| leptos::mount::mount_to_body(furniture_dashboard::App), std::time::Duration::ZERO);
    }
}
