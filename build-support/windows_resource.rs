// Shared by the build scripts of yam-server and yamctl (`include!`d): Windows builds carry the
// app icon and version information (Explorer's Properties, the firewall prompt, Task Manager
// show them); elsewhere there is nothing to do. Paths are relative to the crate.

fn windows_resource(description: &str) {
    println!("cargo:rerun-if-changed=../../icons/icon.ico");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        return;
    }
    let mut resource = winresource::WindowsResource::new();
    resource
        .set_icon("../../icons/icon.ico")
        .set("FileDescription", description)
        .set("ProductName", "YAM Tray")
        .set("LegalCopyright", "MIT licence");
    if let Err(e) = resource.compile() {
        panic!("Windows resources (icon, version): {e}");
    }
}
