include!("../../build-support/windows_resource.rs");

fn main() {
    windows_resource("yamctl: run and control a YAM server");
}
