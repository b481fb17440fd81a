#!/usr/bin/env python3
"""Domains under libvirt (docs/libvirt.md): a real libvirtd, started by
virsh for a private qemu:///session (as the unprivileged user 'nobody'
when the test runs as root: no system daemon, cgroups or security driver
on the test machine are touched), with the emulator wrapper
scripts/libvirt-emulator (installed as qemu-system-x86_64-hybrid).

1. The same workload (hotloop) as a domain of the plain emulator (libvirt's
   own `-accel tcg`) and as one with <emulator> the wrapper and `-accel
   hybrid,...` in <qemu:commandline>: started with `virsh start`, queried
   while it runs (`virsh qemu-monitor-command`, QMP and --hmp), ended by
   the guest's poweroff; the results match, the QEMU libvirt ran had
   hybrid (and not tcg) on its command line, traces were entered.
2. A domain with the wrapper and no <qemu:commandline>: libvirt's `-accel
   tcg` becomes `-accel hybrid`; started, `info hybrid-traces` answers,
   `virsh destroy` stops it, `virsh undefine` removes it.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hybridtest import GUEST, QEMU, Tap  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
WRAPPER = os.path.join(TOP, 'scripts', 'libvirt-emulator')
URI = 'qemu:///session'


class Session:
    """A private libvirt session: HOME and XDG directories in a temporary
    directory; virsh starts the session daemon on first use."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='hybrid-libvirt-')
        os.chmod(self.dir, 0o755)
        self.root = os.geteuid() == 0
        self.env = {'HOME': self.dir,
                    'XDG_RUNTIME_DIR': os.path.join(self.dir, 'run'),
                    'XDG_CONFIG_HOME': os.path.join(self.dir, 'config'),
                    'XDG_CACHE_HOME': os.path.join(self.dir, 'cache'),
                    'PATH': '/usr/sbin:/usr/bin:/sbin:/bin'}
        for d in ('run', 'config', 'cache'):
            os.mkdir(os.path.join(self.dir, d), 0o700)
        if self.root:
            # the session belongs to 'nobody'; the emulator, the wrapper
            # and the guest must be readable by it (checked below)
            for dirpath, dirnames, filenames in os.walk(self.dir):
                shutil.chown(dirpath, 'nobody', 'nogroup')

    def run(self, *args, timeout=120, input=None):
        cmd = ['env'] + ['%s=%s' % kv for kv in self.env.items()] + \
            ['virsh', '-q', '-c', URI] + list(args)
        if self.root:
            cmd = ['runuser', '-u', 'nobody', '--'] + cmd
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout, input=input)
        return p.returncode, (p.stdout + p.stderr).strip()

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, 'w') as f:
            f.write(text)
        if self.root:
            shutil.chown(path, 'nobody', 'nogroup')
        return path

    def qemu_log(self, dom):
        path = os.path.join(self.dir, 'cache', 'libvirt', 'qemu', 'log',
                            dom + '.log')
        try:
            with open(path, errors='replace') as f:
                return f.read()
        except OSError:
            return '(no %s)' % path

    def close(self):
        # the session daemon: whatever runs as this session's HOME
        for pid in os.listdir('/proc'):
            if not pid.isdigit():
                continue
            try:
                with open('/proc/%s/environ' % pid, 'rb') as f:
                    env = f.read()
            except OSError:
                continue
            if ('HOME=%s' % self.dir).encode() in env.split(b'\0'):
                try:
                    os.kill(int(pid), 9)
                except OSError:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)


def domain_xml(name, emulator, log, run=None, accel=None):
    cmdline = 'console=ttyS0 panic=-1 quiet'
    if run:
        cmdline += ' hybrid.run=' + run
    extra = ''
    if accel:
        extra = ("  <qemu:commandline>\n"
                 "    <qemu:arg value='-accel'/>\n"
                 "    <qemu:arg value='%s'/>\n"
                 "  </qemu:commandline>\n" % accel)
    return """<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>%s</name>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>%s</kernel>
    <initrd>%s</initrd>
    <cmdline>%s</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>%s</emulator>
    <serial type='file'>
      <source path='%s'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
%s</domain>
""" % (name, os.path.join(GUEST, 'vmlinux'), os.path.join(GUEST, 'initrd.gz'),
       cmdline, emulator, log, extra)


def read(path):
    try:
        with open(path, errors='replace') as f:
            return f.read()
    except OSError:
        return ''


def qemu_cmdline(dom):
    """The command line of the running QEMU of domain @dom (libvirt names
    it with -name guest=DOM,...), or None."""
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                args = f.read().decode(errors='replace').split('\0')
        except OSError:
            continue
        if any(a.startswith('guest=%s,' % dom) or a == 'guest=' + dom
               for a in args):
            return args
    return None


def accels(args):
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == '-accel']


def domstate(s, dom):
    return s.run('domstate', dom)[1]


def wait_state(s, dom, state, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if domstate(s, dom) == state:
            return True
        time.sleep(0.5)
    return False


def run_domain(t, s, name, emulator, accel):
    """Define and start a hotloop domain; poll it until the guest powers
    off. Returns (the serial output, the QEMU command line, the largest
    user-entries seen over QMP (-1 if never queried), the HMP text)."""
    log = os.path.join(s.dir, name + '.serial')
    xml = s.write(name + '.xml', domain_xml(name, emulator, log,
                                            run='hotloop', accel=accel))
    rc, out = s.run('define', xml)
    t.ok(rc == 0, '%s: virsh define' % name, out)
    rc, out = s.run('start', name, timeout=300)
    if not t.ok(rc == 0, '%s: virsh start' % name, out + '\n' +
                s.qemu_log(name)):
        return '', [], -1, ''
    args = qemu_cmdline(name) or []
    entries, hmp = -1, ''
    deadline = time.time() + 300
    while time.time() < deadline:
        if 'hotloop: result=' in read(log):
            break
        if accel:
            rc, out = s.run('qemu-monitor-command', name,
                            '{"execute": "query-hybrid-traces"}')
            if rc == 0:
                c = json.loads(out)['return']['counters']
                entries = max(entries, c['user-entries'])
            rc, out = s.run('qemu-monitor-command', '--hmp', name,
                            'info hybrid-traces')
            if rc == 0:
                hmp = out
        elif domstate(s, name) != 'running':
            break
        time.sleep(0.5)
    t.ok(wait_state(s, name, 'shut off', 120),
         '%s: the guest powered off and libvirt saw the domain end' % name,
         domstate(s, name) + '\n' + s.qemu_log(name))
    rc, out = s.run('undefine', name)
    t.ok(rc == 0, '%s: virsh undefine' % name, out)
    return read(log), args, entries, hmp


def result(serial):
    m = re.search(r'hotloop: result=\S+', serial)
    return m.group(0) if m else None


def main():
    t = Tap()
    for tool in ('virsh', 'libvirtd'):
        if not shutil.which(tool, path='/usr/sbin:/usr/bin'):
            t.ok(False, '%s installed' % tool,
                 'scripts/setup-host.sh installs libvirt-daemon, '
                 'libvirt-daemon-driver-qemu and libvirt-clients')
            t.done()
    s = Session()
    try:
        rc, out = s.run('uri')
        t.ok(rc == 0 and out == URI, 'a libvirt session daemon answers '
             '(%s)' % ('as nobody' if s.root else 'as this user'), out)
        # the layout of an install: the wrapper beside the emulator
        bindir = os.path.join(s.dir, 'bin')
        os.mkdir(bindir)
        emulator = os.path.join(bindir, 'qemu-system-x86_64')
        wrapper = os.path.join(bindir, 'qemu-system-x86_64-hybrid')
        os.symlink(os.path.realpath(QEMU), emulator)
        os.symlink(os.path.realpath(WRAPPER), wrapper)
        tcg_out, tcg_args, _, _ = run_domain(t, s, 'hybrid-test-tcg',
                                             emulator, None)
        t.ok('tcg' in [a.split(',')[0] for a in accels(tcg_args)],
             'tcg: libvirt ran QEMU with -accel tcg', tcg_args)
        hy_out, hy_args, entries, hmp = run_domain(
            t, s, 'hybrid-test-hybrid', wrapper, 'hybrid,hot=20,jit-hot=20')
        t.ok(accels(hy_args) == ['hybrid,hot=20,jit-hot=20'],
             'hybrid: the domain\'s QEMU had exactly -accel '
             'hybrid,hot=20,jit-hot=20 (libvirt\'s -accel tcg dropped)',
             hy_args)
        t.ok(result(tcg_out) is not None and
             result(tcg_out) == result(hy_out),
             'the workload gives the same result under libvirt with tcg '
             'and hybrid (%s)' % result(tcg_out),
             'tcg:\n%s\nhybrid:\n%s' % (tcg_out, hy_out))
        t.ok(entries > 0, 'hybrid: query-hybrid-traces through virsh shows '
             'user-mode traces entered (%d)' % entries)
        t.ok('formed=' in hmp and re.search(r'^\s*\d+ user ', hmp, re.M),
             'hybrid: virsh qemu-monitor-command --hmp "info '
             'hybrid-traces" answers, with user-mode traces', hmp)

        # the wrapper alone: libvirt's -accel tcg becomes -accel hybrid
        name = 'hybrid-test-plain'
        log = os.path.join(s.dir, name + '.serial')
        xml = s.write(name + '.xml', domain_xml(name, wrapper, log))
        rc, out = s.run('define', xml)
        t.ok(rc == 0, '%s: virsh define' % name, out)
        rc, out = s.run('start', name, timeout=300)
        t.ok(rc == 0, '%s: virsh start' % name, out + '\n' +
             s.qemu_log(name))
        args = qemu_cmdline(name) or []
        t.ok([a.split(',')[0] for a in accels(args)] == ['hybrid'],
             '%s: libvirt\'s -accel tcg became -accel hybrid (%s)'
             % (name, ' '.join(accels(args))), args)
        deadline = time.time() + 120
        while time.time() < deadline and \
                'userspace up' not in read(log):
            time.sleep(0.5)
        rc, out = s.run('qemu-monitor-command', '--hmp', name,
                        'info hybrid-traces')
        t.ok(rc == 0 and 'formed=' in out,
             '%s: info hybrid-traces through virsh' % name, out)
        rc, out = s.run('destroy', name)
        t.ok(rc == 0 and wait_state(s, name, 'shut off', 30),
             '%s: virsh destroy stops it' % name, out)
        rc, out = s.run('undefine', name)
        t.ok(rc == 0 and s.run('list', '--all', '--name')[1] == '',
             '%s: virsh undefine; no domain left' % name, out)
    finally:
        s.close()
    t.done()


if __name__ == '__main__':
    main()
