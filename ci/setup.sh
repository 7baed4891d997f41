#!/usr/bin/env bash
# Install what diskless and its tests need on a Debian/Ubuntu machine: a Rust toolchain
# (rustup, when cargo is missing or too old) and the system tools the tests compare against
# or boot with. Idempotent; uses sudo when not root.
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

PKGS=(
  ca-certificates curl gcc pkg-config openssl file
  rpm createrepo-c cpio pigz libarchive-tools    # real RPMs, repodata, archive readers
  python3-dnf dnf                                  # the dnf oracle (repoquery, resolution)
  libsolv-tools                                    # testsolv: libsolv's answers for random installed systems
  qemu-system-x86 ovmf                             # real PXE boots (BIOS and UEFI)
  linux-image-amd64 busybox-static pxelinux syslinux-common grub-efi-amd64-bin shim-signed
  grub-efi-amd64-signed                            # vendor GRUB images whose embedded prefix emit reads
  isc-dhcp-server xinetd tftpd-hpa dnsmasq kea-dhcp4-server iproute2   # generated configs, real daemons
  skopeo umoci docker-registry                      # OCI layout readers and a local registry
  faketime disorderfs                              # reproducibility harness
  libc-bin systemd libcap2-bin qemu-user           # ldconfig, systemctl, getcap/setcap oracles; the aarch64 boot step
  squashfs-tools                                   # unsquashfs: the squashfs root oracle
)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi

# GitHub's workflow schema checker (the tests validate ci/ and .github/ against it; offline).
if ! command -v check-jsonschema >/dev/null 2>&1; then
  python3 -m pip install -q check-jsonschema 2>/dev/null || pip install -q check-jsonschema
fi

# The SBOM formats' own validators (tests/it/sbom.rs): SPDX's pyspdxtools and CycloneDX's
# JSON schema validator. Pinned: a validator update must not change a test's verdict unseen.
SBOM_TOOLS=("spdx-tools==0.8.5" "cyclonedx-python-lib[json-validation]==11.12.0")
if ! command -v pyspdxtools >/dev/null 2>&1 \
  || ! python3 -c "import cyclonedx.validation.json, jsonschema" 2>/dev/null; then
  python3 -m pip install -q "${SBOM_TOOLS[@]}" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "${SBOM_TOOLS[@]}"
fi
