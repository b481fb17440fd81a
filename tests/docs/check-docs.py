#!/usr/bin/env python3
"""Check that the user documentation covers what the emulator reports.

    check-docs.py [QEMU [DOCS_DIR]]

QEMU is the built emulator (default: $HYBRID_QEMU); DOCS_DIR the
documentation directory (default: docs/ beside tests/). The script

- runs `QEMU -accel hybrid,help` and requires every property it lists to
  be named in DOCS_DIR/properties.md, and the default and range that the
  hybrid tier's properties print to match that page's summary table;
- starts `QEMU -M none -accel hybrid -display none -nodefaults -qmp
  stdio`, asks query-hybrid-traces, query-qmp-schema and (through
  human-monitor-command) `info hybrid-traces`, and requires every member
  name of the result, at any depth (and, from the schema, of every type
  the result can contain, also those absent from an idle machine's
  answer such as a trace's members), every abort reason, every key of
  the HMP summary line and every HMP column to be named in
  DOCS_DIR/monitor.md.

"Named" means written as inline code (between backticks) outside code
blocks: a name that appears only in an example does not count.

Output is TAP (1..N, then ok / not ok lines); the exit status is 0 when
every test passed. Only the Python 3 standard library is used.
"""
import json
import os
import re
import subprocess
import sys

TIMEOUT = 60
# the characters a property, QMP member or reason name is made of
NAME = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.-]*')


class Tap:
    def __init__(self):
        self.results = []

    def ok(self, cond, desc, diag=''):
        self.results.append((bool(cond), desc, '' if cond else diag))
        return bool(cond)

    def done(self):
        print('1..%d' % len(self.results))
        failed = 0
        for i, (good, desc, diag) in enumerate(self.results, 1):
            print('%s %d - %s' % ('ok' if good else 'not ok', i, desc))
            if not good:
                failed += 1
                for line in str(diag).splitlines()[:40]:
                    print('# ' + line)
        if failed:
            print('# %d of %d failed' % (failed, len(self.results)))
        sys.exit(1 if failed else 0)


def json_keys(value, out=None):
    """Every object member name in @value, at any depth (objects inside
    arrays inside objects included)."""
    if out is None:
        out = set()
    if isinstance(value, dict):
        for k, v in value.items():
            out.add(k)
            json_keys(v, out)
    elif isinstance(value, list):
        for v in value:
            json_keys(v, out)
    return out


def schema_names(schema, command):
    """Member names of @command's arguments and of every object type its
    result can contain, from query-qmp-schema's answer (type names there
    are masked, member names are not)."""
    types = {e['name']: e for e in schema}
    cmd = types.get(command)
    if not cmd or cmd.get('meta-type') != 'command':
        return None
    names, seen = set(), set()

    def walk(tname):
        if tname in seen or tname not in types:
            return
        seen.add(tname)
        t = types[tname]
        meta = t.get('meta-type')
        if meta == 'object':
            for m in t.get('members', []):
                names.add(m['name'])
                walk(m['type'])
            for v in t.get('variants', []):
                walk(v['type'])
        elif meta == 'array':
            walk(t['element-type'])
        elif meta == 'alternate':
            for m in t.get('members', []):
                walk(m['type'])

    walk(cmd['arg-type'])
    walk(cmd['ret-type'])
    return names


def code_names(markdown):
    """Names written as inline code in @markdown, outside fenced and
    indented code blocks."""
    names = set()
    in_fence = False
    prev_blank = True
    in_indented = False
    for line in markdown.splitlines():
        if line.lstrip().startswith('```'):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        blank = not line.strip()
        # an indented code block starts after a blank line; list item
        # continuations (indented text after a list line) are prose
        if line.startswith('    ') and (prev_blank or in_indented):
            in_indented = True
            prev_blank = blank
            continue
        if not blank:
            in_indented = False
        prev_blank = blank
        for span in re.findall(r'`([^`]+)`', line):
            names.update(NAME.findall(span))
    return names


def self_test(t):
    """The extraction must find nested names and the check must be able
    to fail: run both on made-up input."""
    sample = {'return': {'outer': {'inner': [{'deep': 1,
                                              'deeper': {'deepest': []}}]},
                         'list': [[{'in-list': 0}]]}}
    got = json_keys(sample)
    want = {'return', 'outer', 'inner', 'deep', 'deeper', 'deepest', 'list',
            'in-list'}
    t.ok(got == want, 'self-test: JSON member names are found at any depth',
         'got %s, want %s' % (sorted(got), sorted(want)))
    doc = ('| `outer` | x |\n\n    `deep` in an indented block\n\n'
           '```\n`deeper` in a fence\n```\nprose `inner`, `list=1`\n')
    names = code_names(doc)
    missing = sorted(want - names)
    t.ok(missing == ['deep', 'deeper', 'deepest', 'in-list', 'return'],
         'self-test: names only in code blocks or absent are reported missing',
         'missing: %s' % missing)
    schema = [{'name': 'cmd', 'meta-type': 'command', 'arg-type': '0',
               'ret-type': '1'},
              {'name': '0', 'meta-type': 'object',
               'members': [{'name': 'count', 'type': 'int'}]},
              {'name': '1', 'meta-type': 'object',
               'members': [{'name': 'rows', 'type': '[2]'}]},
              {'name': '[2]', 'meta-type': 'array', 'element-type': '2'},
              {'name': '2', 'meta-type': 'object',
               'members': [{'name': 'cell', 'type': 'str'}]},
              {'name': 'int', 'meta-type': 'builtin'},
              {'name': 'str', 'meta-type': 'builtin'}]
    got = schema_names(schema, 'cmd')
    t.ok(got == {'count', 'rows', 'cell'},
         'self-test: schema walk reaches members of array element types',
         'got %s' % (sorted(got) if got is not None else None))


def check_doc(t, names, doc_names, doc, what):
    for name in sorted(names):
        t.ok(name in doc_names, '%s: `%s` is described in %s'
             % (what, name, doc), '%s does not name `%s` as inline code'
             % (doc, name))


def check_properties(t, qemu, docs):
    path = os.path.join(docs, 'properties.md')
    try:
        p = subprocess.run([qemu, '-accel', 'hybrid,help'],
                           capture_output=True, text=True, timeout=TIMEOUT)
        out, rc = p.stdout + p.stderr, p.returncode
    except (OSError, subprocess.TimeoutExpired) as e:
        out, rc = str(e), None
    # QEMU 10's format (object_property_help()): "  name=<type>  - help"
    props = re.findall(r'^  ([A-Za-z0-9_.-]+)=<([^>]*)>(.*)$', out, re.M)
    if not t.ok(rc == 0 and props, '-accel hybrid,help lists properties',
                'rc=%s\n%s' % (rc, out[-2000:])):
        return
    try:
        text = open(path).read()
    except OSError as e:
        t.ok(False, '%s is readable' % path, e)
        return
    check_doc(t, {name for name, _, _ in props}, code_names(text),
              'properties.md', 'property')
    # the hybrid tier's integer properties print "(min..max, default d)":
    # the summary table's row must say the same
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        m = re.match(r'^`([^`]+)`$', cells[0]) if len(cells) >= 4 else None
        if m and m.group(1) not in rows:
            rows[m.group(1)] = cells
    for name, _, desc in props:
        m = re.search(r'\((-?\d+)\.\.(-?\d+), default (-?\d+)\)\s*$', desc)
        if not m:
            continue
        lo, hi, dflt = m.groups()
        cells = rows.get(name, [])
        t.ok(len(cells) >= 4 and cells[2] == dflt and
             cells[3] == '%s..%s' % (lo, hi),
             'property: `%s` default %s and range %s..%s match properties.md'
             % (name, dflt, lo, hi), 'table row: %s' % cells)


def qmp_session(qemu):
    """The answers of one QMP session, by id; QEMU's stderr."""
    cmds = [
        {'execute': 'qmp_capabilities', 'id': 'caps'},
        {'execute': 'query-hybrid-traces', 'id': 'traces'},
        {'execute': 'query-qmp-schema', 'id': 'schema'},
        {'execute': 'human-monitor-command', 'id': 'hmp',
         'arguments': {'command-line': 'info hybrid-traces'}},
        {'execute': 'quit', 'id': 'quit'},
    ]
    proc = subprocess.Popen([qemu, '-M', 'none', '-accel', 'hybrid',
                             '-display', 'none', '-nodefaults',
                             '-qmp', 'stdio'],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(''.join(json.dumps(c) + '\n'
                                            for c in cmds), timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += '\n(timed out after %d s)' % TIMEOUT
    answers = {}
    for line in out.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict) and 'id' in msg:
            answers[msg['id']] = msg
    return answers, err


def check_monitor(t, qemu, docs):
    path = os.path.join(docs, 'monitor.md')
    try:
        answers, err = qmp_session(qemu)
    except OSError as e:
        answers, err = {}, str(e)
    ret = answers.get('traces', {}).get('return')
    if not t.ok(isinstance(ret, dict) and 'counters' in ret,
                'QMP query-hybrid-traces answers under -M none -accel hybrid',
                '%s\n%s' % (answers.get('traces'), err[-2000:])):
        return
    try:
        doc_names = code_names(open(path).read())
    except OSError as e:
        t.ok(False, '%s is readable' % path, e)
        return

    keys = json_keys(ret)
    reasons = {a['reason'] for a in ret['counters'].get('aborts', [])
               if isinstance(a, dict) and 'reason' in a}
    t.ok(reasons, 'QMP: counters.aborts lists the abort reasons',
         ret['counters'])
    schema = answers.get('schema', {}).get('return')
    from_schema = (schema_names(schema, 'query-hybrid-traces')
                   if isinstance(schema, list) else None)
    t.ok(from_schema and keys <= from_schema,
         'QMP: query-qmp-schema describes query-hybrid-traces\' result',
         'schema names: %s\nresult names: %s'
         % (sorted(from_schema or []), sorted(keys)))
    check_doc(t, keys | (from_schema or set()), doc_names, 'monitor.md',
              'QMP member')
    check_doc(t, reasons, doc_names, 'monitor.md', 'abort reason')

    hmp = answers.get('hmp', {}).get('return')
    lines = [l.strip() for l in (hmp or '').splitlines() if l.strip()]
    if not t.ok(len(lines) >= 2 and '=' in lines[0],
                'HMP info hybrid-traces prints a summary line and a header',
                repr(hmp)):
        return
    summary = set()
    for item in lines[0].split():
        key = item.split('=', 1)[0]
        # abort.<reason>, unsupported.<opcode>: the reason is what is named
        prefix, _, rest = key.partition('.')
        if prefix == 'abort' and rest:
            key = rest
        elif prefix == 'unsupported' and rest:
            continue
        summary.add(key)
    check_doc(t, summary, doc_names, 'monitor.md', 'HMP summary key')
    check_doc(t, set(lines[1].split()), doc_names, 'monitor.md',
              'HMP column')


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    qemu = sys.argv[1] if len(sys.argv) > 1 else os.environ.get('HYBRID_QEMU')
    docs = (sys.argv[2] if len(sys.argv) > 2 else
            os.path.join(here, '..', '..', 'docs'))
    t = Tap()
    self_test(t)
    if t.ok(qemu and os.access(qemu, os.X_OK),
            'the emulator is given (argv[1] or $HYBRID_QEMU) and executable',
            'emulator: %r' % qemu):
        check_properties(t, qemu, docs)
        check_monitor(t, qemu, docs)
    t.done()


if __name__ == '__main__':
    main()
