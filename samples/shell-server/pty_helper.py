#!/usr/bin/env python3
"""Runs a command in a new pseudo-terminal for the shell-server sample (no native Node addon).

usage: pty_helper.py [--control-fd N] COLS ROWS COMMAND [ARGS...]

stdin goes to the terminal, the terminal's output to stdout. The control descriptor carries
"COLS ROWS" lines: each resizes the terminal (TIOCSWINSZ), and the kernel sends SIGWINCH to the
program in the foreground. The helper exits with the command's status (128+N if killed by signal N).
"""
import errno
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios


def set_size(fd, cols, rows):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def main():
    args = sys.argv[1:]
    control_fd = None
    if args[0] == "--control-fd":
        control_fd, args = int(args[1]), args[2:]
    cols, rows, argv = int(args[0]), int(args[1]), args[2:]
    pid, master = pty.fork()
    if pid == 0:
        set_size(0, cols, rows)  # before exec, so the program reads the right size at once
        os.execvp(argv[0], argv)
    # Closing our end of the terminal hangs the session up, as sshd does when the channel closes.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(143))
    control = os.fdopen(control_fd, "rb", buffering=0) if control_fd is not None else None
    inputs = [master, 0] + ([control] if control else [])
    pending = b""
    while True:
        ready, _, _ = select.select(inputs, [], [])
        if master in ready:
            try:
                data = os.read(master, 65536)
            except OSError as e:  # EIO: every process holding the terminal is gone
                if e.errno != errno.EIO:
                    raise
                data = b""
            if not data:
                break
            os.write(1, data)
        if 0 in ready:
            data = os.read(0, 65536)
            if data:
                os.write(master, data)
            else:
                # The client sent EOF: type the terminal's EOF character, as a user pressing ^D.
                os.write(master, termios.tcgetattr(master)[6][termios.VEOF])
                inputs.remove(0)
        if control and control in ready:
            data = control.read(4096)
            if not data:
                inputs.remove(control)
                control = None
                continue
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                c, r = line.split()
                set_size(master, int(c), int(r))
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


if __name__ == "__main__":
    main()
