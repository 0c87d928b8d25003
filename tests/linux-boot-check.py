#!/usr/bin/env python3
"""Boots a Linux disk image under QEMU (TCG), logs in as root on the serial
console and reports what the running system says of itself.

    tests/linux-boot-check.py IMAGE FORMAT --bus virtio|sata [--mac MAC]
        [--nic NAME] [--uefi] [--log FILE] [--timeout S]

--uefi boots with OVMF and an empty variable store, as a new VM's firmware
has no boot entries: it starts the removable-media fallback loader.

Prints one line per fact, "key value", for the caller to assert on:
  booted yes            the login prompt came (multi-user getty on ttyS0)
  target active         systemctl is-active multi-user.target
  root rw               the root filesystem's first mount option
  addr 10.0.2.15/24     the IPv4 address on --nic
  ping ok|fail          one ping to QEMU's user-network gateway 10.0.2.2
  pkg NAME absent|present   for each --pkg
  mnt PATH TYPE         for each --mount: the filesystem mounted there
  cmdroot VALUE         root= of the kernel's command line (/proc/cmdline)
The commands are typed, and the console echoes them: every value printed
is built by the shell ($((...)) arithmetic in the marker), so the echo of
a command line never reads as its result.  The VM is killed at the end
(its disk is a snapshot); a timeout reports booted no."""
import argparse, os, re, select, subprocess, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("image")
ap.add_argument("format")
ap.add_argument("--bus", default="virtio")
ap.add_argument("--mac", default="52:54:00:12:34:56")
ap.add_argument("--nic", default="")
ap.add_argument("--pkg", action="append", default=[])
ap.add_argument("--mount", action="append", default=[])
ap.add_argument("--uefi", action="store_true")
ap.add_argument("--log", default=None)
ap.add_argument("--timeout", type=int, default=420)
a = ap.parse_args()

drive = "file=%s,format=%s,if=none,id=d0,snapshot=on" % (a.image, a.format)
dev = (["-device", "virtio-blk-pci,drive=d0"] if a.bus == "virtio" else
       ["-device", "ahci,id=ahci", "-device", "ide-hd,drive=d0,bus=ahci.0"])
net = "virtio-net-pci" if a.bus == "virtio" else "e1000"
cmd = ["qemu-system-x86_64", "-machine", "q35,accel=tcg", "-m", "1024", "-smp", "1",
       "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot",
       "-drive", drive] + dev + ["-netdev", "user,id=n0", "-device",
       "%s,netdev=n0,mac=%s" % (net, a.mac)]
if a.uefi:
    import shutil, tempfile
    vars_copy = tempfile.NamedTemporaryFile(prefix="ovmf-vars-", suffix=".fd", delete=False).name
    shutil.copyfile("/usr/share/OVMF/OVMF_VARS.fd", vars_copy)
    cmd += ["-drive", "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd",
            "-drive", "if=pflash,format=raw,unit=1,file=" + vars_copy]
p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT)
log = open(a.log, "wb") if a.log else None
buf = b""
deadline = time.time() + a.timeout

def wait_for(pattern, limit):
    """Reads the console until pattern (bytes regex) shows; the match or None."""
    global buf
    end = min(deadline, time.time() + limit)
    while time.time() < end:
        m = re.search(pattern, buf)
        if m:
            buf = buf[m.end():]
            return m
        r, _, _ = select.select([p.stdout], [], [], 1.0)
        if r:
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                return None
            buf += chunk
            if log:
                log.write(chunk); log.flush()
    return None

def send(text):
    p.stdin.write(text.encode()); p.stdin.flush()

facts = {}
booted = wait_for(rb"login: ", a.timeout) is not None
facts["booted"] = "yes" if booted else "no"
if booted:
    send("root\n")
    if wait_for(rb"# ", 60):
        script = [
            "echo M$((1))-target-$(systemctl is-active multi-user.target)",
            "echo M$((1))-root-$(findmnt -no OPTIONS / | cut -d, -f1)",
            "echo M$((1))-cmdroot-$(tr ' ' '\\n' </proc/cmdline | sed -n 's/^root=//p')",
        ]
        if a.nic:
            script.append("echo M$((1))-addr-$(ip -4 -o addr show dev %s | awk '{print $4}')" % a.nic)
        script.append("ping -c1 -W10 10.0.2.2 >/dev/null 2>&1 && echo M$((1))-ping-ok || echo M$((1))-ping-fail")
        for pkg in a.pkg:
            script.append("dpkg -s %s >/dev/null 2>&1 && echo M$((1))-pkg-%s-present || echo M$((1))-pkg-%s-absent" % (pkg, pkg, pkg))
        for path in a.mount:
            script.append("echo M$((1))-mnt-%s=$(findmnt -no FSTYPE %s)" % (path, path))
        script.append("echo M$((1))-done-x")
        send("; ".join(script) + "\n")
        while True:
            m = wait_for(rb"M1-([a-z]+)-([^\r\n]*)\r?\n", 120)
            if not m:
                break
            k, v = m.group(1).decode(), m.group(2).decode(errors="replace")
            if k == "done":
                break
            if k == "mnt":
                path, _, fstype = v.partition("=")
                facts["mnt " + path] = fstype or "(none)"
            elif k == "pkg":
                name, state = v.rsplit("-", 1)
                facts["pkg " + name] = state
            else:
                facts[k] = v
# Nothing to keep (the disk is snapshot=on): the VM is stopped, not shut
# down, which would cost the emulated CPU another half minute.
p.kill()
p.wait()
if a.uefi:
    os.unlink(vars_copy)
for k, v in facts.items():
    print(k, v if v else "(none)")
