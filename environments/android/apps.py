"""Resolve the app name the model says (``open``) to a package and launcher activity on the device.

Sources, best first: the launcher labels the device reports (``cmd package query-activities``), a
table of well-known apps' package names, then words of installed package names. An ambiguous or
unknown name is the model's error: it is told the names it can use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.errors import ActionValidationError

KNOWN = {  # common labels → package names on stock Android / Pixel / AOSP images
    "settings": ["com.android.settings"], "chrome": ["com.android.chrome"],
    "camera": ["com.android.camera2", "com.google.android.GoogleCamera", "com.android.camera"],
    "clock": ["com.google.android.deskclock", "com.android.deskclock"],
    "contacts": ["com.google.android.contacts", "com.android.contacts"],
    "phone": ["com.google.android.dialer", "com.android.dialer"], "dialer": ["com.google.android.dialer"],
    "messages": ["com.google.android.apps.messaging", "com.android.messaging"],
    "files": ["com.google.android.documentsui", "com.android.documentsui"],
    "calendar": ["com.google.android.calendar", "com.android.calendar"],
    "calculator": ["com.google.android.calculator", "com.android.calculator2"],
    "gmail": ["com.google.android.gm"], "maps": ["com.google.android.apps.maps"],
    "youtube": ["com.google.android.youtube"], "photos": ["com.google.android.apps.photos"],
    "gallery": ["com.android.gallery3d", "com.google.android.apps.photos"],
    "play store": ["com.android.vending"], "google": ["com.google.android.googlequicksearchbox"],
}


@dataclass(frozen=True)
class LauncherApp:
    package: str
    activity: str | None
    label: str | None


def parse_launcher_activities(text: str) -> list[LauncherApp]:
    """Read ``cmd package query-activities -a MAIN -c LAUNCHER`` output (packageName, name, label)."""
    apps = []
    for block in re.split(r"\n\s*Activity #\d+:", text)[1:]:
        package = re.search(r"packageName=(\S+)", block)
        name = re.search(r"\bname=(\S+)", block)
        label = re.search(r"nonLocalizedLabel=(.*?)\s+icon=", block)
        if package:
            value = label.group(1).strip() if label else None
            apps.append(LauncherApp(package.group(1), name.group(1) if name else None,
                                    None if value in (None, "", "null") else value))
    return apps


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def resolve_app(name: str, launcher: list[LauncherApp], installed: list[str]) -> LauncherApp:
    """The app ``name`` means, or `ActionValidationError` listing what can be opened."""
    want = _norm(name)
    by_package = {a.package: a for a in launcher}
    candidates = (
        [a for a in launcher if a.label and _norm(a.label) == want],
        [a for a in launcher if a.package.lower() == name.strip().lower()],
        [by_package.get(p) or LauncherApp(p, None, None) for p in KNOWN.get(want, []) if p in installed],
        [a for a in launcher if a.label and want and want in _norm(a.label)],
        [by_package.get(p) or LauncherApp(p, None, None) for p in installed
         if want and want.replace(" ", "") in p.lower().rsplit(".", 1)[-1]],
    )
    for found in candidates:
        unique = list({a.package: a for a in found}.values())
        if len(unique) == 1:
            return unique[0]
        if len(unique) > 1:
            names = ", ".join(a.label or a.package for a in unique[:8])
            raise ActionValidationError(f"the app name {name!r} is ambiguous; it could be: {names}. Use the exact name.")
    labels = sorted({a.label or a.package for a in launcher})
    shown = ", ".join(labels[:30]) + (", ..." if len(labels) > 30 else "")
    raise ActionValidationError(f"there is no app called {name!r} on this device. Apps you can open: {shown}")
