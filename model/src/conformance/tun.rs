//! A network of one's own: a fresh network namespace for the calling thread, holding one TUN
//! device whose other end is this process. What our kernel routes to the peer's address comes
//! out of [`Tun::recv`] as raw IPv4; what [`Tun::send`] writes arrives at our kernel as if from
//! the wire.
//!
//! The namespace has no name and no file: `unshare(CLONE_NEWNET)` moves only the calling
//! thread into it, and the kernel deletes it once that thread and every socket made in it
//! are gone, however the test ends. Needs root and `/dev/net/tun`; [`Network::create`] says
//! why not where either is missing, so a caller can skip with that reason.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Command;
use std::time::{Duration, Instant};

/// Our kernel's address on the TUN device (RFC 2544's benchmark range, which exists only
/// inside the namespace).
pub const OURS: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// The scripted peer's address, routed to the TUN device.
pub const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// The device's name, the same in every namespace.
const DEVICE: &str = "lgtun0";

/// The sysctls set in the namespace, where the kernel has them; none changes what our
/// kernel does to the connection under test.
const SYSCTLS: [(&str, &str); 1] = [
    // No IPv6 router solicitations or DAD probes on the device: only the replay's traffic.
    ("net/ipv6/conf/all/disable_ipv6", "1"),
];

/// A namespace entered by the calling thread, with its TUN device up.
#[derive(Debug)]
pub struct Network {
    tun: Tun,
}

/// The TUN device's file: one IPv4 packet per read or write, behind a `virtio_net_hdr`
/// (`IFF_TUN | IFF_NO_PI | IFF_VNET_HDR`), with the offloads of a typical Ethernet device
/// (checksum, TSO), as packetdrill sets its own device up: our kernel hands it a run of
/// segments it sends together as one packet, the way packetdrill, a packet socket on a real
/// NIC, or tcpdump sees them, where a device without TSO would have them cut into segments
/// first. How the kernel's TCP builds and sends its segments is the same either way (it builds
/// runs of segments for software GSO too).
#[derive(Debug)]
pub struct Tun {
    file: File,
}

/// The `virtio_net_hdr` before each packet (`include/uapi/linux/virtio_net.h`): flags,
/// GSO type, header length, GSO size, checksum start and offset. All zero on what we write:
/// one whole packet, its checksums computed.
const VNET_HEADER: usize = 10;

impl Network {
    /// Moves the calling thread into a new network namespace and brings up the TUN device
    /// there, addressed [`OURS`], with [`PEER`] routed to it; or says why it cannot. Sockets
    /// the thread makes afterwards live in the namespace.
    pub fn create() -> Result<Network, String> {
        if !is_root() {
            return Err("needs root, for a network namespace and a TUN device".into());
        }
        if !std::path::Path::new("/dev/net/tun").exists() {
            return Err("/dev/net/tun does not exist (no TUN support)".into());
        }
        if Command::new("ip").arg("-V").output().is_err() {
            return Err("`ip` is not installed (Debian: iproute2)".into());
        }
        unshare_network().map_err(|error| format!("unshare(CLONE_NEWNET): {error}"))?;
        let tun = Tun::open(DEVICE).map_err(|error| format!("TUNSETIFF {DEVICE}: {error}"))?;
        let ours = format!("{OURS}/24");
        // `quickack 1`: our kernel acknowledges every segment at once, so an ACK the model
        // sends is on the TUN device when the step that sent it ends, not 40 ms later.
        let steps: [&[&str]; 4] = [
            &["ip", "link", "set", "lo", "up"],
            &["ip", "addr", "add", &ours, "dev", DEVICE],
            &["ip", "link", "set", DEVICE, "up"],
            &[
                "ip",
                "route",
                "replace",
                "198.18.0.0/24",
                "dev",
                DEVICE,
                "src",
                "198.18.0.1",
                "quickack",
                "1",
            ],
        ];
        for step in steps {
            run(step)?;
        }
        for (name, value) in SYSCTLS {
            let path = format!("/proc/sys/{name}");
            if std::path::Path::new(&path).exists() {
                std::fs::write(&path, value).map_err(|error| format!("sysctl {name}: {error}"))?;
            }
        }
        Ok(Network { tun })
    }

    /// The TUN device.
    pub fn tun(&mut self) -> &mut Tun {
        &mut self.tun
    }
}

impl Tun {
    /// Creates the TUN device `name` in the calling thread's namespace, non-blocking.
    #[allow(unsafe_code)]
    fn open(name: &str) -> io::Result<Tun> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")?;
        // struct ifreq: the name, then a union whose first member here is `short ifr_flags`.
        let mut request = [0u8; 40];
        request[..name.len()].copy_from_slice(name.as_bytes());
        let flags = (libc::IFF_TUN | libc::IFF_NO_PI | libc::IFF_VNET_HDR) as libc::c_short;
        request[16..18].copy_from_slice(&flags.to_ne_bytes());
        // SAFETY: `request` is a live, writable 40-byte `struct ifreq` (the kernel copies
        // exactly that size in and out); `file` is an open descriptor of /dev/net/tun.
        let result =
            unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, request.as_mut_ptr()) };
        if result == -1 {
            return Err(io::Error::last_os_error());
        }
        let offloads = libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_TSO_ECN;
        // SAFETY: TUNSETOFFLOAD takes its argument by value (an unsigned long of flags) on the
        // open TUN descriptor; no memory is passed.
        let result = unsafe {
            libc::ioctl(
                file.as_raw_fd(),
                libc::TUNSETOFFLOAD,
                libc::c_ulong::from(offloads),
            )
        };
        if result == -1 {
            return Err(io::Error::last_os_error());
        }
        let owned = OwnedFd::from(file);
        set_nonblocking(&owned)?;
        Ok(Tun {
            file: File::from(owned),
        })
    }

    /// Writes one IPv4 packet to our kernel.
    pub fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        let mut framed = vec![0u8; VNET_HEADER];
        framed.extend_from_slice(packet);
        self.file.write_all(&framed)
    }

    /// The next packet our kernel sent (a run of segments sent together is one), waiting at
    /// most `wait`; `None` if none came.
    pub fn recv(&mut self, wait: Duration) -> io::Result<Option<Vec<u8>>> {
        let deadline = Instant::now() + wait;
        let mut buf = vec![0u8; VNET_HEADER + 65536];
        loop {
            match self.file.read(&mut buf) {
                Ok(length) if length >= VNET_HEADER => {
                    buf.truncate(length);
                    buf.drain(..VNET_HEADER);
                    return Ok(Some(buf));
                }
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a TUN read shorter than its virtio_net_hdr",
                    ));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !wait_readable(&self.file, left) {
                return Ok(None);
            }
        }
    }
}

/// Moves the calling thread (only it) into a new, empty network namespace.
#[allow(unsafe_code)]
fn unshare_network() -> io::Result<()> {
    // SAFETY: unshare takes flags only; CLONE_NEWNET changes this thread's network namespace
    // and touches no memory of ours.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[allow(unsafe_code)]
fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: fcntl on an open descriptor with integer arguments only.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    // SAFETY: as above.
    if flags == -1
        || unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } == -1
    {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `poll(2)` for readability of any descriptor, at most `wait`.
#[allow(unsafe_code)]
fn wait_readable(fd: &impl AsRawFd, wait: Duration) -> bool {
    let millis = wait.as_millis().clamp(1, i32::MAX as u128) as i32;
    let mut pollfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one live, writable pollfd, count 1.
    unsafe { libc::poll(&mut pollfd, 1, millis) > 0 }
}

/// Whether this process runs as root.
#[allow(unsafe_code)]
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `command` (a program and its arguments, as `ip` needs them), or says how it failed.
pub fn run(command: &[&str]) -> Result<(), String> {
    let (program, args) = command.split_first().ok_or("empty command")?;
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|error| error.to_string())?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "`{}` failed: {}",
        command.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    ))
}
