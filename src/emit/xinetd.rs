//! The tftp service for the boot server: the recipe's `/etc/xinetd.d/tftp` block, and for
//! current (systemd) systems drop-ins for tftp-server's `tftp.socket`/`tftp.service` that
//! point in.tftpd at the same tree.

use super::settings::Layout;

pub fn xinetd(layout: &Layout, comment: &str) -> String {
    format!(
        "# {comment}\n\
         service tftp\n\
         {{\n\
         \tsocket_type\t\t= dgram\n\
         \tprotocol\t\t= udp\n\
         \twait\t\t\t= yes\n\
         \tuser\t\t\t= root\n\
         \tserver\t\t\t= {}\n\
         \tserver_args\t\t= -s {}\n\
         \tdisable\t\t\t= no\n\
         \tper_source\t\t= 11\n\
         \tcps\t\t\t= 100 2\n\
         \tflags\t\t\t= IPv4\n\
         }}\n",
        layout.tftpd, layout.tftp_root
    )
}

/// `tftp.service.d/diskless.conf`: serve the tree from the configured root.
pub fn systemd_service(layout: &Layout, comment: &str) -> String {
    format!(
        "# {comment}\n[Service]\nExecStart=\nExecStart={} -s {}\n",
        layout.tftpd, layout.tftp_root
    )
}

/// `tftp.socket.d/diskless.conf`: the standard tftp port, stated explicitly.
pub fn systemd_socket(comment: &str) -> String {
    format!("# {comment}\n[Socket]\nListenDatagram=\nListenDatagram=69\n")
}
