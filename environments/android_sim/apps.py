"""The simulated phone's apps: a launcher, Settings, Notes, Contacts and a Camera placeholder.

Each app turns its state (settings, the sqlite store, the screen's own data) into `Node`s with
callbacks; nothing here draws or parses shell text. Package names of Settings match real Android so
the same settings tasks run on a real device.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from environments.android_sim.ui import Layout, Node, Screen

if TYPE_CHECKING:
    from environments.android_sim.phone import Phone

TOGGLES = (  # label, namespace, key, on value, off value
    ("Wi-Fi", "global", "wifi_on", "1", "0"),
    ("Bluetooth", "global", "bluetooth_on", "1", "0"),
    ("Airplane mode", "global", "airplane_mode_on", "1", "0"),
    ("Dark theme", "secure", "ui_night_mode", "2", "1"),
)


class App:
    package = ""
    label = ""
    color = (120, 120, 120)
    activity = ".MainActivity"

    def main_screen(self) -> Screen:
        return Screen(self.package, "main")

    def nodes(self, phone: Phone, screen: Screen, lay: Layout) -> list[Node]:
        return [_app_bar(phone, lay, self.label, back=False)]

    def on_enter(self, phone: Phone, screen: Screen) -> None:
        """The Enter key with a field focused (default: the keyboard hides)."""
        screen.data["focus"] = None


def _app_bar(phone: Phone, lay: Layout, title: str, *, back: bool = True, action: Node | None = None) -> list[Node]:
    x1, y1, x2, y2 = lay.app_bar
    left = lay.px(56) if back else 0
    nodes = [Node("title", (x1 + left, y1, x2, y2), title, resource_id="toolbar_title")]
    if back:
        nodes.append(Node("button", (0, y1, lay.px(56), y2), "←", resource_id="navigate_up", hint="Navigate up",
                          on_tap=phone.back))
    if action is not None:
        nodes.append(action)
    return nodes


def _field(screen: Screen, lay: Layout, name: str, hint: str, index: int, top: int) -> Node:
    y = top + index * lay.px(72)
    bounds = (lay.px(16), y + lay.px(8), lay.width - lay.px(16), y + lay.px(64))

    def focus() -> None:
        screen.data["focus"] = name

    return Node("field", bounds, screen.fields.get(name, ""), resource_id=name, hint=hint,
                focused=screen.focus == name, on_tap=focus)


def _keyboard(phone: Phone, screen: Screen, lay: Layout) -> list[Node]:
    """The on-screen keyboard while a field has focus; its keys type, like a real IME's."""
    if not screen.focus:
        return []
    nodes = [Node("keyboard", (0, lay.keyboard_top, lay.width, lay.height), resource_id="keyboard")]
    w, h, top = lay.width / 10, lay.px(52), lay.keyboard_top + lay.px(8)
    for r, letters in enumerate(("qwertyuiop", "asdfghjkl", "zxcvbnm")):
        left = (10 - len(letters)) * w / 2
        for k, ch in enumerate(letters):
            x = round(left + k * w)
            nodes.append(Node("key", (x, top + r * h, round(x + w), top + (r + 1) * h), ch, resource_id=f"key_{ch}",
                              on_tap=lambda ch=ch: phone.type_text(ch)))
    y = top + 3 * h
    nodes += [
        Node("key", (0, y, round(2 * w), y + h), "⌫", resource_id="key_del", hint="Delete",
             on_tap=lambda: screen.fields.__setitem__(screen.focus, screen.fields.get(screen.focus, "")[:-1])),
        Node("key", (round(2 * w), y, round(8 * w), y + h), "space", resource_id="key_space",
             on_tap=lambda: phone.type_text(" ")),
        Node("key", (round(8 * w), y, lay.width, y + h), "⏎", resource_id="key_enter", hint="Enter",
             on_tap=lambda: phone.apps[screen.app].on_enter(phone, screen)),
    ]
    return nodes


def _list(screen: Screen, lay: Layout, top: int, items: list[Node]) -> list[Node]:
    """Lay ``items`` out as 64-unit rows from ``top``, shifted by the screen's scroll offset and clipped."""
    bottom = lay.keyboard_top if screen.focus else lay.height
    screen.data["scroll_max"] = max(0, len(items) * lay.px(64) - (bottom - top))
    offset = min(screen.data.get("scroll", 0), screen.data["scroll_max"])
    out = []
    for i, node in enumerate(items):
        y = top + i * lay.px(64) - offset
        if y >= top and y + lay.px(64) <= bottom:
            node.bounds = (0, y, lay.width, y + lay.px(64))
            out.append(node)
    return out


class Launcher(App):
    package, label = "com.sim.launcher", "Home"

    def nodes(self, phone: Phone, screen: Screen, lay: Layout) -> list[Node]:
        nodes, cell = [], lay.width // 4
        for i, app in enumerate(phone.launchable()):
            col, row = i % 4, i // 4
            x, y = col * cell, lay.status_bar + lay.px(48) + row * lay.px(110)
            nodes.append(Node("icon", (x, y, x + cell, y + lay.px(100)), app.label, resource_id=app.package,
                              color=app.color, on_tap=lambda a=app: phone.launch(a.package)))
        return nodes


class Settings(App):
    package, label, color, activity = "com.android.settings", "Settings", (96, 125, 139), ".Settings"

    def nodes(self, phone: Phone, screen: Screen, lay: Layout) -> list[Node]:
        if screen.name == "about":
            nodes = _app_bar(phone, lay, "About phone")
            facts = [("Device name", phone.props["ro.product.model"]),
                     ("Android version", phone.props["ro.build.version.release"]),
                     ("Build number", phone.props["ro.build.display.id"])]
            for i, (k, v) in enumerate(facts):
                nodes.append(Node("row", lay.row(i), k, hint=v, resource_id=f"about_{i}"))
            return nodes
        nodes = _app_bar(phone, lay, "Settings", back=False)
        for i, (label, ns, key, on, off) in enumerate(TOGGLES):
            state = phone.setting(ns, key) == on

            def flip(ns=ns, key=key, value=off if state else on) -> None:
                phone.put_setting(ns, key, value)

            nodes.append(Node("toggle", lay.row(i), label, resource_id=key, checked=state, on_tap=flip))
        nodes.append(Node("row", lay.row(len(TOGGLES)), "About phone", hint="Model, Android version",
                          resource_id="about", on_tap=lambda: phone.push(Screen(self.package, "about"))))
        return nodes


class Notes(App):
    package, label, color = "com.sim.notes", "Notes", (255, 193, 7)
    table = "notes"

    def nodes(self, phone: Phone, screen: Screen, lay: Layout) -> list[Node]:
        if screen.name == "edit":
            save = Node("button", (lay.width - lay.px(88), lay.app_bar[1], lay.width, lay.app_bar[3]), "Save",
                        resource_id="save", on_tap=lambda: self._save(phone, screen))
            nodes = _app_bar(phone, lay, "Edit note" if screen.data.get("id") else "New note", action=save)
            nodes += [_field(screen, lay, "title", "Title", 0, lay.content_top),
                      _field(screen, lay, "body", "Note", 1, lay.content_top)]
            return nodes + _keyboard(phone, screen, lay)
        nodes = _app_bar(phone, lay, "Notes", back=False)
        rows = phone.db.execute("SELECT _id, title, body FROM notes ORDER BY _id").fetchall()
        items = [Node("row", (0, 0, 0, 0), title, hint=body, resource_id=f"note_{nid}",
                      on_tap=lambda n=nid, t=title, b=body: self._open(phone, n, t, b),
                      on_long=lambda n=nid, t=title: self._ask_delete(phone, screen, n, t))
                 for nid, title, body in rows]
        nodes += _list(screen, lay, lay.content_top, items)
        if not rows:
            nodes.append(Node("text", lay.row(1), "No notes yet", resource_id="empty"))
        nodes.append(Node("fab", lay.fab(), "+", hint="New note", resource_id="new_note",
                          on_tap=lambda: phone.push(Screen(self.package, "edit", {"fields": {"title": "", "body": ""},
                                                                                  "focus": "title"}))))
        return nodes + _dialog(phone, screen, lay)

    def on_enter(self, phone: Phone, screen: Screen) -> None:
        if screen.focus == "title":
            screen.data["focus"] = "body"
        elif screen.focus == "body":
            screen.fields["body"] = screen.fields.get("body", "") + "\n"

    def _open(self, phone: Phone, nid: int, title: str, body: str) -> None:
        phone.push(Screen(self.package, "edit", {"id": nid, "fields": {"title": title, "body": body}}))

    def _save(self, phone: Phone, screen: Screen) -> None:
        title, body = screen.fields.get("title", ""), screen.fields.get("body", "")
        if screen.data.get("id"):
            phone.db.execute("UPDATE notes SET title=?, body=? WHERE _id=?", (title, body, screen.data["id"]))
        elif title or body:
            phone.db.execute("INSERT INTO notes (title, body) VALUES (?, ?)", (title, body))
        phone.back(force=True)

    def _ask_delete(self, phone: Phone, screen: Screen, nid: int, title: str) -> None:
        def delete() -> None:
            phone.db.execute("DELETE FROM notes WHERE _id=?", (nid,))
            screen.data.pop("dialog", None)

        screen.data["dialog"] = (f"Delete \u201c{title}\u201d?", "Delete", delete)


class Contacts(App):
    package, label, color = "com.sim.contacts", "Contacts", (33, 150, 243)

    def nodes(self, phone: Phone, screen: Screen, lay: Layout) -> list[Node]:
        if screen.name == "edit":
            save = Node("button", (lay.width - lay.px(88), lay.app_bar[1], lay.width, lay.app_bar[3]), "Save",
                        resource_id="save", on_tap=lambda: self._save(phone, screen))
            nodes = _app_bar(phone, lay, "New contact", action=save)
            for i, (name, hint) in enumerate((("name", "Name"), ("phone", "Phone"), ("email", "Email"))):
                nodes.append(_field(screen, lay, name, hint, i, lay.content_top))
            return nodes + _keyboard(phone, screen, lay)
        if screen.name == "detail":
            row = phone.db.execute("SELECT name, phone, email FROM contacts WHERE _id=?", (screen.data["id"],)).fetchone()
            nodes = _app_bar(phone, lay, row[0] if row else "Contact")
            for i, (k, v) in enumerate(zip(("Phone", "Email"), row[1:] if row else ("", ""))):
                nodes.append(Node("row", lay.row(i), k, hint=v, resource_id=k.lower()))
            return nodes
        nodes = _app_bar(phone, lay, "Contacts", back=False)
        search = _field(screen, lay, "search", "Search contacts", 0, lay.content_top)
        nodes.append(search)
        query = screen.fields.get("search", "").strip().lower()
        rows = phone.db.execute("SELECT _id, name, phone FROM contacts ORDER BY name COLLATE NOCASE").fetchall()
        items = [Node("row", (0, 0, 0, 0), name, hint=number, resource_id=f"contact_{cid}",
                      on_tap=lambda c=cid: phone.push(Screen(self.package, "detail", {"id": c})))
                 for cid, name, number in rows if query in name.lower()]
        nodes += _list(screen, lay, lay.content_top + lay.px(72), items)
        if not items:
            nodes.append(Node("text", lay.row(2), "No contacts", resource_id="empty"))
        nodes.append(Node("fab", lay.fab(), "+", hint="New contact", resource_id="new_contact",
                          on_tap=lambda: phone.push(Screen(self.package, "edit", {"focus": "name"}))))
        return nodes + _keyboard(phone, screen, lay)

    def _save(self, phone: Phone, screen: Screen) -> None:
        f = screen.fields
        if f.get("name"):
            phone.db.execute("INSERT INTO contacts (name, phone, email) VALUES (?, ?, ?)",
                             (f.get("name", ""), f.get("phone", ""), f.get("email", "")))
        phone.back(force=True)


class Camera(App):
    package, label, color = "com.sim.camera", "Camera", (76, 175, 80)

    def nodes(self, phone: Phone, screen: Screen, lay: Layout) -> list[Node]:
        nodes = _app_bar(phone, lay, "Camera", back=False)
        nodes.append(Node("panel", (0, lay.content_top, lay.width, lay.height - lay.px(120)), "", color=(30, 30, 30)))
        return nodes


def _dialog(phone: Phone, screen: Screen, lay: Layout) -> list[Node]:
    if "dialog" not in screen.data:
        return []
    message, confirm, action = screen.data["dialog"]
    top, h = lay.height // 2 - lay.px(80), lay.px(160)
    x1, x2 = lay.px(24), lay.width - lay.px(24)
    cancel = Node("button", (x1, top + h - lay.px(56), (x1 + x2) // 2, top + h), "Cancel", resource_id="cancel",
                  on_tap=lambda: screen.data.pop("dialog", None))
    ok = Node("button", ((x1 + x2) // 2, top + h - lay.px(56), x2, top + h), confirm, resource_id="confirm",
              on_tap=action)
    return [Node("dialog", (x1, top, x2, top + h), message, resource_id="dialog"), cancel, ok]


APPS: tuple[App, ...] = (Launcher(), Settings(), Notes(), Contacts(), Camera())
