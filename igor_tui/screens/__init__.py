"""The TUI's screens: dashboard, submit form, speculation list, reservation and node details, help."""
