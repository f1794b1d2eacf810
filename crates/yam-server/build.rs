include!("../../build-support/windows_resource.rs");

fn main() {
    windows_resource("YAM server: session-managed web server");
}
