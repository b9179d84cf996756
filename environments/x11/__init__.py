"""X11 plumbing for the desktop environment: a private Xvfb, the connection, keyboard and typing.

Kept apart from `environments.desktop` (the adapter) so each piece stays small and testable; nothing
here imports mss or pyautogui at module level, so the CLI can build ``--help`` without a display.
"""
