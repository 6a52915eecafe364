#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A strict checker of the Prometheus text exposition format 0.0.4, for hosts without promtool.

Usage: prom_check.py [FILE]   (stdin without FILE). Prints one line per problem and exits 1 when there
is any, 0 when clean. Checks what `promtool check metrics` and the format's parser enforce, and a few
of promtool's lint rules:
  - valid UTF-8, ends with a newline, no blank lines;
  - per family: at most one HELP and one TYPE, HELP before TYPE, both before its samples, its samples
    contiguous (a family is never reopened), HELP text present;
  - metric and label names, quoted label values with only \\\\ \\" \\n escapes, no repeated label,
    values (floats, +Inf, -Inf, NaN), optional integer timestamp, no series twice;
  - counters are named *_total (lint) and only counters are; samples of a histogram are NAME_bucket
    (with le), NAME_sum and NAME_count; per label set the le bounds ascend, counts are cumulative
    (non-decreasing), le="+Inf" is present and equals NAME_count;
  - no negative counter values.
"""
import math
import re
import sys

NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*')
LABEL = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*')
TYPES = {'counter', 'gauge', 'histogram', 'summary', 'untyped'}


def parse_value(s):
    if s in ('+Inf', 'Inf'):
        return math.inf
    if s == '-Inf':
        return -math.inf
    if s == 'NaN':
        return math.nan
    if not re.fullmatch(r'[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?', s):
        raise ValueError('bad value %r' % s)
    return float(s)


def parse_sample(line):
    """(name, ((label, value), ...), value) or raises ValueError."""
    m = NAME.match(line)
    if not m:
        raise ValueError('bad metric name')
    name, i, labels = m.group(0), m.end(), []
    if i < len(line) and line[i] == '{':
        i += 1
        while True:
            if line[i] == '}':
                i += 1
                break
            m = LABEL.match(line, i)
            if not m:
                raise ValueError('bad label name at column %d' % i)
            lname, i = m.group(0), m.end()
            if lname.startswith('__'):
                raise ValueError('reserved label name %s' % lname)
            if line[i:i + 2] != '="':
                raise ValueError('expected =" after label %s' % lname)
            i += 2
            val = []
            while True:
                if i >= len(line):
                    raise ValueError('unterminated label value')
                c = line[i]
                if c == '\\':
                    e = line[i + 1:i + 2]
                    if e not in ('\\', '"', 'n'):
                        raise ValueError('bad escape \\%s' % e)
                    val.append('\n' if e == 'n' else e)
                    i += 2
                elif c == '"':
                    i += 1
                    break
                else:
                    val.append(c)
                    i += 1
            if lname in dict(labels):
                raise ValueError('label %s twice' % lname)
            labels.append((lname, ''.join(val)))
            if line[i] == ',':
                i += 1
            elif line[i] != '}':
                raise ValueError('expected , or } at column %d' % i)
    if line[i:i + 1] != ' ':
        raise ValueError('expected one space before the value')
    parts = line[i + 1:].split(' ')
    if len(parts) > 2 or (len(parts) == 2 and not re.fullmatch(r'-?\d+', parts[1])):
        raise ValueError('bad value or timestamp')
    return name, tuple(labels), parse_value(parts[0])


def check(data):
    errs = []
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as e:
        return ['not UTF-8: %s' % e]
    if text and not text.endswith('\n'):
        errs.append('does not end with a newline')
    help_, type_, done, series = {}, {}, set(), set()
    cur = None
    hist = {}  # (family, labels without le) -> {'b': [(le, v)], 'count': v}

    def family_of(name):
        for suf in ('_bucket', '_sum', '_count'):
            if name.endswith(suf) and type_.get(name[:-len(suf)]) in ('histogram', 'summary'):
                return name[:-len(suf)]
        return name

    def open_family(fam, n):
        nonlocal cur
        if fam != cur:
            if fam in done:
                errs.append('%d: family %s reopened' % (n, fam))
            if cur:
                done.add(cur)
            cur = fam

    for n, line in enumerate(text.split('\n')[:-1] if text.endswith('\n') else text.split('\n'), 1):
        if line == '':
            errs.append('%d: blank line' % n)
            continue
        if line.startswith('#'):
            m = re.fullmatch(r'# (HELP|TYPE) (\S+)(?: (.*))?', line)
            if not m:
                continue  # other comments are allowed
            kind, fam, rest = m.group(1), m.group(2), m.group(3) or ''
            if not NAME.fullmatch(fam):
                errs.append('%d: bad metric name %r' % (n, fam))
            open_family(fam, n)
            if kind == 'HELP':
                if fam in help_ or fam in type_:
                    errs.append('%d: HELP for %s twice or after TYPE' % (n, fam))
                if not rest.strip():
                    errs.append('%d: empty HELP for %s' % (n, fam))
                help_[fam] = rest
            else:
                if fam in type_:
                    errs.append('%d: TYPE for %s twice' % (n, fam))
                if rest not in TYPES:
                    errs.append('%d: bad type %r' % (n, rest))
                if fam not in help_:
                    errs.append('%d: %s has no HELP before its TYPE' % (n, fam))
                type_[fam] = rest
                if rest == 'counter' and not fam.endswith('_total'):
                    errs.append('%d: counter %s should end in _total' % (n, fam))
                if rest != 'counter' and fam.endswith('_total'):
                    errs.append('%d: non-counter %s ends in _total' % (n, fam))
            continue
        try:
            name, labels, v = parse_sample(line)
        except (ValueError, IndexError) as e:
            errs.append('%d: %s: %r' % (n, e, line[:120]))
            continue
        fam = family_of(name)
        if fam not in type_:
            errs.append('%d: sample of %s before its TYPE' % (n, fam))
        open_family(fam, n)
        key = (name, tuple(sorted(labels)))
        if key in series:
            errs.append('%d: series twice: %r' % (n, line[:120]))
        series.add(key)
        t = type_.get(fam)
        if t == 'counter' and v < 0:
            errs.append('%d: negative counter' % n)
        if t == 'histogram':
            rest = tuple(sorted(l for l in labels if l[0] != 'le'))
            h = hist.setdefault((fam, rest), {'b': [], 'count': None, 'line': n})
            if name == fam + '_bucket':
                le = dict(labels).get('le')
                if le is None:
                    errs.append('%d: bucket without le' % n)
                    continue
                h['b'].append((parse_value(le), v))
            elif name == fam + '_count':
                h['count'] = v
            elif name != fam + '_sum':
                errs.append('%d: %s is not a histogram sample name' % (n, name))
        elif t in ('counter', 'gauge', 'untyped') and name != fam:
            errs.append('%d: sample %s in family %s' % (n, name, fam))
    for (fam, rest), h in hist.items():
        les = [b[0] for b in h['b']]
        where = '%s%s (line %d)' % (fam, dict(rest), h['line'])
        if les != sorted(les) or len(set(les)) != len(les):
            errs.append('%s: le bounds not ascending' % where)
        counts = [b[1] for b in h['b']]
        if any(b < a for a, b in zip(counts, counts[1:])):
            errs.append('%s: bucket counts not cumulative' % where)
        if not les or les[-1] != math.inf:
            errs.append('%s: no le="+Inf" bucket' % where)
        elif h['count'] is None or h['count'] != counts[-1]:
            errs.append('%s: _count %s != +Inf bucket %s' % (where, h['count'], counts[-1]))
    return errs


def main():
    data = open(sys.argv[1], 'rb').read() if len(sys.argv) > 1 else sys.stdin.buffer.read()
    errs = check(data)
    for e in errs:
        print(e)
    return 1 if errs else 0


if __name__ == '__main__':
    sys.exit(main())
