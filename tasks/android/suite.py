"""The AndroidWorld-style tasks. Settings tasks and the Android-version question run on any device;
the notes and contacts tasks need the simulated phone's apps (com.sim.notes, com.sim.contacts)."""

from __future__ import annotations

import random
from typing import Any, ClassVar

from tasks.android.base import (  # noqa: F401 - REGISTRY re-exported
    REGISTRY,
    AndroidTask,
    Device,
    clear_app,
    content_insert,
    content_query,
    digits,
    get_setting,
    go_home,
    norm,
    register,
)

NOTES, CONTACTS = "content://com.sim.notes/notes", "content://com.sim.contacts/contacts"
NOTES_APP, CONTACTS_APP = "com.sim.notes", "com.sim.contacts"
TITLES = ["Groceries", "Trip plan", "Meeting notes", "Books to read", "Gift ideas", "Workout", "Recipes", "Budget"]
BODIES = ["buy milk and eggs", "pack the blue tent", "call Dana at 3pm", "finish chapter 4", "water the plants",
          "book the train to Lyon", "renew the passport", "send the invoice"]
FIRST = ["Alice", "Bruno", "Chen", "Dara", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemi", "Lena"]
LAST = ["Moreau", "Okafor", "Silva", "Tanaka", "Weber", "Novak", "Haddad", "Berg"]


def _phone(rng: random.Random) -> str:
    return f"555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"


def _names(rng: random.Random, n: int) -> list[str]:
    return [f"{first} {last}" for first, last in zip(rng.sample(FIRST, n), rng.sample(LAST, n))] if n <= len(LAST) else []


# -- settings: run on real devices too ---------------------------------------------------------------
class _Toggle(AndroidTask):
    """Setup flips the switch with the system command a real device obeys (``svc``, ``cmd``), not by
    writing the setting, which on a real phone only mirrors the radio's state; the check reads it."""

    namespace: ClassVar[str] = "global"
    key: ClassVar[str]
    on: ClassVar[tuple[str, ...]] = ("1",)
    off: ClassVar[tuple[str, ...]] = ("0",)
    switch: ClassVar[tuple[str, str]]  # shell lines turning it on, off
    want_on: ClassVar[bool] = True

    def setup(self, env: Device) -> None:
        env.shell(self.switch[1] if self.want_on else self.switch[0])
        go_home(env)

    def is_successful(self, env: Device) -> float:
        return float(get_setting(env, self.namespace, self.key) in (self.on if self.want_on else self.off))


class _Wifi(_Toggle):
    key, switch = "wifi_on", ("svc wifi enable", "svc wifi disable")
    on, off = ("1", "2"), ("0", "3")  # 2 and 3: the same states while airplane mode is on


class _Bluetooth(_Toggle):
    key, switch = "bluetooth_on", ("svc bluetooth enable", "svc bluetooth disable")


@register
class SystemWifiTurnOn(_Wifi):
    id, template = "SystemWifiTurnOn", "Turn on Wi-Fi."


@register
class SystemWifiTurnOff(_Wifi):
    id, template, want_on = "SystemWifiTurnOff", "Turn off Wi-Fi.", False


@register
class SystemBluetoothTurnOn(_Bluetooth):
    id, template = "SystemBluetoothTurnOn", "Turn on Bluetooth."


@register
class SystemBluetoothTurnOff(_Bluetooth):
    id, template, want_on = "SystemBluetoothTurnOff", "Turn off Bluetooth.", False


@register
class SystemAirplaneModeOn(_Toggle):
    id, template, key = "SystemAirplaneModeOn", "Turn on airplane mode.", "airplane_mode_on"
    switch = ("cmd connectivity airplane-mode enable", "cmd connectivity airplane-mode disable")


@register
class SystemDarkThemeOn(_Toggle):
    id, template = "SystemDarkThemeOn", "Turn on the dark theme."
    namespace, key, on, off = "secure", "ui_night_mode", ("2",), ("1", "0")
    switch = ("cmd uimode night yes", "cmd uimode night no")


@register
class SystemAndroidVersionAnswer(AndroidTask):
    """Information retrieval: the answer is compared with the device's own property."""

    id, template, complexity = "SystemAndroidVersionAnswer", "Which Android version does this phone run? " \
        "Answer with the version number.", 1.0

    def is_successful(self, env: Device) -> float:
        version = env.shell("getprop ro.build.version.release").strip()
        return float(bool(version) and norm(env.last_answer).removeprefix("android ") == norm(version))


# -- notes and contacts: the simulated phone's apps --------------------------------------------------
class _NotesTask(AndroidTask):
    apps = (NOTES_APP,)

    def notes(self, env: Device) -> list[dict[str, str]]:
        return content_query(env, NOTES, ["title", "body"])

    def setup(self, env: Device) -> None:
        clear_app(env, NOTES_APP)
        for title, body in self.params.get("existing", []):
            content_insert(env, NOTES, title=title, body=body)
        go_home(env)


@register
class NotesCreate(_NotesTask):
    id, template, complexity = "NotesCreate", "Create a note titled \"{title}\" with the text \"{body}\".", 1.5

    @classmethod
    def generate_params(cls, rng: random.Random) -> dict[str, Any]:
        return {"title": rng.choice(TITLES), "body": rng.choice(BODIES)}

    def is_successful(self, env: Device) -> float:
        want = (norm(self.params["title"]), norm(self.params["body"]))
        return float(any((norm(n["title"]), norm(n["body"])) == want for n in self.notes(env)))


@register
class NotesDelete(_NotesTask):
    id, template, complexity = "NotesDelete", "Delete the note titled \"{title}\".", 1.0

    @classmethod
    def generate_params(cls, rng: random.Random) -> dict[str, Any]:
        titles = rng.sample(TITLES, 3)
        existing = [(t, rng.choice(BODIES)) for t in titles]
        return {"title": titles[rng.randrange(3)], "existing": existing}

    def is_successful(self, env: Device) -> float:
        left = sorted(norm(n["title"]) for n in self.notes(env))
        return float(left == sorted(norm(t) for t, _ in self.params["existing"] if t != self.params["title"]))


@register
class NotesReadAnswer(_NotesTask):
    id, template, complexity = "NotesReadAnswer", "What does my note titled \"{title}\" say? Answer with its text.", 1.0

    @classmethod
    def generate_params(cls, rng: random.Random) -> dict[str, Any]:
        titles, bodies = rng.sample(TITLES, 3), rng.sample(BODIES, 3)
        return {"title": titles[rng.randrange(3)], "existing": list(zip(titles, bodies))}

    def is_successful(self, env: Device) -> float:
        body = dict(self.params["existing"])[self.params["title"]]
        return float(norm(env.last_answer) == norm(body))


class _ContactsTask(AndroidTask):
    apps = (CONTACTS_APP,)

    def setup(self, env: Device) -> None:
        clear_app(env, CONTACTS_APP)
        for name, phone in self.params.get("existing", []):
            content_insert(env, CONTACTS, name=name, phone=phone, email=f"{name.split()[0].lower()}@example.com")
        go_home(env)

    def contacts(self, env: Device) -> list[dict[str, str]]:
        return content_query(env, CONTACTS, ["name", "phone", "email"])


@register
class ContactsAdd(_ContactsTask):
    id, template, complexity = "ContactsAdd", "Add a contact named {name} with the phone number {phone}.", 1.5

    @classmethod
    def generate_params(cls, rng: random.Random) -> dict[str, Any]:
        return {"name": _names(rng, 1)[0], "phone": _phone(rng)}

    def is_successful(self, env: Device) -> float:
        return float(any(norm(c["name"]) == norm(self.params["name"]) and digits(c["phone"]) == digits(self.params["phone"])
                         for c in self.contacts(env)))


@register
class ContactsPhoneAnswer(_ContactsTask):
    id, template, complexity = "ContactsPhoneAnswer", "What is {name}'s phone number? Answer with the number.", 1.0

    @classmethod
    def generate_params(cls, rng: random.Random) -> dict[str, Any]:
        existing = [(n, _phone(rng)) for n in _names(rng, 6)]
        return {"name": existing[rng.randrange(len(existing))][0], "existing": existing}

    def is_successful(self, env: Device) -> float:
        return float(digits(env.last_answer) == digits(dict(self.params["existing"])[self.params["name"]]))


@register
class ContactsCount(_ContactsTask):
    id, template, complexity = "ContactsCount", "How many of my contacts have the last name {last}? Answer with a number.", 1.0

    @classmethod
    def generate_params(cls, rng: random.Random) -> dict[str, Any]:
        last, count = rng.choice(LAST), rng.randint(1, 3)
        firsts = rng.sample(FIRST, 7)
        others = [x for x in LAST if x != last]
        existing = [(f"{f} {last}", _phone(rng)) for f in firsts[:count]]
        existing += [(f"{f} {rng.choice(others)}", _phone(rng)) for f in firsts[count:]]
        rng.shuffle(existing)
        return {"last": last, "count": count, "existing": existing}

    def is_successful(self, env: Device) -> float:
        words = {"one": "1", "two": "2", "three": "3", "four": "4", "zero": "0"}
        answer = norm(env.last_answer)
        return float(words.get(answer, digits(answer)) == str(self.params["count"]))


# -- several apps ------------------------------------------------------------------------------------
@register
class ContactPhoneToNote(_NotesTask):
    id, template, complexity = "ContactPhoneToNote", \
        "Create a note titled \"{title}\" whose text is {name}'s phone number from Contacts.", 3.0
    apps = (NOTES_APP, CONTACTS_APP)

    @classmethod
    def generate_params(cls, rng: random.Random) -> dict[str, Any]:
        contacts = [(n, _phone(rng)) for n in _names(rng, 4)]
        return {"title": rng.choice(TITLES), "name": contacts[rng.randrange(4)][0], "contacts": contacts}

    def setup(self, env: Device) -> None:
        clear_app(env, CONTACTS_APP)
        for name, phone in self.params["contacts"]:
            content_insert(env, CONTACTS, name=name, phone=phone, email="")
        super().setup(env)

    def is_successful(self, env: Device) -> float:
        phone = digits(dict(self.params["contacts"])[self.params["name"]])
        return float(any(norm(n["title"]) == norm(self.params["title"]) and digits(n["body"]) == phone
                         for n in self.notes(env)))


@register
class AirplaneModeAndNote(_NotesTask):
    id, template, complexity = "AirplaneModeAndNote", \
        "Turn on airplane mode, then create a note titled \"{title}\" with the text \"{body}\".", 2.5

    @classmethod
    def generate_params(cls, rng: random.Random) -> dict[str, Any]:
        return {"title": rng.choice(TITLES), "body": rng.choice(BODIES)}

    def setup(self, env: Device) -> None:
        env.shell("cmd connectivity airplane-mode disable")
        super().setup(env)

    def is_successful(self, env: Device) -> float:
        note = any(norm(n["title"]) == norm(self.params["title"]) and norm(n["body"]) == norm(self.params["body"])
                   for n in self.notes(env))
        return float(note and get_setting(env, "global", "airplane_mode_on") == "1")
