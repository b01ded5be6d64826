"""GRUB netboot files for UEFI nodes: the image a site serves, per-node config names and config text.

Which image, and why. UEFI firmware cannot run pxelinux.0, so UEFI nodes netboot a GRUB EFI image. Debian
ships a prebuilt one (grubnetx64.efi), but it only ever reads `grub/grub.cfg`: per-node boot would need a
dispatch grub.cfg of igor's (`source $prefix/nodes/$net_default_mac`), taking over the file that is the
site's own fallback. An image made with `grub-mkimage ... -p /grub` instead looks up, in this order,
`grub/grub.cfg-01-<mac>`, `grub/grub.cfg-<HEXIP>` (then shorter hex prefixes) and finally
`grub/grub.cfg` -- exactly PXELINUX's scheme (../shared/notes/netboot-uefi.md measured it). So igor uses
that image: per-node files work like pxelinux.cfg's, the site's `grub/grub.cfg` stays the site's default
that a node falls back to when igor removes its file, the image is 580 KB instead of 3.7 MB, builds in
0.02 s from Debian's grub-efi-amd64-bin and needs no modules on the TFTP server. It is not signed, so
Secure Boot nodes would need shim and Debian's signed image instead (not supported here).
"""

from __future__ import annotations

import os
import re

from ..errors import BackendError

GRUB_IMAGE = "grubx64.efi"  # in the TFTP root: what DHCP hands UEFI clients (arch 7 or 9)
GRUB_DIR = "grub"  # the image's prefix (-p /grub): where it looks for grub.cfg-<node>
GRUB_MODULE_DIR = "/usr/lib/grub/x86_64-efi"  # Debian package grub-efi-amd64-bin
# Network, TFTP, the config language, the Linux loader, gzip'd initrds; efi_gop gives the kernel a
# framebuffer ("no suitable video mode found" otherwise). `test` serves sites whose grub.cfg uses [ ].
GRUB_MODULES = ("efinet", "tftp", "normal", "linux", "echo", "test", "configfile", "gzio", "efi_gop")
# What a site's DHCP server must do for UEFI nodes; setup and doctor print it, the README shows dnsmasq.
DHCP_HINT = (
    f"DHCP must hand UEFI clients (option 93 client-arch 7 or 9) the boot file {GRUB_IMAGE} and BIOS "
    "clients (arch 0) pxelinux.0; see the README's netboot section for a dnsmasq example"
)
# The only names igor creates or removes in grub/ (never grub.cfg itself, never a path).
OWNED_NAME = re.compile(r"grub\.cfg-(?:01-[0-9a-f]{2}(?:-[0-9a-f]{2}){5}|[0-9A-F]{8})")


def kernel_words(args: str) -> list[str]:
    """The kernel arguments as the kernel will see them, one word each, ready for GRUB to pass on.

    GRUB re-joins the words of its `linux` line itself: a word holding a space is wrapped in double
    quotes, and `"`, `'` and `\\` are prefixed with a backslash that the kernel never removes. So words
    are split here the way the kernel splits them (double quotes group, and are dropped), and the
    characters GRUB would mangle are refused instead of booting something the user did not write.
    `"spaced=a b c"` then reaches /proc/cmdline exactly as written; `k="a b"` arrives as `"k=a b"`,
    which the kernel parses to the same parameter.
    """
    for bad, name in (("'", "single quote"), ("\\", "backslash")):
        if bad in args:
            raise ValueError(
                f"a {name} ({bad}) cannot be passed through GRUB unchanged (GRUB adds a backslash the "
                "kernel keeps), so UEFI nodes cannot boot these arguments"
            )
    if not args.isprintable():
        raise ValueError("a control character (e.g. a line break) would end GRUB's linux line")
    words: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in args:
        if ch == '"':
            quoted = not quoted
        elif ch.isspace() and not quoted:
            words.append("".join(current))
            current = []
        else:
            current.append(ch)
    if quoted:
        raise ValueError('a double quote (") is not closed')
    words.append("".join(current))
    return [word for word in words if word]


def quote(word: str) -> str:
    """One GRUB script word that means exactly `word`: single quotes keep `$`, `;`, `"`, `#`, `{` and
    spaces literal, and a single quote cannot occur inside them, so it is refused (never escaped)."""
    if "'" in word or not word.isprintable():
        raise ValueError(f"{word!r} cannot be quoted for GRUB")
    return f"'{word}'"


def render(label: str, key: str, kernel: str, initrd: str, args: str) -> str:
    """The per-node grub.cfg text: boot the kernel at once with the reservation's initrd and args.

    `kernel`/`initrd` are paths inside the TFTP root ("/igor/content/<hash>"); the image set the TFTP
    server as GRUB's root, so "/…" is fetched over TFTP. `boot` is needed because there is no menu.
    Raises ValueError for arguments GRUB cannot carry unchanged (see kernel_words).
    """
    linux = " ".join(quote(w) for w in (kernel, *kernel_words(args)))
    lines = [
        f"# written by igor for reservation {label} ({key}); removed when it ends",
        "set timeout=0",
        f"linux {linux}",
    ]
    if initrd:
        lines.append(f"initrd {quote(initrd)}")
    lines.append("boot")
    return "\n".join(lines) + "\n"


def mkimage_argv(output: str, module_dir: str = GRUB_MODULE_DIR) -> list[str]:
    """The grub-mkimage command that builds the per-node-lookup image (see the module docstring)."""
    return [
        "grub-mkimage", "-O", "x86_64-efi", "-d", module_dir, "-o", output, "-p", "/" + GRUB_DIR,
        *GRUB_MODULES,
    ]  # fmt: skip


def missing_tools(module_dir: str = GRUB_MODULE_DIR) -> str:
    """Why the image cannot be built here ("" when it can), naming the Debian package to install."""
    import shutil  # setup and doctor only: an install's tick renders text and never builds the image

    if shutil.which("grub-mkimage") is None:
        return "grub-mkimage not found (apt-get install grub-common grub-efi-amd64-bin)"
    if not os.path.isfile(os.path.join(module_dir, "linux.mod")):
        return f"{module_dir} has no GRUB modules (apt-get install grub-efi-amd64-bin)"
    return ""


def build_image(module_dir: str = GRUB_MODULE_DIR) -> bytes:
    """The GRUB EFI image's bytes (the build is reproducible, so setup can compare it with the installed
    file). Raises BackendError naming the package or grub-mkimage's complaint."""
    missing = missing_tools(module_dir)
    if missing:
        raise BackendError(missing)
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="igor-grub-") as tmp:
        out = os.path.join(tmp, GRUB_IMAGE)
        proc = subprocess.run(
            mkimage_argv(out, module_dir), capture_output=True, text=True, timeout=60, check=False
        )
        if proc.returncode != 0 or not os.path.isfile(out):
            raise BackendError(f"grub-mkimage failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
        with open(out, "rb") as handle:
            return handle.read()
