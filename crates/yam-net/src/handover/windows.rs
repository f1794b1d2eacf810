//! Windows: `WSADuplicateSocketW` for the child's pid; the protocol information goes to the
//! child over its standard input (a pipe), one line per socket: `<name> <hex>`. Compiled for
//! `x86_64-pc-windows-gnu` here and run under Wine by the Windows tests.
#![allow(unsafe_code)]

use std::io::{self, Read};
use std::net::TcpListener;
use std::os::windows::io::{AsRawSocket, FromRawSocket};

use windows_sys::Win32::Networking::WinSock::{
    FROM_PROTOCOL_INFO, INVALID_SOCKET, SO_EXCLUSIVEADDRUSE, SOCKET, SOL_SOCKET,
    WSA_FLAG_NO_HANDLE_INHERIT, WSA_FLAG_OVERLAPPED, WSADuplicateSocketW, WSAGetLastError,
    WSAPROTOCOL_INFOW, WSASocketW, setsockopt,
};

use super::{NAMES, Sockets};

/// Tells the child to read its sockets from standard input.
pub const ENV: (&str, &str) = ("YAM_LISTEN_SOCKETS", "stdin");
/// More than the two lines could ever take.
const MAX_MESSAGE: u64 = 16 * 1024;

fn last_error(what: &str) -> io::Error {
    // SAFETY: reads this thread's last Winsock error.
    let code = unsafe { WSAGetLastError() };
    let e = io::Error::from_raw_os_error(code);
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

pub(super) fn exclusive_address_use(socket: &socket2::Socket) -> io::Result<()> {
    let on: i32 = 1;
    // SAFETY: setsockopt reads `size_of::<i32>()` bytes from `on`.
    let r = unsafe {
        setsockopt(
            socket.as_raw_socket() as SOCKET,
            SOL_SOCKET,
            SO_EXCLUSIVEADDRUSE,
            (&raw const on).cast(),
            size_of::<i32>() as i32,
        )
    };
    if r != 0 {
        return Err(last_error("SO_EXCLUSIVEADDRUSE"));
    }
    Ok(())
}

/// Supervisor side: the message for process `pid` that lets it open `public` and `control`.
pub fn message_for(pid: u32, public: &TcpListener, control: &TcpListener) -> io::Result<String> {
    let mut out = String::new();
    for (name, socket) in NAMES.iter().zip([public, control]) {
        // SAFETY: WSAPROTOCOL_INFOW is plain data; all-zero is a valid value to fill in.
        let mut info: WSAPROTOCOL_INFOW = unsafe { std::mem::zeroed() };
        // SAFETY: duplicates a socket this process owns for `pid`, filling `info`.
        let r = unsafe { WSADuplicateSocketW(socket.as_raw_socket() as SOCKET, pid, &mut info) };
        if r != 0 {
            return Err(last_error("WSADuplicateSocketW"));
        }
        // SAFETY: viewing a plain-data struct as its bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                (&raw const info).cast::<u8>(),
                size_of::<WSAPROTOCOL_INFOW>(),
            )
        };
        out.push_str(name);
        out.push(' ');
        out.push_str(&hex::encode(bytes));
        out.push('\n');
    }
    Ok(out)
}

pub(super) fn inherited() -> io::Result<Option<Sockets>> {
    if std::env::var(ENV.0).as_deref() != Ok(ENV.1) {
        return Ok(None);
    }
    // SAFETY: called at the start of `main`, before any other thread exists.
    unsafe { std::env::remove_var(ENV.0) };
    let mut text = String::new();
    io::stdin()
        .take(MAX_MESSAGE)
        .read_to_string(&mut text)
        .map_err(|e| io::Error::new(e.kind(), format!("reading the handed sockets: {e}")))?;
    // Winsock must be started before WSASocketW; binding any socket does that.
    drop(std::net::UdpSocket::bind("127.0.0.1:0"));
    let mut found: [Option<TcpListener>; 2] = [None, None];
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (name, hex_info) = line.split_once(' ').unwrap_or((line, ""));
        let Some(i) = NAMES.iter().position(|n| *n == name) else {
            return Err(bad(&format!("unknown socket {name:?}")));
        };
        found[i] = Some(rebuild(hex_info.trim())?);
    }
    match found {
        [Some(public), Some(control)] => Ok(Some(Sockets { public, control })),
        _ => Err(bad("expected the public and the control socket")),
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("handed sockets: {what}"),
    )
}

fn rebuild(hex_info: &str) -> io::Result<TcpListener> {
    let bytes = hex::decode(hex_info).map_err(|_| bad("not hexadecimal"))?;
    if bytes.len() != size_of::<WSAPROTOCOL_INFOW>() {
        return Err(bad("wrong length"));
    }
    // SAFETY: WSAPROTOCOL_INFOW is plain data of exactly this many bytes; read unaligned.
    let info: WSAPROTOCOL_INFOW =
        unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<WSAPROTOCOL_INFOW>()) };
    // SAFETY: creates a socket from the duplicated protocol information.
    let socket = unsafe {
        WSASocketW(
            FROM_PROTOCOL_INFO,
            FROM_PROTOCOL_INFO,
            FROM_PROTOCOL_INFO,
            &info,
            0,
            WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT,
        )
    };
    if socket == INVALID_SOCKET {
        return Err(last_error("WSASocketW(FROM_PROTOCOL_INFO)"));
    }
    // SAFETY: a fresh socket this process owns; the listener takes it over.
    Ok(unsafe { TcpListener::from_raw_socket(socket as _) })
}
