//! Emit: the deployable artifacts from an assembled tree: the cpio newc initramfs,
//! the kernel, the pxelinux/GRUB tftp tree, boot-service configs, the OCI image,
//! SHA256SUMS and the build manifest.

pub mod compress;
pub mod cpio;
