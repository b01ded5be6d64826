"""The service: `IgorService`, the one facade the CLI, the TUI and igor-tick call, and its parts.

The names other modules import from `igor_tui.service` are re-exported here; the work lives in modules
named for what they do (booking, operations, reports, notify, importer, restore, tick_executor).
"""

from ..lazy import lazy_exports
from ..typenames import TYPE_CHECKING
from .facade import IgorService, build_service

if TYPE_CHECKING:
    from .booking import SPECULATION_OPTIONS, EditRequest, ExtendInfo, SubmitRequest
    from .checks import (
        HORIZON,
        HORIZON_MINUTES,
        KERNEL_ARGS_MAX,
        NAME_MAX,
        NAME_RE,
        PXE_CMDLINE_MAX,
        RESERVED_NAMES,
    )
    from .importer import ImportAction, ImportItem
    from .notify import MailResult, NotifyReport
    from .operations import BlockResult, PortDiff
    from .reports import HistoryEvent, InventoryHost

_LAZY = {
    "SPECULATION_OPTIONS": "booking",
    "EditRequest": "booking",
    "ExtendInfo": "booking",
    "SubmitRequest": "booking",
    "HORIZON": "checks",
    "HORIZON_MINUTES": "checks",
    "KERNEL_ARGS_MAX": "checks",
    "NAME_MAX": "checks",
    "NAME_RE": "checks",
    "PXE_CMDLINE_MAX": "checks",
    "RESERVED_NAMES": "checks",
    "ImportAction": "importer",
    "ImportItem": "importer",
    "MailResult": "notify",
    "NotifyReport": "notify",
    "BlockResult": "operations",
    "PortDiff": "operations",
    "HistoryEvent": "reports",
    "InventoryHost": "reports",
}
"""Names of the modules the facade imports only when used: imported on first access (PEP 562), so the
booking path (`igor sub`, `del`, `extend`) does not load them just to re-export them, nor `igor show`
booking's and checks' (~4 M instructions)."""


__getattr__ = lazy_exports(__name__, _LAZY)

__all__ = [
    "HORIZON",
    "HORIZON_MINUTES",
    "KERNEL_ARGS_MAX",
    "NAME_MAX",
    "NAME_RE",
    "PXE_CMDLINE_MAX",
    "RESERVED_NAMES",
    "SPECULATION_OPTIONS",
    "BlockResult",
    "EditRequest",
    "ExtendInfo",
    "HistoryEvent",
    "IgorService",
    "ImportAction",
    "ImportItem",
    "InventoryHost",
    "MailResult",
    "NotifyReport",
    "PortDiff",
    "SubmitRequest",
    "build_service",
]
