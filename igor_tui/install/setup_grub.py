"""`igor setup --uefi`: the TFTP-root files UEFI nodes need (kept apart so setup.py stays small)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import IgorError
from .deploy import Root

if TYPE_CHECKING:
    from .deploy import Step


def grub_steps(
    tftproot: str, root: Root, owned_dir: Callable[[str, str], Step], root_file: Callable[..., Step]
) -> list[Step]:
    """UEFI nodes: grub/ (igor-tick's per-node GRUB files) and the GRUB image DHCP hands them, built
    with grub-mkimage (see backends/grub.py for why this image and not Debian's grubnetx64.efi)."""
    from ..backends import grub

    gdir = owned_dir(os.path.join(tftproot, grub.GRUB_DIR), " (igor-tick writes per-node GRUB files here)")
    modules = next((d for d in (root(grub.GRUB_MODULE_DIR), grub.GRUB_MODULE_DIR) if os.path.isdir(d)), "")
    try:
        image, problem = grub.build_image(modules or grub.GRUB_MODULE_DIR), ""
    except IgorError as err:
        image, problem = b"", f"{err}; then run setup again"
    why = f" (grub-mkimage, for UEFI nodes; {grub.DHCP_HINT})"
    step = root_file(os.path.join(tftproot, grub.GRUB_IMAGE), image, 0o644, why)
    step.blocked = problem
    return [gdir, step]
