#!/usr/bin/env python3
"""The structure rules of ARCHITECTURE.md, checked on every make check:

- levels: a file includes only headers of its own folder or of a lower
  level, never a folder of the same level or above
      core < snapshot, vhdwriter, fs, guest < layout < fixup < machine
           < transfer < tools
- sizes: no .c file over 700 lines, no function over 100 lines, and no
  function of a command (tools/cmd_*.c) over 80 lines.

Usage: tests/check_structure.py [ROOT]   (exit 1 and a list when broken)
"""
import os
import re
import sys

LEVELS = {
    'core': 0,
    'snapshot': 1, 'vhdwriter': 1, 'fs': 1, 'guest': 1,
    'layout': 2,
    'fixup': 3,
    'machine': 4,
    'transfer': 5,
    'tools': 6,
}
MAX_FILE = 700
MAX_FUNC = 100
MAX_COMMAND_FUNC = 80

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def sources(root):
    for folder in LEVELS:
        d = os.path.join(root, folder)
        for dirpath, _, names in os.walk(d):
            for n in sorted(names):
                if n.endswith(('.c', '.h', '.S', '.inc')):
                    yield os.path.relpath(os.path.join(dirpath, n), root)


def resolve(root, path, name):
    """Where #include "name" in path lands: beside path, else from the root
    (the build passes -I.)."""
    here = os.path.normpath(os.path.join(os.path.dirname(path), name))
    if os.path.exists(os.path.join(root, here)):
        return here
    if os.path.exists(os.path.join(root, name)):
        return os.path.normpath(name)
    return None


def check_levels(root):
    problems = []
    for path in sources(root):
        folder = path.split('/')[0]
        with open(os.path.join(root, path), errors='replace') as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = resolve(root, path, m.group(1))
                if target is None:
                    problems.append('%s:%d: #include "%s" is not in the tree' % (path, lineno, m.group(1)))
                    continue
                tfolder = target.split('/')[0]
                if tfolder == folder:
                    continue
                if tfolder not in LEVELS:
                    problems.append('%s:%d: includes %s, outside the source folders' % (path, lineno, target))
                elif LEVELS[tfolder] >= LEVELS[folder]:
                    way = 'sideways' if LEVELS[tfolder] == LEVELS[folder] else 'up'
                    problems.append('%s:%d: includes %s: %s/ (level %d) may not include %s/ (level %d), %s'
                                    % (path, lineno, target, folder, LEVELS[folder], tfolder,
                                       LEVELS[tfolder], way))
    return problems


def functions(text):
    """(name, first line, line count) of each function definition: the
    project's style opens a body with '{' alone in column 0 and closes it
    with '}' in column 0."""
    lines = text.split('\n')
    out = []
    start = None
    for i, line in enumerate(lines):
        if line == '{' and start is None:
            # The signature ends on the line before; its name is the last
            # identifier before the first '(' of the declaration.
            j = i - 1
            while j > 0 and '(' not in lines[j]:
                j -= 1
            m = re.search(r'([A-Za-z_][A-Za-z_0-9]*)\s*\(', lines[j])
            start = (m.group(1) if m else '?', j)
        elif line.startswith('}') and start is not None:
            name, first = start
            out.append((name, first + 1, i - first + 1))
            start = None
    return out


def check_sizes(root):
    problems = []
    for path in sources(root):
        if not path.endswith('.c'):
            continue
        with open(os.path.join(root, path), errors='replace') as f:
            text = f.read()
        n = text.count('\n')
        if n > MAX_FILE:
            problems.append('%s: %d lines, over %d' % (path, n, MAX_FILE))
        command = re.match(r'tools/cmd_[^/]*\.c$', path)
        limit = MAX_COMMAND_FUNC if command else MAX_FUNC
        for name, first, count in functions(text):
            if count > limit:
                problems.append('%s:%d: %s() is %d lines, over %d%s'
                                % (path, first, name, count, limit,
                                   ' (a command: parse, then run)' if command else ''))
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..')
    problems = check_levels(root) + check_sizes(root)
    for p in problems:
        print('structure: ' + p)
    if problems:
        print('structure: %d problem(s); ARCHITECTURE.md says how the folders stack' % len(problems))
        return 1
    print('structure: levels and sizes hold')
    return 0


if __name__ == '__main__':
    sys.exit(main())
