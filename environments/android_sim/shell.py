"""The simulated device's shell: the commands an adb client sends, parsed like the device's sh would.

Supported: screencap, input, am, monkey, pm, cmd (package, connectivity, uimode), svc, wm, settings,
content, dumpsys, getprop,
ime, uiautomator dump, cat/echo/rm, plus the test-only ``sim`` (show a target, report the last tap,
dump state). Commands may be chained with ``;`` and ``&&``. Output mimics Android's where a client
parses it (``wm size``, ``content query``, ``cmd package query-activities``).
"""

from __future__ import annotations

import base64
import io
import json
import shlex
import struct

from environments.android_sim.phone import ADB_IME, KEYCODES, LATIN_IME, Phone
from environments.android_sim.ui import uiautomator_xml

READ_ONLY = {"screencap", "getprop", "dumpsys", "echo", "cat", "uiautomator", "true"}  # keep the cached frame
URIS = {"content://com.sim.notes/notes": "notes", "content://com.sim.contacts/contacts": "contacts"}
ADB_KEYBOARD_PACKAGE = "com.android.adbkeyboard"


class ShellError(Exception):
    """A command failed; its message is what the device would print."""


def run(phone: Phone, cmdline: str) -> bytes:
    """Run a command line and return its output (stdout and stderr, as `shell:` v1 mixes them)."""
    out = io.BytesIO()
    with phone.lock:
        for segment, separator in _split_commands(cmdline):
            try:
                argv = shlex.split(segment)
            except ValueError as exc:
                out.write(f"/system/bin/sh: syntax error: {exc}\n".encode())
                break
            if argv and not _run_one(phone, argv, out) and separator == "&&":
                break
    return out.getvalue()


def _split_commands(line: str) -> list[tuple[str, str]]:
    """Split at unquoted ``;``, ``&&``, ``||``, ``&`` and ``|`` (pipes run as sequences here), keeping
    quoted and backslash-escaped text whole, as sh does."""
    parts, current, quote, i = [], [], None, 0
    while i < len(line):
        c = line[i]
        if quote:
            current.append(c)
            if c == quote:
                quote = None
            elif c == "\\" and quote == '"' and i + 1 < len(line):
                current.append(line[i + 1])
                i += 1
        elif c in "'\"":
            quote = c
            current.append(c)
        elif c == "\\" and i + 1 < len(line):
            current.append(line[i:i + 2])
            i += 1
        elif c in ";&|":
            separator = line[i:i + 2] if line[i:i + 2] in ("&&", "||") else c
            parts.append(("".join(current), separator))
            current, i = [], i + len(separator) - 1
        else:
            current.append(c)
        i += 1
    parts.append(("".join(current), ";"))
    return parts


def _run_one(phone: Phone, argv: list[str], out: io.BytesIO) -> bool:
    name, args = argv[0], argv[1:]
    handler = COMMANDS.get(name)
    if handler is None:
        out.write(f"/system/bin/sh: {name}: inaccessible or not found\n".encode())
        return False
    if name not in READ_ONLY:
        phone.version += 1
    try:
        result = handler(phone, args)
    except ShellError as exc:
        out.write(f"{exc}\n".encode())
        return False
    if isinstance(result, str):
        result = result.encode() + (b"\n" if result and not result.endswith("\n") else b"")
    out.write(result or b"")
    return True


def _screencap(phone: Phone, args: list[str]) -> bytes:
    from environments.android_sim.render import png, raw

    return png(phone) if "-p" in args else raw(phone)


def _input(phone: Phone, args: list[str]) -> str:
    if args and args[0] in ("touchscreen", "keyboard", "mouse", "touchpad", "trackball", "dpad"):
        args = args[1:]
    if not args:
        raise ShellError("Usage: input [<source>] <command> [<arg>...]")
    verb, rest = args[0], args[1:]
    try:
        if verb == "tap" and len(rest) == 2:
            phone.tap(float(rest[0]), float(rest[1]))
        elif verb == "swipe" and len(rest) in (4, 5):
            x1, y1, x2, y2 = map(float, rest[:4])
            phone.swipe(x1, y1, x2, y2, int(float(rest[4])) if len(rest) == 5 else 300)
        elif verb == "text" and rest:
            text = rest[0].replace("%s", " ")
            if not text.isascii():
                raise ShellError("Exception occurred while executing 'text': input text supports ASCII only")
            phone.type_text(text)
        elif verb == "keyevent" and rest:
            for name in (r for r in rest if r != "--longpress"):
                phone.key(_keycode(name))
        else:
            raise ShellError(f"Error: Unknown command or wrong arguments: input {' '.join(args)}")
    except ValueError as exc:
        raise ShellError(f"Error: bad argument: {exc}") from None
    return ""


def _keycode(name: str) -> int:
    if name.isdigit():
        return int(name)
    code = KEYCODES.get(name.upper().removeprefix("KEYCODE_"))
    if code is None:
        raise ShellError(f"Exception occurred while executing 'keyevent': Unknown keycode: {name}")
    return code


def _component(phone: Phone, package: str) -> str:
    app = phone.apps[package]
    return f"{package}/{app.activity}"


def _am(phone: Phone, args: list[str]) -> str:
    if not args:
        raise ShellError("usage: am [subcommand] [options]")
    verb, opts = args[0], _options(args[1:])
    if verb == "start":
        if "-n" in opts:
            package = opts["-n"].split("/", 1)[0]
            if package not in phone.apps or not _installed(phone, package):
                raise ShellError(f"Error: Activity class {{{opts['-n']}}} does not exist.")
            phone.launch(package) if package != "com.sim.launcher" else phone.home()
            return f"Starting: Intent {{ cmp={opts['-n']} }}"
        if opts.get("-c") == "android.intent.category.HOME":
            phone.home()
            return "Starting: Intent { act=android.intent.action.MAIN cat=[android.intent.category.HOME] }"
        raise ShellError("Error: only -n COMPONENT and the HOME intent are simulated")
    if verb == "force-stop" and len(args) == 2:
        if phone.package == args[1]:
            phone.home()
        return ""
    if verb == "broadcast":
        action = opts.get("-a", "")
        if action in ("ADB_INPUT_TEXT", "ADB_INPUT_B64") and phone.adb_keyboard \
                and phone.setting("secure", "default_input_method") == ADB_IME:
            msg = opts.get("--es", "")
            phone.type_text(base64.b64decode(msg).decode("utf-8") if action == "ADB_INPUT_B64" else msg)
        return f"Broadcasting: Intent {{ act={action} flg=0x400000 (has extras) }}\nBroadcast completed: result=0"
    raise ShellError(f"Error: am {verb} is not simulated")


def _options(args: list[str]) -> dict[str, str]:
    """``-x value`` pairs; ``--es key value`` keeps only the value (the simulator needs one extra)."""
    opts, i = {}, 0
    while i < len(args):
        if args[i] == "--es" and i + 2 < len(args):
            opts["--es"], i = args[i + 2], i + 3
        elif args[i].startswith("-") and i + 1 < len(args):
            opts[args[i]], i = args[i + 1], i + 2
        else:
            i += 1
    return opts


def _installed(phone: Phone, package: str) -> bool:
    return package in phone.apps or (package == ADB_KEYBOARD_PACKAGE and phone.adb_keyboard)


def _packages(phone: Phone) -> list[str]:
    return [*phone.apps, *([ADB_KEYBOARD_PACKAGE] if phone.adb_keyboard else [])]


def _monkey(phone: Phone, args: list[str]) -> str:
    opts = _options(args)
    package = opts.get("-p")
    if package not in phone.apps:
        raise ShellError(f"** No activities found to run, monkey aborted. ({package})")
    phone.launch(package)
    return "Events injected: 1"


def _pm(phone: Phone, args: list[str]) -> str:
    if args[:2] == ["list", "packages"]:
        words = [a for a in args[2:] if not a.startswith("-")]
        return "\n".join(f"package:{p}" for p in _packages(phone) if not words or words[0] in p)
    if args[:1] == ["clear"] and len(args) == 2:
        table = {"com.sim.notes": "notes", "com.sim.contacts": "contacts"}.get(args[1])
        if table:
            phone.db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
        if phone.package == args[1]:
            phone.home()
        return "Success" if _installed(phone, args[1]) else "Failed"
    if args[:1] == ["path"] and len(args) == 2 and _installed(phone, args[1]):
        return f"package:/data/app/{args[1]}/base.apk"
    raise ShellError(f"Error: pm {' '.join(args)} is not simulated")


def _svc(phone: Phone, args: list[str]) -> str:
    """``svc wifi|bluetooth enable|disable``: the radio switches and its setting follows, as on Android."""
    keys = {"wifi": "wifi_on", "bluetooth": "bluetooth_on"}
    if len(args) != 2 or args[0] not in keys or args[1] not in ("enable", "disable"):
        raise ShellError("usage: svc wifi|bluetooth enable|disable")
    phone.put_setting("global", keys[args[0]], "1" if args[1] == "enable" else "0")
    return ""


def _cmd(phone: Phone, args: list[str]) -> str:
    if args[:2] == ["connectivity", "airplane-mode"] and len(args) == 3 and args[2] in ("enable", "disable"):
        phone.put_setting("global", "airplane_mode_on", "1" if args[2] == "enable" else "0")
        return ""
    if args[:2] == ["uimode", "night"] and len(args) == 3 and args[2] in ("yes", "no"):
        phone.put_setting("secure", "ui_night_mode", "2" if args[2] == "yes" else "1")
        return f"Night mode: {args[2]}"
    if args[:2] == ["package", "query-activities"]:
        blocks = [f"{len(phone.launchable())} activities found:"]
        for i, app in enumerate(phone.launchable()):
            blocks.append(
                f"  Activity #{i}:\n    priority=0 preferredOrder=0 match=0x108000 specificIndex=-1 isDefault=false\n"
                f"    ActivityInfo:\n      name={app.package}{app.activity}\n      packageName={app.package}\n"
                f"      labelRes=0x0 nonLocalizedLabel={app.label} icon=0x0 banner=0x0"
            )
        return "\n".join(blocks)
    if args[:2] == ["package", "resolve-activity"] and args[-1] in phone.apps:
        return f"priority=0 preferredOrder=0 match=0x108000 specificIndex=-1 isDefault=true\n{_component(phone, args[-1])}"
    raise ShellError(f"cmd: {' '.join(args)} is not simulated")


def _wm(phone: Phone, args: list[str]) -> str:
    if args[:1] == ["size"]:
        if len(args) == 2:
            from agent.geometry import Size

            phone.override = None if args[1] == "reset" else Size.parse(args[1])
            return ""
        text = f"Physical size: {phone.physical}"
        return text + (f"\nOverride size: {phone.override}" if phone.override else "")
    if args[:1] == ["density"]:
        return f"Physical density: {phone.density}"
    raise ShellError(f"wm: {' '.join(args)} is not simulated")


def _settings(phone: Phone, args: list[str]) -> str:
    if len(args) < 2 or args[1] not in phone.settings:
        raise ShellError("usage: settings [--user N] get|put|delete|list NAMESPACE [KEY [VALUE]]")
    verb, ns = args[0], args[1]
    if verb == "get" and len(args) == 3:
        value = phone.setting(ns, args[2])
        return "null" if value is None else value
    if verb == "put" and len(args) >= 4:
        phone.put_setting(ns, args[2], args[3])
        return ""
    if verb == "delete" and len(args) == 3:
        return f"Deleted {int(phone.settings[ns].pop(args[2], None) is not None)} rows"
    if verb == "list":
        return "\n".join(f"{k}={v}" for k, v in sorted(phone.settings[ns].items()))
    raise ShellError(f"settings: bad arguments: {' '.join(args)}")


def _content(phone: Phone, args: list[str]) -> str:
    verb, opts, binds = (args[0] if args else ""), {}, []
    i = 1
    while i + 1 < len(args):
        if args[i] == "--bind":
            binds.append(args[i + 1])
        else:
            opts[args[i]] = args[i + 1]
        i += 2
    table = URIS.get(opts.get("--uri", ""))
    if table is None:
        raise ShellError(f"Error while accessing provider: unknown URI {opts.get('--uri')}")
    where = f" WHERE {opts['--where']}" if "--where" in opts else ""  # raw SQL, as on Android: test device only
    values = {}
    for bind in binds:
        column, kind, value = bind.split(":", 2)
        values[column] = int(value) if kind in ("i", "l") else float(value) if kind in ("f", "d") else value
    db = phone.db
    if verb == "query":
        columns = opts.get("--projection", "*").replace(":", ", ")
        cursor = db.execute(f"SELECT {columns} FROM {table}{where} ORDER BY {opts.get('--sort', '_id')}")  # noqa: S608
        names = [d[0] for d in cursor.description]
        rows = [f"Row: {n} " + ", ".join(f"{k}={'NULL' if v is None else v}" for k, v in zip(names, row))
                for n, row in enumerate(cursor.fetchall())]
        return "\n".join(rows) if rows else "No result found."
    if verb == "insert" and values:
        db.execute(f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",  # noqa: S608
                   tuple(values.values()))
        return ""
    if verb == "update" and values:
        db.execute(f"UPDATE {table} SET {', '.join(f'{k}=?' for k in values)}{where}", tuple(values.values()))  # noqa: S608
        return ""
    if verb == "delete":
        db.execute(f"DELETE FROM {table}{where}")  # noqa: S608
        return ""
    raise ShellError(f"usage: content query|insert|update|delete --uri URI ... (got {verb!r})")


def _dumpsys(phone: Phone, args: list[str]) -> str:
    size, rot = phone.logical_size, phone.rotation
    component = _component(phone, phone.package)
    if args[:1] == ["display"]:
        return (f"DISPLAY MANAGER (dumpsys display)\n  mViewports=[DisplayViewport{{type=INTERNAL, valid=true, "
                f"isActive=true, displayId=0, uniqueId='local:0', physicalPort=0, orientation={rot}, "
                f"logicalFrame=Rect(0, 0 - {size.width}, {size.height}), deviceWidth={size.width}, "
                f"deviceHeight={size.height}}}]")
    if args[:1] == ["window"]:
        return f"  mCurrentFocus=Window{{5e1f2a u0 {component}}}\n  mFocusedApp=ActivityRecord{{9c2d u0 {component} t7}}"
    if args[:1] == ["activity"]:
        return f"  mResumedActivity: ActivityRecord{{9c2d u0 {component} t7}}"
    if args[:1] == ["input"]:
        return f"    SurfaceOrientation: {rot}"
    return ""


def _getprop(phone: Phone, args: list[str]) -> str:
    if args:
        return phone.props.get(args[0], "")
    return "\n".join(f"[{k}]: [{v}]" for k, v in sorted(phone.props.items()))


def _ime(phone: Phone, args: list[str]) -> str:
    available = [LATIN_IME, *([ADB_IME] if phone.adb_keyboard else [])]
    if args[:1] == ["list"]:
        return "\n".join(available)
    if args[:1] in (["set"], ["enable"]) and len(args) == 2:
        if args[1] not in available:
            raise ShellError(f"Unknown input method {args[1]} cannot be selected for user #0")
        if args[0] == "set":
            phone.put_setting("secure", "default_input_method", args[1])
        return f"Input method {args[1]} {'selected' if args[0] == 'set' else 'enabled'} for user #0"
    raise ShellError("usage: ime list|enable|set ...")


def _uiautomator(phone: Phone, args: list[str]) -> str:
    if args[:1] != ["dump"]:
        raise ShellError("usage: uiautomator dump [FILE]")
    path = args[1] if len(args) > 1 else "/sdcard/window_dump.xml"
    xml = uiautomator_xml(phone.nodes(), phone.package, phone.rotation)
    if path == "/dev/tty":
        return f"{xml}UI hierchary dumped to: /dev/tty"
    phone.files[path] = xml
    return f"UI hierchary dumped to: {path}"


def _cat(phone: Phone, args: list[str]) -> str:
    missing = [a for a in args if a not in phone.files]
    if missing:
        raise ShellError(f"cat: {missing[0]}: No such file or directory")
    return "".join(phone.files[a] for a in args)


def _rm(phone: Phone, args: list[str]) -> str:
    for a in args:
        phone.files.pop(a, None)
    return ""


def _sim(phone: Phone, args: list[str]) -> bytes | str:
    """Test-only controls: ``sim target X1 Y1 X2 Y2|clear``, ``sim last-tap``, ``sim state``."""
    if args[:1] == ["target"]:
        phone.target = None if args[1:] == ["clear"] else tuple(int(v) for v in args[1:5])
        return ""
    if args[:1] == ["last-tap"]:
        return "none" if phone.last_tap is None else "{:g} {:g}".format(*phone.last_tap)
    if args[:1] == ["state"]:
        return json.dumps(phone.state())
    raise ShellError("usage: sim target X1 Y1 X2 Y2 | sim target clear | sim last-tap | sim state")


COMMANDS = {
    "screencap": _screencap, "input": _input, "am": _am, "monkey": _monkey, "pm": _pm, "cmd": _cmd, "wm": _wm,
    "settings": _settings, "content": _content, "dumpsys": _dumpsys, "getprop": _getprop, "ime": _ime,
    "uiautomator": _uiautomator, "cat": _cat, "rm": _rm, "sim": _sim, "svc": _svc,
    "echo": lambda phone, args: " ".join(args), "true": lambda phone, args: "",
}
RAW_HEADER = struct.Struct("<4I")  # width, height, pixel format (1 = RGBA_8888), colour space: Android 9+
