"""A small Tk app for the desktop tests: targets at known places, and it reports what it saw.

Run as ``python tk_app.py [--standalone]`` on an X display. It fills the screen from (0, 0) and speaks JSON lines:
events on stdout (``{"type": "click", ...}``), commands on stdin (``{"cmd": "target", "box": [...]}``),
each command answered with ``{"type": "ack", "id": ...}`` once drawn, so tests wait on state, not time.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import tkinter as tk

TARGETS = {  # name: (x1, y1, x2, y2) in screen pixels; all fit in 1280x720
    "left": (100, 100, 180, 140),
    "right": (220, 100, 300, 140),
    "middle": (340, 100, 420, 140),
    "double": (460, 100, 540, 140),
    "cursor": (580, 100, 660, 140),
}
CLICKED = "#f0a030"  # a target's colour once clicked
HANDLE = (120, 220, 160, 260)  # draggable square, starts here
TEXT_BOX = (700, 80, 1180, 300)  # a Text widget for typing
LIST_BOX = (100, 360, 500, 660)  # a scrollable Text with many lines


def emit(**event) -> None:
    sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
    sys.stdout.flush()


class App:
    def __init__(self) -> None:
        self.root = tk.Tk()
        w, h = self.root.winfo_screenwidth(), self.root.winfo_screenheight()
        self.root.overrideredirect(True)
        self.root.geometry(f"{w}x{h}+0+0")
        self.canvas = tk.Canvas(self.root, width=w, height=h, bg="#e8ecf0", highlightthickness=0, bd=0)
        self.canvas.place(x=0, y=0)
        for name, box in TARGETS.items():
            self.canvas.create_rectangle(*box, fill="#5a8dd6", outline="", tags=(name,))
            self.canvas.create_text((box[0] + box[2]) // 2, (box[1] + box[3]) // 2, text=name, tags=(name,))
        self.handle = self.canvas.create_rectangle(*HANDLE, fill="#2e9e5b", outline="", tags=("handle",))
        self.target = tk.Frame(self.root, bg="#ff00ff", bd=0, highlightthickness=0)
        self.dragging = None
        for seq, kind in (("<Button-1>", "left"), ("<Button-2>", "middle"), ("<Button-3>", "right"),
                          ("<Double-Button-1>", "double")):
            self.canvas.bind(seq, lambda e, k=kind: self.click(e, k))
            self.target.bind(seq, lambda e, k=kind: self.click(e, k))
        self.canvas.bind("<B1-Motion>", self.motion)
        self.canvas.bind("<ButtonRelease-1>", self.release)
        self.canvas.bind("<Motion>", lambda e: setattr(self, "pointer", (e.x_root, e.y_root)))
        self.text = self.place(tk.Text(self.root, font=("DejaVu Sans", 12), insertofftime=0), TEXT_BOX)  # no blink
        self.scroller = self.place(tk.Text(self.root, font=("DejaVu Sans", 12), insertofftime=0), LIST_BOX)
        self.scroller.insert("1.0", "\n".join(f"line {i}" for i in range(1, 501)))
        self.scroller.configure(state="disabled")
        self.scroller.bind("<Button-1>", lambda e: self.click(e, "left"), add="+")
        self.text.bind("<Button-1>", lambda e: self.click(e, "left"), add="+")
        for seq in ("<KeyPress>", "<Alt-KeyPress>", "<Meta-KeyPress>"):  # Tk binds <Alt-Key> on "all" for menus
            self.root.bind_all(seq, self.key)
        self.commands: queue.Queue = queue.Queue()
        if "--standalone" not in sys.argv:  # standalone: no commands, runs until it is stopped
            threading.Thread(target=self.read_commands, daemon=True).start()
        self.root.after(10, self.poll)
        self.root.after(50, self.ready)

    def place(self, widget: tk.Widget, box: tuple[int, int, int, int]) -> tk.Widget:
        widget.place(x=box[0], y=box[1], width=box[2] - box[0], height=box[3] - box[1])
        return widget

    def ready(self) -> None:
        self.root.update_idletasks()
        emit(type="ready", width=self.root.winfo_width(), height=self.root.winfo_height(),
             x=self.root.winfo_rootx(), y=self.root.winfo_rooty())

    def click(self, event: tk.Event, kind: str) -> None:
        x, y = event.x_root, event.y_root
        hit = []
        if event.widget is self.canvas:
            for item in self.canvas.find_overlapping(event.x, event.y, event.x, event.y):
                hit += [t for t in self.canvas.gettags(item) if t != "current"]
        emit(type="click", button=kind, x=x, y=y, widget=str(event.widget), tags=hit)
        for name in set(hit) & set(TARGETS):  # visible feedback, for runs that only see screenshots
            self.canvas.itemconfigure(self.canvas.find_withtag(name)[0], fill=CLICKED)
        if kind == "left" and "handle" in hit:
            self.dragging = (x, y)

    def motion(self, event: tk.Event) -> None:
        if self.dragging:
            dx, dy = event.x_root - self.dragging[0], event.y_root - self.dragging[1]
            self.canvas.move(self.handle, dx, dy)
            self.dragging = (event.x_root, event.y_root)

    def release(self, event: tk.Event) -> None:
        if self.dragging:
            self.dragging = None
            emit(type="dropped", box=[round(v) for v in self.canvas.coords(self.handle)])

    def key(self, event: tk.Event) -> None:
        emit(type="key", keysym=event.keysym, char=event.char, state=event.state)

    def read_commands(self) -> None:
        for line in sys.stdin:
            self.commands.put(json.loads(line))
        self.commands.put({"cmd": "quit"})

    def poll(self) -> None:
        while not self.commands.empty():
            self.run(self.commands.get())
        self.root.after(10, self.poll)

    def run(self, cmd: dict) -> None:
        name = cmd["cmd"]
        if name == "quit":
            self.root.destroy()
            return
        if name == "target":  # a frame above everything else, widgets included
            self.place(self.target, tuple(cmd["box"]))
            self.target.lift()
        elif name == "clear_target":
            self.target.place_forget()
        elif name == "focus_text":
            self.text.delete("1.0", "end")
            self.text.focus_force()
        elif name == "reset_scroll":
            self.scroller.yview_moveto(0)
        elif name == "reset_targets":  # clicked targets back to their first colour
            for target in TARGETS:
                self.canvas.itemconfigure(self.canvas.find_withtag(target)[0], fill="#5a8dd6")
        self.root.update_idletasks()
        self.root.winfo_pointerxy()  # a round trip: the X server has drawn everything Tk sent before the ack
        emit(type="ack", id=cmd.get("id"), cmd=name, **self.state())

    def state(self) -> dict:
        focus = self.root.focus_get()
        return {
            "text": self.text.get("1.0", "end-1c"),
            "handle": [round(v) for v in self.canvas.coords(self.handle)],
            "scroll": self.scroller.yview()[0],
            "focus": str(focus) if focus else None,
        }


if __name__ == "__main__":
    App().root.mainloop()
